// A key's age is said in whole days wherever it is shown or acted on (status, check, the pages, the
// schedule's rotations, the CLI's rotate --all): one rule, pinned here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageDays, keyAgeLevel, KEY_AGE_ALERT_DAYS, KEY_AGE_WARNING_DAYS } from '../../src/connect/index';

const now = new Date('2026-06-30T12:00:00Z');

test('whole days, counted down: a key made 179 days and 23 hours ago is 179 days old', () => {
  assert.equal(ageDays('2026-06-30T00:00:00Z', now), 0);
  assert.equal(ageDays(new Date(now.getTime() - 180 * 86_400_000 + 3_600_000).toISOString(), now), 179);
  assert.equal(ageDays(new Date(now.getTime() - 180 * 86_400_000).toISOString(), now), 180);
});

test('no time, or no readable one, is an unknown age; a time ahead of the clock is today', () => {
  assert.equal(ageDays(null, now), null);
  assert.equal(ageDays(undefined, now), null);
  assert.equal(ageDays('', now), null);
  assert.equal(ageDays('last spring', now), null);
  assert.equal(ageDays('2026-07-02T00:00:00Z', now), 0);
});

test('the levels start at their thresholds', () => {
  assert.equal(keyAgeLevel(KEY_AGE_WARNING_DAYS - 1), 'ok');
  assert.equal(keyAgeLevel(KEY_AGE_WARNING_DAYS), 'warning');
  assert.equal(keyAgeLevel(KEY_AGE_ALERT_DAYS - 1), 'warning');
  assert.equal(keyAgeLevel(KEY_AGE_ALERT_DAYS), 'alert');
});
