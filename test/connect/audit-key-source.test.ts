// The audit says which kind of key each connection has: one the app or the CLI made, or one made in Valohai.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditKey, connectionIndex } from '../../src/connect/audit-keys';
import type { ConnectionRecord } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';

test("a connection's key made in Valohai is audited as such; the app's as the app's", async () => {
  const [made, given] = await Promise.all([generateKeyPair({ type: 'ed25519' }), generateKeyPair({ type: 'ed25519' })]);
  const record = (repository: string, publicKey: string, keySource?: 'valohai') =>
    ({ repository, projectId: `p-${repository}`, projectName: repository.split('/')[1], publicKey, retired: [], ...(keySource ? { keySource } : {}) }) as unknown as ConnectionRecord;
  const index = connectionIndex([record('acme/app-made', made.publicKey), record('acme/valohai-made', given.publicKey, 'valohai')]);
  const now = new Date();
  const audit = (publicKey: string) => auditKey('acme/x', { id: 1, key: publicKey, label: 'a key', lastUsed: now.toISOString() }, index, now, 90);
  assert.equal(audit(made.publicKey).connection?.keySource, 'app');
  assert.equal(audit(given.publicKey).connection?.keySource, 'valohai');
});
