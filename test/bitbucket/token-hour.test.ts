import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addSpend,
  allowance,
  backoffUntil,
  emptyHour,
  fitsAt,
  mergeHours,
  noteTooMany,
  spentInHour,
  TOKEN_REQUESTS_PER_HOUR,
  UNATTENDED_SHARE,
} from '../../src/bitbucket/token-hour';

const at = (hhmm: string) => new Date(`2026-12-07T${hhmm}:00.000Z`);

describe('the token hour: a rolling hour of requests, by minute and kind', () => {
  it('sums what was spent in the last 60 minutes only', () => {
    let hour = addSpend(emptyHour(), at('10:00'), { interactive: 100 });
    hour = addSpend(hour, at('10:30'), { unattended: 200 });
    assert.deepEqual(spentInHour(hour, at('10:59')), { interactive: 100, unattended: 200, total: 300 });
    // 10:00's minute leaves the hour at 11:00.
    assert.deepEqual(spentInHour(hour, at('11:00')), { interactive: 0, unattended: 200, total: 200 });
    assert.equal(spentInHour(hour, at('11:30')).total, 0);
  });

  it('keeps at most the last hour of minutes when adding', () => {
    let hour = emptyHour();
    for (let m = 0; m < 180; m++) hour = addSpend(hour, new Date(at('08:00').getTime() + m * 60_000), { unattended: 1 });
    assert.equal(Object.keys(hour.minutes).length, 60);
    assert.equal(spentInHour(hour, at('10:59')).unattended, 60);
  });

  it('lets people use the whole hour and unattended work only its share', () => {
    const share = Math.floor(TOKEN_REQUESTS_PER_HOUR * UNATTENDED_SHARE);
    let hour = addSpend(emptyHour(), at('10:00'), { unattended: share - 10 });
    assert.equal(allowance(hour, at('10:01'), 'unattended'), 10);
    assert.equal(allowance(hour, at('10:01'), 'interactive'), TOKEN_REQUESTS_PER_HOUR - share + 10);
    // People's requests count against the whole hour, and so shrink what unattended work may take too.
    hour = addSpend(hour, at('10:02'), { interactive: TOKEN_REQUESTS_PER_HOUR - share + 5 });
    assert.equal(allowance(hour, at('10:03'), 'unattended'), 5);
    assert.equal(allowance(hour, at('10:03'), 'interactive'), 5);
  });

  it('says when a cost fits as minutes leave the hour, and never for more than the share', () => {
    let hour = addSpend(emptyHour(), at('10:00'), { unattended: 300 });
    hour = addSpend(hour, at('10:20'), { unattended: 300 });
    assert.deepEqual(fitsAt(hour, at('10:30'), 'unattended', 1), at('11:00'));
    assert.deepEqual(fitsAt(hour, at('10:30'), 'unattended', 301), at('11:20'));
    assert.deepEqual(fitsAt(hour, at('10:30'), 'interactive', 400), at('10:30'));
    assert.deepEqual(fitsAt(hour, at('10:30'), 'interactive', 401), at('11:00'));
    assert.equal(fitsAt(hour, at('10:30'), 'unattended', 601), null);
    assert.equal(fitsAt(hour, at('10:30'), 'interactive', 1001), null);
  });

  it('backs off after a 429 without Retry-After: 1, 2, 4, 8, then 15 minutes, unattended work only', () => {
    let hour = emptyHour();
    let now = at('10:00');
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      hour = noteTooMany(hour, now);
      const until = backoffUntil(hour, now);
      assert.ok(until);
      waits.push((until.getTime() - now.getTime()) / 60_000);
      assert.equal(allowance(hour, now, 'unattended'), 0);
      assert.equal(allowance(hour, now, 'interactive'), TOKEN_REQUESTS_PER_HOUR);
      now = until;
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 15, 15]);
    // A 429 while a wait lasts does not lengthen it.
    const inside = noteTooMany(hour, new Date(now.getTime() - 60_000));
    assert.equal(inside.backoffUntil, hour.backoffUntil);
    // An hour after the last wait, the next 429 starts from the shortest again.
    const later = new Date(now.getTime() + 61 * 60_000);
    const fresh = noteTooMany(hour, later);
    assert.equal((Date.parse(fresh.backoffUntil ?? '') - later.getTime()) / 60_000, 1);
  });

  it('an unattended cost fits no sooner than the wait ends', () => {
    const hour = noteTooMany(emptyHour(), at('10:00'));
    assert.deepEqual(fitsAt(hour, at('10:00'), 'unattended', 5), at('10:01'));
    assert.deepEqual(fitsAt(hour, at('10:00'), 'interactive', 5), at('10:00'));
  });

  it('merges what a writer added into what is stored, minute by minute, keeping the later wait', () => {
    const stored = addSpend(emptyHour(), at('10:00'), { interactive: 3 });
    let added = addSpend(emptyHour(), at('10:00'), { unattended: 2 });
    added = noteTooMany(addSpend(added, at('10:05'), { unattended: 1 }), at('10:05'));
    const merged = mergeHours(stored, added, at('10:06'));
    assert.deepEqual(spentInHour(merged, at('10:06')), { interactive: 3, unattended: 3, total: 6 });
    assert.equal(merged.backoffUntil, added.backoffUntil);
    assert.equal(mergeHours(merged, emptyHour(), at('10:06')).backoffUntil, added.backoffUntil);
  });
});
