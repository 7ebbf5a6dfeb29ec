/**
 * What a cold start of the Forge functions costs before any handler runs: `src/forge/index.ts` (the
 * module behind `forge/index.resolver`, `forge/index.jobConsumer` and `forge/index.onPush`) bundled
 * with all its dependencies into one ESM file, then imported in fresh `node` processes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Rolldown } from 'vite';
import { coldLoadRows, measureColdLoad } from './cold-load';
import type { BenchRow, BenchSection } from './lib';

const RUNS = 15;
const WARMUP = 1;
const root = new URL('..', import.meta.url).pathname;
const ENTRY = 'src/forge/index.ts';
const BUNDLE = 'resolver.mjs';
const MANIFEST_EXPORTS = ['jobConsumer', 'onPush', 'resolver'];

/**
 * Vite 8's own build (rolldown) rather than esbuild: vite is a declared dev dependency while esbuild
 * is only tsx's, and in ESM output esbuild turns the CommonJS packages' `require('http')` and the like
 * (axios, @forge/api, node-forge) into a shim that throws "Dynamic require ... is not supported" on
 * first use, where rolldown backs them with `createRequire(import.meta.url)`, so the bundle really runs.
 * Not minified. `forge deploy` bundles with its own webpack setup, so this file stands in for that one.
 */
async function bundleResolver(outDir: string): Promise<{ chunk: Rolldown.OutputChunk; bundler: string }> {
  // Loaded here, not at the top: `npm run bench -- keygen` need not load vite.
  const { build, version } = await import('vite');
  const result = await build({
    configFile: false,
    envDir: false,
    root,
    logLevel: 'warn',
    mode: 'production',
    ssr: { noExternal: true, target: 'node' },
    build: {
      ssr: ENTRY,
      outDir,
      emptyOutDir: true,
      target: 'node22',
      minify: false,
      sourcemap: false,
      copyPublicDir: false,
      rolldownOptions: { output: { format: 'es', entryFileNames: BUNDLE, codeSplitting: false } },
    },
  });
  const outputs = Array.isArray(result) ? result : 'output' in result ? [result] : [];
  const chunks = outputs.flatMap((o) => o.output).filter((o): o is Rolldown.OutputChunk => o.type === 'chunk');
  const [chunk, ...more] = chunks;
  if (!chunk || more.length) throw new Error(`Bundling ${ENTRY} made ${chunks.length} chunks where one was expected.`);
  return { chunk, bundler: `vite ${version}` };
}

/** Bytes each package adds to the bundle, largest first (before gzip). */
function byPackage(chunk: Rolldown.OutputChunk): [string, number][] {
  const sizes = new Map<string, number>();
  for (const [id, mod] of Object.entries(chunk.modules)) {
    const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(id);
    const name = m?.[1] ?? (id.startsWith(join(root, 'src')) ? 'this app (src/)' : 'other');
    sizes.set(name, (sizes.get(name) ?? 0) + mod.renderedLength);
  }
  return [...sizes].sort((a, b) => b[1] - a[1]);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

export async function benchResolverImport(): Promise<BenchSection> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-bench-resolver-'));
  try {
    const { chunk, bundler } = await bundleResolver(dir);
    const bundlePath = join(dir, BUNDLE);
    const bytes = await readFile(bundlePath);
    const gzip = gzipSync(bytes, { level: 9 }).length;
    const load = await measureColdLoad({ file: bundlePath, kind: 'import', workDir: dir, runs: RUNS, warmup: WARMUP });
    const failure = load.failure;
    const exported = load.exports;

    const top = byPackage(chunk)
      .slice(0, 6)
      .map(([name, size]) => `${name} ${kib(size)}`)
      .join(', ');
    const notes = [
      `Bundle: ${ENTRY} and every dependency in one ESM file for node22 (node built-ins left external), ` +
        `${kib(bytes.length)} raw, ${kib(gzip)} gzip level 9; built with ${bundler}'s SSR build ` +
        `(rolldown), not minified; \`forge deploy\` bundles with webpack, so the deployed file differs somewhat.`,
      `Largest parts before gzip: ${top}.`,
    ];
    const rows: BenchRow[] = [];
    if (failure) {
      notes.push(
        `The bundle does not load outside Forge: ${failure}. Importing must not need Forge's runtime; ` +
          'whatever runs at module load (createForgePlatform() in src/forge/index.ts) has to defer that work to the first call.',
      );
    } else {
      const missing = MANIFEST_EXPORTS.filter((name) => !exported.includes(name));
      rows.push(...coldLoadRows(load, { load: 'cold import of resolver bundle', process: 'node process start + import' }));
      notes.push(
        `The import needs nothing from Forge's runtime: a plain node process with no Forge globals loads it and gets ` +
          `${exported.join(', ')}${missing.length ? ` (missing what manifest.yml names: ${missing.join(', ')})` : ''}; ` +
          'createForgePlatform() only builds closures, and @forge/api, @forge/kvs and @forge/events reach the runtime on first call.',
        `"cold import" is timed inside each fresh process around \`await import()\` (parse, link, evaluate); the ` +
          `process rows are wall times seen by the parent. ${RUNS} runs each, alternated, after ${WARMUP} warm-up, ` +
          `on node ${process.version} (Forge runs nodejs22.x); the file is in the OS page cache after the first run.`,
      );
    }
    return { title: 'Forge functions: cold import of the resolver bundle', rows, notes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
