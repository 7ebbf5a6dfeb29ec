#!/usr/bin/env node
// Packs the CLI as it ships: `node scripts/pack-cli.mjs [--destination DIR] [--no-build]` builds
// dist/cli.js, copies it with the README, the LICENSE and a package.json made for installing into a
// fresh folder, and runs `npm pack` there. The shipped package.json keeps what an install reads (name,
// version, bin, files, runtime dependencies) and drops the development scripts: `prepare` builds from
// sources the tarball does not hold, and npm warns about an install script it would run. Prints the
// tarball's path on the last line.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf('--destination');
const destination = resolve(at >= 0 && args[at + 1] ? args[at + 1] : root);

if (!args.includes('--no-build')) execFileSync(process.execPath, [join(root, 'scripts/build-cli.mjs')], { stdio: 'inherit' });

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const KEEP = ['name', 'version', 'description', 'license', 'private', 'type', 'engines', 'bin', 'files', 'dependencies'];
const shipped = Object.fromEntries(KEEP.filter((k) => pkg[k] !== undefined).map((k) => [k, pkg[k]]));

const stage = mkdtempSync(join(tmpdir(), 'vb-stage-'));
try {
  mkdirSync(join(stage, 'dist'));
  copyFileSync(join(root, 'dist/cli.js'), join(stage, 'dist/cli.js'));
  for (const file of ['README.md', 'LICENSE']) copyFileSync(join(root, file), join(stage, file));
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(shipped, null, 2)}\n`);
  mkdirSync(destination, { recursive: true });
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: stage, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  process.stdout.write(`${join(destination, info.filename)}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
