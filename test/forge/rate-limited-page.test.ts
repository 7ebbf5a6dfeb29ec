// A page load that Bitbucket answers with 429: the page says when it will read Bitbucket again and
// shows the connection as the app stored it, rather than an error or a key it wrongly calls missing.
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
  const hhmm = (ms: number) => `${new Date(ms).toISOString().slice(11, 16)} UTC`;

  function assertStoredView(page: Awaited<ReturnType<typeof load>>) {
    assert.equal(page.state, 'connected');
    const connection = page.connection;
    assert.ok(connection);
    assert.equal(connection.project.name, PROJECTS.inference.name);
    assert.deepEqual(
      connection.accessKeys.map((k) => [k.repository, k.state]),
      ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'].map((r) => [r, 'unchecked']),
      'the stored keys, not checked',
    );
    assert.ok(connection.accessKeys.every((k) => typeof k.id === 'number'), 'with the key ids the app stored');
    assert.notEqual(connection.sync.state, 'failing', 'a rate limit is not a missing key');
    assert.doesNotMatch(JSON.stringify(connection), /no longer has the connection's access key|does not have the connection's key/);
    const warning = connection.warnings[0];
    assert.equal(warning?.code, 'rate-limited');
    return { connection, message: warning?.message ?? '' };
  }

  test('with a Retry-After: the wait Bitbucket asked for, and the time to reload after', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys', status: 429, body: RATE_LIMITED, headers: { 'retry-after': '120' } });
    const before = Date.now();
    const page = await load();
    const { connection, message } = assertStoredView(page);
    assert.match(message, /request limit for the stored API token was reached \(429\)/);
    assert.match(message, /Bitbucket asked to wait 120 s: reload the page after \d\d:\d\d UTC\./);
    const until = Date.parse(connection.rateLimitedUntil ?? '');
    assert.ok(until >= before + 120_000 && until <= Date.now() + 120_000, connection.rateLimitedUntil);
    assert.ok(message.includes(hhmm(until)));
  });

  test('without one: an hour from now at the latest, as the limit counts over a rolling hour', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys', status: 429, body: RATE_LIMITED });
    const before = Date.now();
    const { connection, message } = assertStoredView(await load());
    assert.match(message, /rolling hour, so it works again by \d\d:\d\d UTC at the latest/);
    const until = Date.parse(connection.rateLimitedUntil ?? '');
    assert.ok(until >= before + 3_600_000 && until <= Date.now() + 3_600_000);
  });

  test('a 429 on the repository reads says the same, and the page still shows the connection', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '^/2\\.0/repositories/acme/[^/]+$', status: 429, body: RATE_LIMITED, headers: { 'retry-after': '30' } });
    const { message } = assertStoredView(await load());
    assert.match(message, /Bitbucket asked to wait 30 s/);
  });

  test('once the limit clears, the keys are checked again', async () => {
    const page = await load();
    assert.deepEqual(page.connection?.accessKeys.map((k) => k.state), ['present', 'present', 'present', 'present']);
    assert.equal(page.connection?.rateLimitedUntil, undefined);
    assert.ok(!page.connection?.warnings.some((w) => w.code === 'rate-limited'));
  });
});
