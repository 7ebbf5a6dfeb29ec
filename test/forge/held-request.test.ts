// Bitbucket holds a request about 30 s before answering 429 once the token user's hour is spent, longer
// than a resolver may wait (Forge gives it 25 s). A resolver that meets such a hold answers within its
// time with whose token it is and when live work resumes, records the hold as the 429 it is (so the
// next page load says so rather than trying again), and gives away no secret and no stack trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aboutTime } from '../../src/bitbucket/index';
import { openTokenMeter } from '../../src/forge/store/token-ledger';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

/** Forge's limit on a resolver's answer. */
const RESOLVER_DEADLINE_MS = 25_000;

describe("a resolver meets Bitbucket holding the token's requests", () => {
  let h: Harness;
  const sent: SentRequest[] = [];
  // The stored token is Wes Writer's: his hour is spent while the app's own reads (as Ada) go on.
  const writer = { email: bb.writer.email, token: bb.writer.token };

  before(async () => {
    h = await startHarness({ rateLimitHoldMs: 30_000, record: (r) => sent.push(r) });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', writer, h.context('admin')));
    // Other tools of Wes's account spent the rest of his hour: Bitbucket now holds each of his requests, then answers 429.
    h.stack.bitbucket.spendHour(bb.writer.accountId);
  });
  // Closing the emulator lets its held requests go: nothing waits out the 30 s.
  after(() => h?.close());

  const timed = async <T>(run: () => Promise<T>): Promise<{ reply: T; ms: number }> => {
    const started = Date.now();
    const reply = await run();
    return { reply, ms: Date.now() - started };
  };
  const ledger = () => openTokenMeter(h.platform.store, h.platform.clock, writer, 'interactive');

  test("the set-up check answers in time with whose token and when live work resumes, and the ledger keeps it as a 429", async () => {
    const { reply, ms } = await timed(() => h.call('checkSetup', {}, h.context('admin')));
    assert.ok(ms < RESOLVER_DEADLINE_MS, `answered after ${ms} ms`);
    const error = errorOf(reply);
    assert.equal(error.code, 'rate-limited');
    const until = (await ledger()).hour().backoffUntil;
    assert.ok(until, 'the hold is recorded as a 429 is: a wait');
    assert.equal(
      error.message,
      `Bitbucket is holding requests made with Wes Writer's API token, which is what it does when that user's hour of requests is spent. Live work resumes ${aboutTime(new Date(until))}.`,
    );
    assert.match(error.fix, new RegExp(`Try again after ${aboutTime(new Date(until))}`));
    assert.doesNotMatch(JSON.stringify(reply), /network|did not answer|\n\s+at /i, 'not a network failure, and no stack trace');
  });

  test('the next page load says so from the ledger, sending nothing with the token', async () => {
    const before = sent.length;
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
    const notice = (page.setup.tokenNotices ?? []).find((n) => /Wes Writer/.test(n.message));
    assert.ok(notice, JSON.stringify(page.setup.tokenNotices));
    assert.match(notice.message, /turned the stored API token \(Wes Writer\) away.*held a request/);
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.ok(settings.bitbucket.hour?.automaticWorkWaitsUntil, 'automatic work waits, as after a 429');
    assert.deepEqual(sent.slice(before).filter((r) => r.via === 'token'), [], 'the pages sent nothing with the token');
  });

  test("checking a token before it is stored answers in time, naming that token's user", async () => {
    const { reply, ms } = await timed(() => h.call('saveBitbucketToken', writer, h.context('admin')));
    assert.ok(ms < RESOLVER_DEADLINE_MS, `answered after ${ms} ms`);
    const error = errorOf(reply);
    assert.equal(error.code, 'rate-limited');
    assert.match(error.message, /^Bitbucket is holding requests made with writer@acme\.test's API token, .* Live work resumes about \d\d:\d\d UTC\.$/);
  });

  test('no reply gave away a token', () => {
    assert.ok(assertNoSecrets(h.replies.map((r, i) => [`reply ${i + 1}`, r]), h.privateKeys, ALL_TOKENS) > 0);
  });
});
