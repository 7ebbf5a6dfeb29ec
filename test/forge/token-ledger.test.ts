import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenHourSpentError, TOKEN_REQUESTS_PER_HOUR, UNATTENDED_SHARE } from '../../src/bitbucket/index';
import { openTokenMeter, tokenAccount } from '../../src/forge/store/token-ledger';
import { MemoryRecordStore } from '../../dev/forge/memory-platform';
import { TestClock } from './support/fakes';

const SECRET = { email: 'Ops@Example.com' };

describe("the stored token's hour in app storage", () => {
  it('names a token user the same whatever the case or spaces of the email, and never stores the email', () => {
    assert.equal(tokenAccount({ email: ' ops@example.com ' }), tokenAccount(SECRET));
    assert.doesNotMatch(tokenAccount(SECRET), /ops|example/i);
  });

  it('counts in memory and writes once per flush, whatever the requests', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T10:00:00Z'));
    const store = new MemoryRecordStore(clock);
    const meter = await openTokenMeter(store, clock, SECRET, 'interactive');
    for (let i = 0; i < 40; i++) meter.take();
    const writesBefore = store.operations.filter((o) => o.op === 'set').length;
    await meter.flush();
    await meter.flush(); // nothing new: no write
    assert.equal(store.operations.filter((o) => o.op === 'set').length - writesBefore, 1);
    const again = await openTokenMeter(store, clock, SECRET, 'unattended');
    assert.equal(again.spent().interactive, 40);
  });

  it('two pieces of work flushing at once both count', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T10:00:00Z'));
    const store = new MemoryRecordStore(clock);
    const a = await openTokenMeter(store, clock, SECRET, 'unattended');
    const b = await openTokenMeter(store, clock, SECRET, 'interactive');
    for (let i = 0; i < 7; i++) a.take();
    for (let i = 0; i < 5; i++) b.take();
    await Promise.all([a.flush(), b.flush()]);
    const read = await openTokenMeter(store, clock, SECRET, 'interactive');
    assert.deepEqual(read.spent(), { interactive: 5, unattended: 7, total: 12 });
  });

  it("refuses unattended work past its share with the time it fits, while a person's click still goes", async () => {
    const clock = new TestClock(Date.parse('2026-12-07T10:00:00Z'));
    const store = new MemoryRecordStore(clock);
    const share = Math.floor(TOKEN_REQUESTS_PER_HOUR * UNATTENDED_SHARE);
    const checks = await openTokenMeter(store, clock, SECRET, 'unattended');
    for (let i = 0; i < share; i++) checks.take();
    const err = (() => {
      try {
        checks.take();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof TokenHourSpentError);
    assert.equal(err.until?.toISOString(), '2026-12-07T11:00:00.000Z');
    assert.match(err.message, /600 by automatic work/);
    assert.match(err.message, /about 11:00 UTC/);
    await checks.flush();
    const person = await openTokenMeter(store, clock, SECRET, 'interactive');
    assert.equal(person.remaining(), TOKEN_REQUESTS_PER_HOUR - share);
    person.take();
  });

  it('a 429 makes unattended work wait and keeps the count of the request that met it', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T10:00:00Z'));
    const store = new MemoryRecordStore(clock);
    const meter = await openTokenMeter(store, clock, SECRET, 'unattended');
    meter.take();
    meter.noteAnswer(429, { 'content-type': 'text/plain' });
    assert.equal(meter.tooManyUntil()?.toISOString(), '2026-12-07T10:01:00.000Z');
    assert.throws(() => meter.take(), (e: unknown) => e instanceof TokenHourSpentError && e.tooMany && /429/.test(e.message));
    await meter.flush();
    const next = await openTokenMeter(store, clock, SECRET, 'unattended');
    assert.equal(next.remaining(), 0);
    assert.equal(next.spent().unattended, 1);
    clock.advance(61_000);
    assert.ok(next.remaining() > 0);
  });

  it('keeps a count it could not write for the next flush', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T10:00:00Z'));
    const store = new MemoryRecordStore(clock);
    const meter = await openTokenMeter(store, clock, SECRET, 'interactive');
    meter.take();
    const set = store.set.bind(store);
    store.set = () => Promise.reject(new Error('storage unavailable'));
    await assert.rejects(meter.flush(), /storage unavailable/);
    meter.take();
    store.set = set;
    await meter.flush();
    assert.equal((await openTokenMeter(store, clock, SECRET, 'interactive')).spent().interactive, 2);
  });
});
