#!/usr/bin/env node
// Builds the CLI as it ships: one ES module, dist/cli.js, with the npm dependencies left as imports
// (they install beside it from package.json). The source imports its own modules without a file
// extension, which Forge's bundler needs and Node's own ESM loader cannot follow, so the CLI is
// bundled rather than compiled file by file. Type checking is `npm run typecheck`'s job, not this one's.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/cli.js`;

await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  packages: 'external',
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
