// What connect and rotate spend of the stored API token (a workspace admin's, about 1,000 requests an
// hour for the whole workspace): the access keys of each target and one permission check per workspace.
// Reads of the app's own workspace go as the app. Where the batched permission check is refused, each
// repository is asked on its own, and the verdicts are the ones a single read gives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView } from '../../src/forge/contract';
import { trustCredentials as t, trustSeed } from '../../dev/seed/index';
import type { ReplyOf } from './support/reply';
import { PROJECTS, TOOLS, bb, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type SentRequest, type Who } from './support/forge-fixture';

const TARGETS = ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'];

async function run(h: Harness, who: Who, slug: string, start: Promise<ReplyOf<'startConnect'>>): Promise<JobView> {
  const { jobId } = valueOf(await start);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, h.context(who, slug)));
}

describe('connect and rotate with the workspace admin’s token', () => {
  let h: Harness;
  const sent: SentRequest[] = [];

  before(async () => {
    h = await startHarness({ record: (r) => sent.push(r) });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  const tokenCalls = (from: number) => sent.slice(from).filter((r) => r.via === 'token');

  test('connect spends at most 4 token requests per target: one permission check, then each target’s keys', async () => {
    const from = sent.length;
    const job = await run(
      h,
      'admin',
      'inference-api',
      h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', 'inference-api')),
    );
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    assert.deepEqual(job.result?.accessKeys.map((k) => k.repository).sort(), [...TARGETS].sort());
    const calls = tokenCalls(from);
    assert.ok(calls.length <= 4 * TARGETS.length, `${calls.length} token requests:\n${calls.map((c) => `${c.method} ${c.path}`).join('\n')}`);
    const checks = calls.filter((c) => c.path.includes('/permissions/'));
    assert.equal(checks.length, 1, 'one permission check for the workspace');
    assert.match(decodeURIComponent(checks[0]?.path ?? ''), /^\/workspaces\/acme\/permissions\/repositories\?q=user\.account_id="[^"]+" AND \(repository\.full_name="acme\/inference-api" OR /);
    for (const name of TARGETS) assert.ok(decodeURIComponent(checks[0]?.path ?? '').includes(`repository.full_name="${name}"`), name);
    assert.deepEqual(
      calls.filter((c) => !c.path.includes('/permissions/') && !c.path.includes('/deploy-keys')),
      [],
      'nothing but keys and the check with the token',
    );
    assert.ok(sent.slice(from).some((r) => r.via === 'app' && r.path.endsWith('/.gitmodules')), 'the .gitmodules were read as the app');
  });

  test('rotate spends at most 4 per target too: the old keys leave with the token, nothing else does', async () => {
    const from = sent.length;
    const job = await run(h, 'admin', 'inference-api', h.call('startRotate', {}, h.context('admin', 'inference-api')));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    const calls = tokenCalls(from);
    assert.ok(calls.length <= 4 * TARGETS.length, `${calls.length} token requests`);
    assert.equal(calls.filter((c) => c.method === 'DELETE').length, TARGETS.length);
  });

  test('a connected page load spends none of the token: it shows the keys as the connect left them', async () => {
    const from = sent.length;
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
    assert.equal(page.state, 'connected');
    assert.deepEqual(page.connection?.accessKeys.map((k) => k.state), TARGETS.map(() => 'present'));
    assert.ok(page.connection?.keysSeenAt, 'with the time they were seen');
    const calls = tokenCalls(from);
    assert.equal(calls.length, 0, calls.map((c) => c.path).join('\n'));
  });
});

describe('a stored token whose account administers repositories but not the workspace', () => {
  let h: Harness;
  const sent: SentRequest[] = [];

  before(async () => {
    h = await startHarness({
      seed: trustSeed,
      record: (r) => sent.push(r),
      valohaiSeed: valohaiSeedWithTools,
    });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    // Mallory's token: she administers acme/mallory-tools only.
    valueOf(await h.call('saveBitbucketToken', { email: t.mallory.email, token: t.mallory.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  const uuidOf = (slug: string) => h.stack.bitbucket.state.findRepo('acme', slug)?.uuid ?? '';

  test('the workspace-wide check is refused, so the repository is asked on its own and the connect goes ahead', async () => {
    const from = h.stack.bitbucket.requests.length;
    const context = { ...h.context('admin'), repositoryUuid: uuidOf(t.malloryRepo) };
    const job = await run(h, 'admin', t.malloryRepo, h.call('startConnect', { projectId: TOOLS.id, ref: 'main', keyType: 'ed25519', submodules: false }, context));
    // Valohai also fetches the submodules, which get no key without them: unverified, not refused.
    assert.equal(job.status, 'unverified', job.result?.error ?? job.error);
    assert.doesNotMatch(job.result?.error ?? '', /may not go on|cannot be checked/);
    assert.deepEqual(job.result?.accessKeys.map((k) => [k.repository, k.status]), [[`acme/${t.malloryRepo}`, 'added']]);
    const calls = h.stack.bitbucket.requests.slice(from);
    const batch = calls.filter((c) => /^\/2\.0\/workspaces\/acme\/permissions\/repositories\?/.test(c.path));
    assert.deepEqual(batch.map((c) => c.status), [403]);
    const single = calls.filter((c) => /^\/2\.0\/workspaces\/acme\/permissions\/repositories\/[^/?]+\?/.test(c.path));
    assert.deepEqual(single.map((c) => [c.path.split('?')[0]?.split('/').pop(), c.status]), [[t.malloryRepo, 200]]);
  });

  test('asked on its own, a repository the token cannot read the permissions of is refused, as before batching', async () => {
    // The writer's token: no workspace admin, no repository admin anywhere.
    valueOf(await h.call('saveBitbucketToken', { email: bb.writer.email, token: bb.writer.token, confirmWorse: true }, h.context('admin')));
    const before = h.stack.bitbucket.requests.length;
    const context = { ...h.context('admin'), repositoryUuid: uuidOf('datasets') };
    const job = await run(h, 'admin', 'datasets', h.call('startConnect', { projectId: PROJECTS.datasets.id, ref: 'main', keyType: 'ed25519', submodules: false }, context));
    assert.equal(job.status, 'failed');
    assert.match(job.result?.error ?? '', /acme\/datasets: whether you administer it cannot be checked/);
    assert.ok(!h.stack.bitbucket.requests.slice(before).some((c) => c.path.includes('/deploy-keys')), 'no key was read or added');
  });
});
