// Which repositories a bulk action leaves alone, and why: the reason the plan dialog shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason } from '../../src/forge/fleet/batch-plan';
import type { StoredConnection } from '../../src/forge/store/records';

const connection = (keySource: 'app' | 'valohai' | undefined): StoredConnection =>
  ({ state: 'connected', movedAway: null, record: { keySource } }) as unknown as StoredConnection;

test('a bulk rotate skips a connection whose key was made in Valohai, naming how to rotate it', () => {
  assert.equal(
    skipReason('rotate', connection('valohai')),
    'its key was made in Valohai: rotate it from its own page, with a new key generated in Valohai',
  );
  assert.equal(skipReason('rotate', connection('app')), null);
  assert.equal(skipReason('rotate', connection(undefined)), null, 'connections made before key sources were recorded are the app\'s');
});

test('verify and disconnect in bulk take connections whose key was made in Valohai', () => {
  assert.equal(skipReason('verify', connection('valohai')), null);
  assert.equal(skipReason('disconnect', connection('valohai')), null);
});
