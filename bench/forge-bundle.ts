/**
 * The functions as `forge deploy` ships them: the bundle Forge's own bundler makes of the manifest's
 * handlers (test/forge-bundle/bundle.ts drives it as deploy does), its size raw and gzipped, and its
 * cold start: require()d in fresh `node` processes, as Forge's runtime loads it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bundleWithForge, splitHandler } from '../test/forge-bundle/bundle';
import { coldLoadRows, measureColdLoad } from './cold-load';
import type { BenchRow, BenchSection } from './lib';

const RUNS = 15;
const WARMUP = 1;

const kib = (bytes: number) => Number((bytes / 1024).toFixed(1));

export async function benchForgeBundle(): Promise<BenchSection> {
  const bundle = await bundleWithForge();
  const work = await mkdtemp(join(tmpdir(), 'vb-bench-forge-bundle-'));
  try {
    const modules = [...new Set(bundle.report.handlers.map((h) => splitHandler(h).module))];
    const functions = bundle.report.handlers.map((h) => splitHandler(h).func);
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const bundlerVersion = JSON.parse(await readFile(new URL('../node_modules/@forge/bundler/package.json', import.meta.url), 'utf8')) as { version: string };
    for (const module of modules) {
      const file = bundle.fileOf(module);
      const bytes = await readFile(file);
      const map = bundle.report.files.find((f) => f.path === `${module}.cjs.map`);
      const sizes = { 'raw KiB': kib(bytes.length), 'gzip KiB': kib(gzipSync(bytes, { level: 9 }).length) };
      const load = await measureColdLoad({ file, kind: 'require', workDir: work, runs: RUNS, warmup: WARMUP });
      if (load.failure) {
        rows.push({ name: `${module}.cjs`, runs: 0, medianMs: Number.NaN, p95Ms: Number.NaN, extra: sizes });
        notes.push(`${module}.cjs does not load outside Forge: ${load.failure}. Loading must not need Forge's runtime.`);
        continue;
      }
      rows.push(...coldLoadRows(load, { load: `cold require of ${module}.cjs`, process: 'node process start + require' }, sizes));
      const missing = functions.filter((f) => !load.exports.includes(f));
      notes.push(
        `${module}.cjs exports ${load.exports.join(', ')}${missing.length ? ` (missing what manifest.yml names: ${missing.join(', ')})` : ''}` +
          `; its source map (${map ? `${kib(map.bytes)} KiB` : 'none'}) ships beside it and is not counted.`,
      );
    }
    notes.push(
      `Bundled by @forge/bundler ${bundlerVersion.version} (what Forge CLI 13.3.0 uses) exactly as \`forge deploy\` calls it: ` +
        `webpack in production mode, not minified, CommonJS for node; node_modules packages inside: ${bundle.report.modules.length}. ` +
        `Bundling took ${(bundle.report.bundleMs / 1000).toFixed(1)} s. gzip is node:zlib at level 9.`,
      `"cold require" is timed inside each fresh process around \`require()\` (read, compile, evaluate), with no Forge ` +
        `globals installed; the process rows are wall times seen by the parent. ${RUNS} runs each, alternated, after ` +
        `${WARMUP} warm-up, on node ${process.version} (Forge runs nodejs22.x). Compare the vite-built ESM bundle of the section ` +
        `"cold import of the resolver bundle": same code, another bundler.`,
      // Other work on the machine stretches every time here, the empty start included.
      `Load average when the timing ended: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} CPUs.`,
    );
    return { title: "Forge functions: the bundle Forge's bundler makes (what `forge deploy` ships)", rows, notes };
  } finally {
    await rm(work, { recursive: true, force: true });
    await bundle.remove();
  }
}
