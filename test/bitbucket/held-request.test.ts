// A request made with the token that gets no answer within a resolver's time limit: Bitbucket holds a
// spent hour's requests about 30 s before its 429, so where the meter is told whose token it is, the
// timeout is that 429: the rate-limit message with the token's user and when live work resumes, the
// same wait a 429 starts, and no retry. Without that, or for a failure that is not a timeout, a network
// error stays a network error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addSpend,
  BitbucketClient,
  BitbucketNetworkError,
  BitbucketRateLimitError,
  createFetchTransport,
  emptyHour,
  hooked,
  meterRequests,
  mergeHours,
  TokenMeter,
  TokenRequestHeldError,
  type MeterOptions,
  type TokenHour,
  type TokenHourStore,
} from '../../src/bitbucket/index';
import { noteTooMany } from '../../src/bitbucket/token-hour';

const NOW = new Date('2026-12-07T10:00:00.000Z');

class MemoryHour implements TokenHourStore {
  constructor(private hour: TokenHour = emptyHour()) {}
  read(): Promise<TokenHour | undefined> {
    return Promise.resolve(this.hour);
  }
  add(added: TokenHour, now: Date): Promise<TokenHour> {
    this.hour = mergeHours(this.hour, added, now);
    return Promise.resolve(this.hour);
  }
}

/** A Bitbucket that holds every request until the caller gives up (`fails`: one that refuses the connection instead). */
function world(options: { meter?: MeterOptions; stored?: TokenHour; fails?: boolean } = {}) {
  const sent: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    sent.push(String(input));
    if (options.fails) return Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    // The caller's time limit (AbortSignal.timeout) does not keep the process alive; the hold does.
    const holding = setTimeout(() => undefined, 60_000);
    return new Promise((_resolve, reject) =>
      init?.signal?.addEventListener('abort', () => {
        clearTimeout(holding);
        reject(init.signal?.reason);
      }),
    );
  };
  const meter = new TokenMeter(new MemoryHour(options.stored), () => NOW, 'interactive');
  const transport = hooked(createFetchTransport({ baseUrl: 'https://bitbucket.test/2.0', email: 'ada@acme.test', apiToken: 'ATATT-held', fetch, timeoutMs: 30 }), meterRequests(meter, options.meter));
  // A resolver's two attempts.
  const client = new BitbucketClient({ transport, retry: { maxAttempts: 2, maxTotalMs: 10_000, sleep: () => Promise.resolve() } });
  return { sent, meter, client };
}

const failure = (p: Promise<unknown>) => p.then(() => assert.fail('expected a failure'), (err: unknown) => err);

describe("a held request, where the meter knows whose token it is", () => {
  test("is the rate limit, naming the token's user and when live work resumes, and is not asked again", async () => {
    const { sent, meter, client } = world({ meter: { heldAs: 'Ada Lovelace' } });
    await meter.open();
    const err = await failure(client.listAccessKeys('acme', 'trainer'));
    assert.ok(err instanceof TokenRequestHeldError, String(err));
    assert.ok(err instanceof BitbucketRateLimitError);
    assert.ok(!(err instanceof BitbucketNetworkError), 'not a network error');
    assert.equal(
      err.message,
      "Bitbucket is holding requests made with Ada Lovelace's API token, which is what it does when that user's hour of requests is spent. Live work resumes about 10:01 UTC.",
    );
    assert.equal(sent.length, 1, 'no retry of a held request');
    // The ledger keeps it as a 429: the same wait for automatic work, for the next page to show.
    assert.equal(meter.hour().backoffUntil, noteTooMany(emptyHour(), NOW).backoffUntil);
    assert.equal(meter.spent().total, 1);

    const next = await failure(client.getRepository('acme', 'trainer'));
    assert.ok(next instanceof TokenRequestHeldError);
    assert.equal(sent.length, 1, 'nothing more is sent once a request was held');
  });

  test("says the ledger's time when the hour, by the app's count, has room later than the wait ends", async () => {
    const stored = addSpend(emptyHour(), new Date('2026-12-07T09:30:00.000Z'), { interactive: 1000 });
    const { meter, client } = world({ meter: { heldAs: 'ada@acme.test' }, stored });
    await meter.open();
    // The hour is spent by the count: the meter refuses before sending, as it always has.
    const refused = await failure(client.listAccessKeys('acme', 'trainer'));
    assert.ok(!(refused instanceof TokenRequestHeldError));
    assert.match(String((refused as Error).message), /about 10:30 UTC/);

    const almost = addSpend(emptyHour(), new Date('2026-12-07T09:30:00.000Z'), { interactive: 999 });
    const second = world({ meter: { heldAs: 'ada@acme.test' }, stored: almost });
    await second.meter.open();
    const held = await failure(second.client.listAccessKeys('acme', 'trainer'));
    assert.ok(held instanceof TokenRequestHeldError);
    assert.match(held.message, /ada@acme\.test's API token.*Live work resumes about 10:30 UTC\./);
  });

  test('a refused connection is not a hold', async () => {
    const { sent, meter, client } = world({ meter: { heldAs: 'Ada Lovelace' }, fails: true });
    await meter.open();
    const err = await failure(client.listAccessKeys('acme', 'trainer'));
    assert.ok(err instanceof BitbucketNetworkError, String(err));
    assert.equal(err.networkCode, 'ECONNREFUSED');
    assert.equal(sent.length, 2, 'retried as network failures are');
    assert.equal(meter.hour().backoffUntil ?? null, null);
  });
});

test("a timeout where the meter is not told whose token it is stays a network error (a job's long limit)", async () => {
  const { sent, meter, client } = world();
  await meter.open();
  const err = await failure(client.listAccessKeys('acme', 'trainer'));
  assert.ok(err instanceof BitbucketNetworkError, String(err));
  assert.equal(err.networkCode, 'ETIMEDOUT');
  assert.equal(sent.length, 2);
  assert.equal(meter.hour().backoffUntil ?? null, null);
});
