import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backoffDelay,
  isRetryableStatus,
  NEVER_RETRIED_STATUSES,
  parseRetryAfter,
  RETRIED_STATUSES,
  withRetry,
  type RetryInfo,
} from '../../src/http/retry';

class Flaky extends Error {
  constructor(
    readonly retryable: boolean,
    readonly retryAfterSeconds?: number,
  ) {
    super(retryable ? 'transient' : 'permanent');
  }
}

/** A fake clock whose sleep advances it, so total-time limits can be checked without waiting. */
function fakeTime() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
  };
}

const isRetryable = (e: unknown) => e instanceof Flaky && e.retryable;

describe('withRetry', () => {
  it('returns the first success without waiting', async () => {
    const time = fakeTime();
    let calls = 0;
    const out = await withRetry(async () => ++calls, { isRetryable, ...time });
    assert.equal(out, 1);
    assert.deepEqual(time.slept, []);
  });

  it('retries transient failures with exponential full-jitter backoff, then succeeds', async () => {
    const time = fakeTime();
    const attempts: number[] = [];
    const out = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 4) throw new Flaky(true);
        return 'ok';
      },
      { isRetryable, random: () => 0.5, ...time },
    );
    assert.equal(out, 'ok');
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    // caps 250, 500, 1000 (base 250, doubling), half of each with random() = 0.5
    assert.deepEqual(time.slept, [125, 250, 500]);
  });

  it('never waits longer than maxDelayMs', async () => {
    const time = fakeTime();
    await assert.rejects(
      withRetry(async () => {
        throw new Flaky(true);
      }, { isRetryable, random: () => 0.999999, maxAttempts: 10, maxTotalMs: 1e9, ...time }),
    );
    assert.equal(time.slept.length, 9);
    assert.ok(time.slept.every((ms) => ms <= 8000));
    assert.equal(Math.max(...time.slept), 7999);
  });

  it('gives up after maxAttempts and throws the last error itself', async () => {
    const time = fakeTime();
    const errors: Flaky[] = [];
    const err = await withRetry(async () => {
      const e = new Flaky(true);
      errors.push(e);
      throw e;
    }, { isRetryable, maxAttempts: 3, random: () => 0, ...time }).catch((e: unknown) => e);
    assert.equal(errors.length, 3);
    assert.equal(err, errors[2]);
  });

  it('does not retry what isRetryable refuses', async () => {
    const time = fakeTime();
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new Flaky(false);
      }, { isRetryable, ...time }),
      /permanent/,
    );
    assert.equal(calls, 1);
    assert.deepEqual(time.slept, []);
  });

  it('honours Retry-After, capped by maxDelayMs', async () => {
    const time = fakeTime();
    let calls = 0;
    await withRetry(async () => {
      calls++;
      if (calls === 1) throw new Flaky(true, 3);
      if (calls === 2) throw new Flaky(true, 3600);
      return 'ok';
    }, { isRetryable, random: () => 0, ...time });
    assert.deepEqual(time.slept, [3000, 8000]);
  });

  it('stops when the next wait would overrun maxTotalMs', async () => {
    const time = fakeTime();
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new Flaky(true, 4);
      }, { isRetryable, maxAttempts: 100, maxTotalMs: 10_000, ...time }),
    );
    // 4 s + 4 s fit in 10 s; a third 4 s wait would not
    assert.deepEqual(time.slept, [4000, 4000]);
    assert.equal(calls, 3);
  });

  it('tells onRetry about each wait', async () => {
    const time = fakeTime();
    const seen: RetryInfo[] = [];
    const first = new Flaky(true);
    let calls = 0;
    await withRetry(async () => {
      if (++calls === 1) throw first;
      return 1;
    }, { isRetryable, random: () => 0.25, onRetry: (i) => seen.push(i), ...time });
    assert.deepEqual(seen, [{ attempt: 1, delayMs: 62, error: first }]);
  });
});

describe('retry policy', () => {
  it('never retries 400, 401, 403, 404, 410, 422 and retries 429 and 5xx gateway errors', () => {
    assert.deepEqual([...NEVER_RETRIED_STATUSES], [400, 401, 403, 404, 410, 422]);
    for (const s of NEVER_RETRIED_STATUSES) assert.equal(isRetryableStatus(s), false, String(s));
    assert.deepEqual([...RETRIED_STATUSES], [429, 500, 502, 503, 504]);
    for (const s of RETRIED_STATUSES) assert.equal(isRetryableStatus(s), true, String(s));
    assert.equal(isRetryableStatus(501), false);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('120'), 120);
    assert.equal(parseRetryAfter(' 7 '), 7);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('computes full jitter below the doubling cap', () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 };
    assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffDelay(a, opts)), [99, 199, 399, 799, 999]);
    assert.equal(backoffDelay(3, { ...opts, random: () => 0 }), 0);
  });
});
