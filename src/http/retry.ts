/**
 * Retries for calls to Bitbucket and Valohai: capped exponential backoff with full jitter, bounded in
 * attempts and in total time. Both clients share this so their behaviour under load is the same.
 *
 * Policy (each client's `isRetryable` applies it to its own typed errors):
 * - Never retried: 400, 401, 403, 404, 410, 422. Repeating them gives the same answer and, for
 *   401/403, only burns rate limit on credentials that are known to be wrong.
 * - Retried: 429, 500, 502, 503, 504; network failures (connection reset/refused, timeouts, socket hang
 *   up, fetch failed); a 2xx whose JSON body does not parse, when the call is safe to repeat.
 */

/** Statuses that are never retried: the same request gets the same answer. */
export const NEVER_RETRIED_STATUSES: readonly number[] = [400, 401, 403, 404, 410, 422];

/** Statuses that are retried: overload, rate limit or a passing server fault. */
export const RETRIED_STATUSES: readonly number[] = [429, 500, 502, 503, 504];

export function isRetryableStatus(status: number): boolean {
  return RETRIED_STATUSES.includes(status);
}

export interface RetryInfo {
  /** The attempt that just failed (1 = the first call). */
  attempt: number;
  /** How long the next attempt waits. */
  delayMs: number;
  error: unknown;
}

export interface RetryOptions {
  /** Calls at most, the first included (default 5). */
  maxAttempts?: number;
  /** Backoff cap of the first retry; it doubles with each retry (default 250). */
  baseDelayMs?: number;
  /** No single wait is longer than this, a server's Retry-After included (default 8000). */
  maxDelayMs?: number;
  /** No retry starts a wait that would end later than this after the first call (default 30000). */
  maxTotalMs?: number;
  /** Whether a failure may be retried. Errors carrying `retryAfterSeconds` have that wait honoured. */
  isRetryable: (err: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1); the jitter source (default Math.random). */
  random?: () => number;
  /** Milliseconds clock for the total-time bound (default Date.now). */
  now?: () => number;
  /** Told before each wait; never given anything but the error the call threw. */
  onRetry?: (info: RetryInfo) => void;
}

export const RETRY_DEFAULTS = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxTotalMs: 30000,
} as const;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The Retry-After wait an error carries, in seconds, if any. */
export function retryAfterSecondsOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * A `Retry-After` header as seconds: either delta-seconds or an HTTP date. Undefined when absent or
 * unreadable, so the caller falls back to its own backoff.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/**
 * The wait before the retry that follows failed attempt `attempt`: full jitter over
 * [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))), or the server's Retry-After capped by maxDelayMs.
 */
export function backoffDelay(
  attempt: number,
  opts: { baseDelayMs: number; maxDelayMs: number; random: () => number },
  retryAfterSeconds?: number,
): number {
  if (retryAfterSeconds !== undefined) return Math.min(opts.maxDelayMs, Math.round(retryAfterSeconds * 1000));
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(opts.random() * cap);
}

/**
 * Runs `fn` until it succeeds, fails with an error `isRetryable` refuses, runs out of attempts, or the
 * next wait would overrun `maxTotalMs`. Throws the last error unchanged, so callers see the same typed
 * error whether or not retries happened.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? RETRY_DEFAULTS.maxAttempts));
  const baseDelayMs = opts.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs;
  const maxDelayMs = opts.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs;
  const maxTotalMs = opts.maxTotalMs ?? RETRY_DEFAULTS.maxTotalMs;
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const start = now();

  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= maxAttempts || !opts.isRetryable(err)) throw err;
      const delayMs = backoffDelay(attempt, { baseDelayMs, maxDelayMs, random }, retryAfterSecondsOf(err));
      if (now() - start + delayMs > maxTotalMs) throw err;
      opts.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}
