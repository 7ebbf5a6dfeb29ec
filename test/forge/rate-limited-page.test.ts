// A connected page while Bitbucket answers 429: the page lists no keys to load (it shows them as the last
// connect, rotate, Verify or check saw them), so the limit cannot take it down or make a key look missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bb, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

const RATE_LIMITED = 'Rate limit for this resource has been exceeded';

describe('a connected repository page while Bitbucket rate-limits', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
    const { jobId } = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', 'inference-api')),
    );
    await h.platform.idle();
    const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', 'inference-api')));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
  });
  after(async () => {
    await h?.close();
  });

  const load = async () => {
    try {
      return valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
    } finally {
      h.stack.bitbucket.faults.clear();
    }
  };
  function assertStoredView(page: Awaited<ReturnType<typeof load>>) {
    assert.equal(page.state, 'connected');
    const connection = page.connection;
    assert.ok(connection);
    assert.equal(connection.project.name, PROJECTS.inference.name);
    assert.deepEqual(
      connection.accessKeys.map((k) => [k.repository, k.state]),
      ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'].map((r) => [r, 'present']),
      'the keys as the connect left them',
    );
    assert.ok(connection.accessKeys.every((k) => typeof k.id === 'number'), 'with their ids');
    assert.ok(connection.keysSeenAt, 'and the time they were seen');
    assert.notEqual(connection.sync.state, 'failing', 'a rate limit is not a missing key');
    assert.doesNotMatch(JSON.stringify(connection), /no longer has the connection's access key|does not have the connection's key/);
    return connection;
  }

  test('a 429 on every key listing does not reach the page: it lists no keys to load', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys', status: 429, body: RATE_LIMITED });
    const connection = assertStoredView(await load());
    assert.equal(connection.rateLimitedUntil, undefined);
  });

  test("a 429 on the repository reads leaves Bitbucket's head unknown and the connection shown", async () => {
    // The repository and its branch head, as the page reads them as the app: Bitbucket's limit covers both.
    h.stack.bitbucket.faults.add({ method: 'GET', path: '^/2\\.0/repositories/acme/[^/]+(/refs/branches/[^/]+)?$', status: 429, body: RATE_LIMITED });
    const connection = assertStoredView(await load());
    assert.equal(connection.bitbucketHead, null);
  });

  test('once the limit clears, the head is read again', async () => {
    const page = await load();
    assert.match(page.connection?.bitbucketHead ?? '', /^[0-9a-f]{40}$/);
  });
});
