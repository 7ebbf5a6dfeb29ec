/**
 * `npm run bench`: every benchmark, printed as tables and written to bench/results/<date>.json.
 * A benchmark, not a test: it measures and reports; it never fails on a number.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchBusy } from './busy';
import { benchConnect } from './connect';
import { benchFleet } from './fleet';
import { benchForgeBundle } from './forge-bundle';
import { benchHealth } from './health';
import { benchKeygen } from './keygen';
import type { BenchSection } from './lib';
import { benchPageSize } from './page-size';
import { benchPreviewConnect } from './preview-connect';
import { benchPreviewRender } from './preview-render';
import { benchRequests } from './requests';
import { benchResolverImport } from './resolver-import';

/** Section names choose what runs; `--flags` go to every section (`npm run bench -- busy --scaled`). */
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const flags = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const benches: [string, (flags: string[]) => Promise<BenchSection>][] = [
  ['keygen', benchKeygen],
  ['connect', benchConnect],
  ['page-size', benchPageSize],
  ['resolver-import', benchResolverImport],
  ['forge-bundle', benchForgeBundle],
  ['preview-render', benchPreviewRender],
  ['preview-connect', benchPreviewConnect],
  ['requests', benchRequests],
  ['health', benchHealth],
  ['fleet', benchFleet],
  ['busy', benchBusy],
];

function table(section: BenchSection): string {
  const extraKeys = [...new Set(section.rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  // A section of sizes or counts has no samples: its rows say runs 0, and the time columns would be noise.
  const timed = section.rows.some((r) => r.runs > 0);
  const head = ['', ...(timed ? ['runs', 'median ms', 'p95 ms'] : []), ...extraKeys];
  const body = section.rows.map((r) => [
    r.name,
    ...(timed ? [String(r.runs), r.medianMs.toFixed(2), r.p95Ms.toFixed(2)] : []),
    ...extraKeys.map((k) => String(r.extra?.[k] ?? '')),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [`## ${section.title}`, line(head), ...body.map(line), ...section.notes.map((n) => `- ${n}`)].join('\n');
}

const sections: BenchSection[] = [];
for (const [name, bench] of benches) {
  if (only.length && !only.includes(name)) continue;
  const section = await bench(flags);
  sections.push(section);
  console.log(`${table(section)}\n`);
}
const latest = new URL('./results/latest.md', import.meta.url);

/** latest.md after a run of some sections keeps the other sections' last figures. */
async function latestBlocks(): Promise<string[]> {
  const fresh = new Map(sections.map((s) => [s.title, table(s)]));
  if (!only.length) return [...fresh.values()];
  const previous = await readFile(latest, 'utf8').catch(() => '');
  const kept = previous
    .split(/\n(?=## )/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const title = block.slice(3, block.indexOf('\n') < 0 ? undefined : block.indexOf('\n'));
      const replaced = fresh.get(title);
      fresh.delete(title);
      return replaced ?? block;
    });
  return [...kept, ...fresh.values()];
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/${stamp}.json`, import.meta.url);
await writeFile(
  file,
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, sections }, null, 2)}\n`,
);
await writeFile(latest, `${(await latestBlocks()).join('\n\n')}\n`);
console.log(`Results written to bench/results/${stamp}.json and bench/results/latest.md`);
