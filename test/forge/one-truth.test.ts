// One truth per connection on its page: the commit shown as Valohai's is the one the sync state is read
// from (what Valohai's last fetch found for the fetch reference), the health verdict never says Healthy
// beside a fetch that fails, and a token past its date is still warned about on the repository pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../src/forge/store/keys';
import type { StoredConnection, WorkspaceSummary } from '../../src/forge/store/records';
import type { HealthRecord } from '../../src/forge/store/health-records';
import { connectWithToken, PROJECTS, startHarness, storeAdminTokens, valueOf, type Harness } from './support/forge-fixture';

const REPO = 'datasets';
let h: Harness;
const ws = () => h.workspaceId.replace(/[{}]/g, '');
const connectionKey = () => keys.connection(ws(), h.repoUuid(REPO).replace(/[{}]/g, ''));

before(async () => {
  h = await startHarness();
  await storeAdminTokens(h);
  const job = await connectWithToken(h, REPO, PROJECTS.datasets.id);
  assert.ok(job.status === 'done' || job.status === 'unverified', job.error ?? '');
  const { jobId } = valueOf(await h.call('startVerify', {}, h.context('admin', REPO)));
  await h.platform.idle();
  assert.equal(valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO))).status, 'done');
});
after(() => h?.close());

const page = async () => {
  const p = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
  assert.ok(p.connection, p.state);
  return p;
};

async function changeConnection(change: (c: StoredConnection) => StoredConnection): Promise<void> {
  const c = await h.platform.store.get<StoredConnection>(connectionKey());
  assert.ok(c);
  await h.platform.store.set(connectionKey(), change(c));
}

test('in sync: the commit shown as Valohai\'s is the one its last fetch found for the fetch reference, the one compared with the head', async () => {
  const { connection } = await page();
  assert.equal(connection?.sync.state, 'in-sync');
  assert.equal(connection?.valohaiCommit?.identifier, connection?.bitbucketHead);
  assert.ok(connection?.valohaiCommit?.fetchedAt);
  assert.equal(connection?.health.latest?.health, 'healthy');
});

test('a last fetch that found an older commit is Not in sync, and that older commit is what is shown, whatever else Valohai has', async () => {
  const older = '0123456789abcdef0123456789abcdef01234567';
  await changeConnection((c) => ({ ...c, lastFetch: { ...(c.lastFetch as NonNullable<StoredConnection['lastFetch']>), fetched: older } }));
  const { connection } = await page();
  assert.equal(connection?.valohaiCommit?.identifier, older);
  assert.equal(connection?.sync.state, 'behind');
});

test('a fetch failing since a Healthy check makes the verdict Broken: the two never disagree', async () => {
  await changeConnection((c) => ({ ...c, lastFetch: { at: new Date().toISOString(), ok: false, head: null, fetched: null, errors: ['Valohai could not read the repository: Permission denied (publickey).'] } }));
  const { connection } = await page();
  assert.equal(connection?.sync.state, 'failing');
  assert.equal(connection?.health.latest?.health, 'broken');
  const said = JSON.stringify(connection?.health.latest?.findings);
  assert.doesNotMatch(said, /Permission denied/, 'the error itself is said once, by the sync state');
});

test('a token past its expiry date is still warned about on the repository page, as expired', async () => {
  const summary = (await h.platform.store.get<WorkspaceSummary>(keys.settings(ws()))) as WorkspaceSummary;
  assert.ok(summary.bitbucket);
  await h.platform.store.set(keys.settings(ws()), { ...summary, bitbucket: { ...summary.bitbucket, expiresOn: '2020-01-31' } });
  const p = await page();
  assert.match(JSON.stringify(p.setup.tokenNotices), /Bitbucket API token expired on 2020-01-31/);
});

test('a moved-away connection offers only Disconnect: no Rotate, and no removal of keys another connection records', async () => {
  const repo = h.repoUuid(REPO).replace(/[{}]/g, '');
  const notice = (connection: string, keyId: number) => ({
    kind: 'unneeded' as const,
    repository: 'acme/training-lib',
    keyId,
    label: `Valohai ${connection}`,
    fingerprint: 'SHA256:x',
    ageDays: 3,
    lastUsed: null,
    connection,
    removable: true,
    seenAt: new Date().toISOString(),
  });
  const record = await h.platform.store.get<HealthRecord>(keys.health(ws(), repo));
  assert.ok(record, 'the verify recorded a check');
  await h.platform.store.set(keys.health(ws(), repo), { ...record, keyNotices: [notice('acme/inference-api', 901), notice('acme/datasets', 902)] });
  const longAgo = new Date(Date.now() - 500 * 86_400_000).toISOString();
  await changeConnection((c) => ({
    ...c,
    record: { ...c.record, createdAt: longAgo },
    movedAway: { to: 'acme/inference-api', fetches: 'git@bitbucket.org:acme/inference-api.git', at: new Date().toISOString() },
  }));
  // Read as the app stored it (no Valohai token), so the stored move is what the page goes by.
  valueOf(await h.call('clearCredentials', { which: 'valohai' }, h.context('admin')));
  const { connection } = await page();
  assert.ok(connection?.movedAway);
  const said = JSON.stringify({ warnings: connection.warnings, findings: connection.health.latest?.findings, needsAdmin: connection.health.needsAdmin });
  assert.doesNotMatch(said, /[Rr]otat/, 'a moved-away key cannot be rotated');
  assert.equal(connection.health.autoRotateDueAt, null);
  assert.deepEqual(connection.health.keyNotices.map((n) => n.keyId), [902], "the new connection's key is not offered for removal");
});
