/**
 * The cold start of a bundle: loaded in fresh `node` processes, alternated with processes that load
 * nothing, so that both see the same load from the rest of the machine.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, row, type BenchRow } from './lib';

const CHILD_TIMEOUT_MS = 30_000;

/**
 * Times the load from inside the child, so that process start-up stays out of the number, and
 * reports failure as data: a bundle that cannot load outside Forge is a finding, not a crash.
 * `import` for an ES module; `require` for CommonJS, as Forge's runtime loads a deployed bundle.
 */
const probe = (load: string) => `const t0 = performance.now();
let out;
try {
  const mod = ${load};
  out = { loadMs: performance.now() - t0, exports: Object.keys(mod).sort() };
} catch (err) {
  out = { error: err instanceof Error ? err.name + ': ' + err.message : String(err) };
}
process.stdout.write('\\n' + JSON.stringify(out) + '\\n');
`;

interface ProbeResult {
  loadMs?: number;
  exports?: string[];
  error?: string;
}

interface ChildRun {
  wallMs: number;
  stdout: string;
}

function runNode(args: string[]): Promise<ChildRun> {
  const env = { ...process.env };
  // The bench itself runs under `--import tsx`; the children must be plain node, as Forge's is.
  delete env.NODE_OPTIONS;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, timeout: CHILD_TIMEOUT_MS }, (err, stdout, stderr) => {
      const wallMs = performance.now() - t0;
      if (err) reject(new Error(`node ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve({ wallMs, stdout });
    });
  });
}

function parseProbe(stdout: string): ProbeResult {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as ProbeResult;
  } catch {
    return { error: `the probe printed no result (last line: ${JSON.stringify(last.slice(0, 200))})` };
  }
}

export interface ColdLoad {
  /** Time of the load itself, inside each child. */
  inside: number[];
  /** Wall time of the children that load the bundle, and of those that load nothing. */
  wall: number[];
  emptyWall: number[];
  exports: string[];
  failure?: string;
}

export async function measureColdLoad(opts: { file: string; kind: 'import' | 'require'; workDir: string; runs: number; warmup: number }): Promise<ColdLoad> {
  const probeFile = join(opts.workDir, opts.kind === 'import' ? 'probe.mjs' : 'probe.cjs');
  const empty = join(opts.workDir, 'empty.mjs');
  await writeFile(probeFile, probe(opts.kind === 'import' ? 'await import(process.argv[2])' : 'require(process.argv[2])'));
  await writeFile(empty, '');
  const target = opts.kind === 'import' ? pathToFileURL(opts.file).href : opts.file;
  const out: ColdLoad = { inside: [], wall: [], emptyWall: [], exports: [] };
  for (let i = 0; i < opts.warmup + opts.runs; i++) {
    const withLoad = await runNode([probeFile, target]);
    const bare = await runNode([empty]);
    const result = parseProbe(withLoad.stdout);
    if (result.error !== undefined || result.loadMs === undefined) {
      out.failure = result.error ?? 'the probe reported no time';
      break;
    }
    out.exports = result.exports ?? [];
    if (i < opts.warmup) continue;
    out.inside.push(result.loadMs);
    out.wall.push(withLoad.wallMs);
    out.emptyWall.push(bare.wallMs);
  }
  return out;
}

/** The three rows every cold-load section shows; `extra` goes on the first. */
export function coldLoadRows(load: ColdLoad, names: { load: string; process: string }, extra?: BenchRow['extra']): BenchRow[] {
  return [
    row(names.load, load.inside, extra),
    row(names.process, load.wall, { 'over empty start (ms)': Number((median(load.wall) - median(load.emptyWall)).toFixed(1)) }),
    row('node process start, empty script', load.emptyWall),
  ];
}
