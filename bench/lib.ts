/** Shared shapes and helpers for `npm run bench`. Benchmarks measure; tests never time anything. */

export interface BenchRow {
  name: string;
  /** Sample count behind the statistics. */
  runs: number;
  medianMs: number;
  p95Ms: number;
  /** Free-form extra columns (ratios, round trips, sizes). */
  extra?: Record<string, string | number>;
}

export interface BenchSection {
  title: string;
  rows: BenchRow[];
  /** Plain-language verdicts against the targets the issues set. */
  notes: string[];
}

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function median(samples: number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `fn` `runs` times (after `warmup` unmeasured runs) and returns wall times in milliseconds. */
export async function sample(fn: () => Promise<unknown> | unknown, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

export function row(name: string, samples: number[], extra?: BenchRow['extra']): BenchRow {
  return { name, runs: samples.length, medianMs: median(samples), p95Ms: percentile(samples, 95), extra };
}
