// The repository page's resolvers and the queue consumer, end to end over the emulators: the context
// alone decides which repository is acted on, only repository admins start actions, one job runs per
// repository, the consumer records steps in order and the result, and Valohai really fetches over SSH
// with the key the job put in place. Nothing stored, logged or returned ever holds a key or a token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLabelFor } from '../../src/connect/index';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { keys } from '../../src/forge/store/keys';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;
const REPO = 'inference-api';
const TARGETS = ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'];

const connectChoices: StartConnectPayload = { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true };

before(async () => {
  h = await startHarness();
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

async function finished(jobId: string, slug = REPO): Promise<JobView> {
  await h.platform.idle();
  const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', slug)));
  assert.ok(['done', 'failed', 'unverified'].includes(job.status), `job still ${job.status}`);
  return job;
}

function keysOn(fullName: string) {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return h.stack.bitbucket.state.listAccessKeys(repo);
}

describe('authorization comes from the context', () => {
  test('payloads naming a workspace, repository or user are refused by every resolver', async () => {
    const other = h.repoUuid('ml-models');
    const attempts: [Parameters<Harness['call']>[0], Record<string, unknown>][] = [
      ['getRepositoryPage', { repositoryUuid: other }],
      ['previewConnect', { submodules: true, repository: 'acme/ml-models' }],
      ['startConnect', { ...connectChoices, workspaceId: h.workspaceId }],
      ['startManualConnect', { ...connectChoices, repo: 'ml-models' }],
      ['verifyManual', { repositoryUuid: other }],
      ['startRotate', { accountId: bb.writer.accountId }],
      ['startDisconnect', { repository: 'acme/ml-models' }],
      ['startVerify', { workspace: 'acme' }],
      ['getJob', { jobId: 'x', repositoryUuid: other }],
    ];
    for (const [name, payload] of attempts) {
      const error = errorOf(await h.call(name, payload, h.context('admin', REPO)));
      assert.equal(error.code, 'invalid-payload', name);
      assert.match(error.message, /is not a known field/, name);
    }
    assert.equal(h.platform.enqueued.length, 0);
  });

  test('a writer or reader cannot start any action; the page shows them a read-only view', async () => {
    for (const who of ['writer', 'reader'] as const) {
      const ctx = h.context(who, 'ml-models');
      for (const [name, payload] of [
        ['previewConnect', { submodules: true }],
        ['startConnect', connectChoices],
        ['startManualConnect', connectChoices],
        ['verifyManual', {}],
        ['startRotate', {}],
        ['startDisconnect', {}],
        ['startVerify', {}],
      ] as const) {
        assert.equal(errorOf(await h.call(name, payload, ctx)).code, 'not-admin', `${who} ${name}`);
      }
      const page = valueOf(await h.call('getRepositoryPage', {}, ctx));
      assert.equal(page.canAdminister, false);
      assert.equal(page.repository.fullName, 'acme/ml-models');
    }
    assert.equal(h.platform.enqueued.length, 0);
  });

  test('someone with no access to the repository gets nothing about it', async () => {
    const error = errorOf(await h.call('getRepositoryPage', {}, h.context('outsider', 'ml-models')));
    assert.equal(error.code, 'not-admin');
    assert.doesNotMatch(JSON.stringify(error), /ml-models/);
  });

  test('repository calls from the workspace page (no repository in context) are refused', async () => {
    assert.equal(errorOf(await h.call('getRepositoryPage', {}, h.context('admin'))).code, 'invalid-payload');
  });
});

describe('connect, rotate and disconnect with the stored API token', () => {
  let connectJob: string;

  test('the page starts in "ready" with the Valohai projects to choose from', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'ready');
    assert.equal(page.canAdminister, true);
    assert.deepEqual(page.setup, { valohai: true, bitbucket: true, workspaceSettingsUrl: null });
    assert.equal(page.repository.sshUrl, 'git@bitbucket.org:acme/inference-api.git');
    assert.equal(page.repository.accessKeysUrl, 'https://bitbucket.org/acme/inference-api/admin/access-keys/');
    assert.ok(page.ready?.projects.some((p) => p.id === PROJECTS.inference.id));
    assert.ok(page.ready?.ownershipOptions.some((o) => o.value === 'acme'));
    assert.equal(page.ready?.defaultRef, 'main');
  });

  test('previewConnect lists every repository the key will go on and changes nothing', async () => {
    const before = h.stack.bitbucket.requests.length;
    const preview = valueOf(await h.call('previewConnect', { submodules: true }, h.context('admin', REPO)));
    assert.deepEqual(preview.targets.map((t) => `${t.workspace}/${t.slug}`).sort(), [...TARGETS].sort());
    assert.match(preview.headCommit ?? '', /^[0-9a-f]{40}$/);
    const calls = h.stack.bitbucket.requests.slice(before);
    assert.ok(calls.every((c) => c.method === 'GET'), 'a preview only reads');
    for (const t of TARGETS) assert.equal(keysOn(t).length, 0);
  });

  test('startConnect answers with a job id at once; a second action on the repository says what is running', async () => {
    h.platform.holdQueue();
    const started = valueOf(await h.call('startConnect', connectChoices, h.context('admin', REPO)));
    connectJob = started.jobId;
    const queued = valueOf(await h.call('getJob', { jobId: connectJob }, h.context('admin', REPO)));
    assert.equal(queued.status, 'queued');
    assert.deepEqual(queued.steps, []);

    const second = errorOf(await h.call('startConnect', connectChoices, h.context('admin', REPO)));
    assert.equal(second.code, 'job-running');
    assert.doesNotMatch(second.message, new RegExp(connectJob), 'no job id in what the page shows');
    assert.match(second.message, /Connecting to Valohai is already under way/);
    assert.equal(second.temporary, true, 'waiting for the running job helps');
    assert.equal(errorOf(await h.call('startManualConnect', connectChoices, h.context('admin', REPO))).code, 'job-running');

    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'running');
    assert.deepEqual(page.activeJob, { jobId: connectJob, kind: 'connect' });
    // Another repository is not blocked by this one's job.
    const elsewhere = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'ml-models')));
    assert.equal(elsewhere.state, 'ready');
    assert.equal(h.platform.enqueued.length, 1);
    h.platform.releaseQueue();
  });

  test('the consumer runs the engine and records its steps in order and the verified result', async () => {
    const job = await finished(connectJob);
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.kind, 'connect');
    assert.ok(job.finishedAt);
    const ids = job.steps.map((s) => s.step);
    assert.equal(new Set(ids).size, ids.length, 'a step id appears once');
    assert.ok(job.steps.every((s) => s.status === 'done'), JSON.stringify(job.steps));
    const order = ['check-access', 'generate-key', 'valohai-key', 'valohai-fetch', 'verify'].map((id) => ids.indexOf(id));
    assert.ok(order.every((i) => i >= 0), `missing steps in ${ids.join(', ')}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, `steps out of order: ${ids.join(', ')}`);
    for (const t of TARGETS) assert.ok(ids.includes(`add-key:${t}`), `no add-key step for ${t}`);
    assert.ok(ids.indexOf('valohai-key') > Math.max(...TARGETS.map((t) => ids.indexOf(`add-key:${t}`))), 'keys go on Bitbucket before Valohai gets the key');

    const result = job.result;
    assert.ok(result);
    assert.equal(result.verified, true);
    assert.equal(result.repository, `acme/${REPO}`);
    assert.deepEqual(result.accessKeys.map((a) => a.repository).sort(), [...TARGETS].sort());
    assert.equal(result.valohai.fetchedCommit, result.headCommit);

    // What Valohai and Bitbucket now hold: the same key, on every repository Valohai fetches.
    const repo = h.stack.valohai.state.repository(PROJECTS.inference.repositoryId);
    assert.equal(repo?.sshKeyFingerprint, result.fingerprint);
    assert.equal(repo?.url, 'git@bitbucket.org:acme/inference-api.git');
    for (const t of TARGETS) {
      const onRepo = keysOn(t);
      assert.equal(onRepo.length, 1, t);
      assert.ok(isLabelFor(onRepo[0]?.label ?? '', PROJECTS.inference.id));
    }
  });

  test('the page shows the connection: keys per repository and both commits side by side', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'connected');
    const c = page.connection;
    assert.ok(c);
    assert.equal(c.project.id, PROJECTS.inference.id);
    assert.equal(c.project.url, `${h.stack.valohai.url}/p/acme/inference/`);
    assert.equal(c.keyType, 'ed25519');
    assert.match(c.fingerprint, /^SHA256:/);
    assert.deepEqual(c.accessKeys.map((a) => a.repository).sort(), [...TARGETS].sort());
    assert.ok(c.accessKeys.every((a) => typeof a.id === 'number'));
    assert.equal(c.valohaiCommit?.identifier, c.bitbucketHead);
    assert.ok(c.verifiedAt);
    assert.equal(c.lastPushFetch, null);
    assert.equal(errorOf(await h.call('startConnect', connectChoices, h.context('admin', REPO))).code, 'already-connected');
  });

  test("a job id of one repository reads as not found from another repository's page", async () => {
    assert.equal(errorOf(await h.call('getJob', { jobId: connectJob }, h.context('admin', 'ml-models'))).code, 'not-found');
  });

  test('the workspace page lists the repository as connected', async () => {
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    const row = settings.repositories.find((r) => r.fullName === `acme/${REPO}`);
    assert.equal(row?.state, 'connected');
    assert.equal(row?.projectName, PROJECTS.inference.name);
    assert.equal(row?.keyAgeDays, 0);
  });

  test('startVerify lists the keys, fetches again and confirms the head commit', async () => {
    const { jobId } = valueOf(await h.call('startVerify', {}, h.context('admin', REPO)));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.deepEqual(
      job.steps.map((s) => s.step),
      ['list-keys', 'valohai-project', 'read-repository', 'valohai-fetch', 'verify'],
    );
    assert.equal(job.result?.verified, true);
    // The page shows that listing, with its time, until the next one.
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    const seenAt = page.connection?.keysSeenAt ?? '';
    assert.ok(seenAt >= (job.startedAt ?? '') && seenAt <= (job.finishedAt ?? ''), `listed during the Verify (${seenAt})`);
    assert.deepEqual(
      page.connection?.accessKeys.map((k) => k.state),
      TARGETS.map(() => 'present'),
    );
  });

  test('rotation puts a new key everywhere, Valohai takes it, and the old one is gone', async () => {
    const before = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO))).connection?.fingerprint;
    const { jobId } = valueOf(await h.call('startRotate', {}, h.context('admin', REPO)));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.result?.verified, true);
    assert.notEqual(job.result?.fingerprint, before);
    assert.equal(h.stack.valohai.state.repository(PROJECTS.inference.repositoryId)?.sshKeyFingerprint, job.result?.fingerprint);
    for (const t of TARGETS) assert.equal(keysOn(t).length, 1, `${t} keeps only the new key`);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.connection?.fingerprint, job.result?.fingerprint);
  });

  test('disconnect removes the key from Valohai and every repository; the page is ready again', async () => {
    const { jobId } = valueOf(await h.call('startDisconnect', {}, h.context('admin', REPO)));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.equal(h.stack.valohai.state.repository(PROJECTS.inference.repositoryId)?.sshKeySet, false);
    for (const t of TARGETS) assert.equal(keysOn(t).length, 0, t);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'ready');
    assert.equal(await h.platform.store.get(keys.connection(h.workspaceId, h.repoUuid(REPO))), undefined);
  });

  test('a failed connect is recorded as failed with the fix, and frees the repository', async () => {
    // ml-models has an https:// submodule and one on GitHub: those are warnings; the failure here is a
    // project Valohai does not have.
    const { jobId } = valueOf(
      await h.call('startConnect', { ...connectChoices, projectId: '00000000-0000-4000-8000-00000000dead' }, h.context('admin', 'ml-models')),
    );
    const job = await finished(jobId, 'ml-models');
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /Valohai has no project/);
    assert.ok(job.steps.some((s) => s.step === 'valohai-project' && s.status === 'failed'));
    for (const t of ['acme/ml-models', 'acme/datasets', 'acme/training-lib']) assert.equal(keysOn(t).length, 0, `${t}: nothing left behind`);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'ml-models')));
    assert.equal(page.state, 'ready');
  });
});

describe('when Bitbucket stops accepting the stored token', () => {
  test('the job fails with the fix, and the pages switch to the manual path', async () => {
    valueOf(
      await h.call('saveBitbucketToken', { email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token, confirmWorse: true }, h.context('admin')),
    );
    // Revoked on Bitbucket's side after it was saved.
    const tokens = h.stack.bitbucket.state.apiTokens;
    tokens.splice(tokens.findIndex((t) => t.token === bb.adminWithoutWriteSshKey.token), 1);

    const { jobId } = valueOf(await h.call('startConnect', { ...connectChoices, projectId: PROJECTS.datasets.id, submodules: false }, h.context('admin', 'datasets')));
    const job = await finished(jobId, 'datasets');
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /refused the stored API token/);
    assert.match(job.error ?? '', /Connect by hand/);

    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'datasets')));
    assert.equal(page.state, 'ready');
    assert.equal(page.setup.bitbucket, false, 'the connect form now offers the manual path');
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.equal(settings.bitbucket.problem?.code, 'invalid-token');
    assert.equal(errorOf(await h.call('startConnect', connectChoices, h.context('admin', 'datasets'))).code, 'not-set-up');

    // Saving a working token clears the problem.
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'datasets'))).setup.bitbucket, true);
  });
});

describe('secrets', () => {
  test('no reply, stored record, log line or queue message holds a private key or a token', async () => {
    await h.platform.idle();
    assert.ok(h.privateKeys.length >= 2, 'keys were generated');
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.platform.enqueued.map((m, i): [string, string] => [`queue ${i}`, JSON.stringify(m)]),
    ];
    assertNoSecrets(texts, h.privateKeys, ALL_TOKENS);
    // The secret store holds the two tokens, and never a private key.
    assertNoSecrets([...h.platform.secrets.dump()].map(([k, v]): [string, string] => [`secret ${k}`, v]), h.privateKeys, []);
  });

  test('the Bitbucket client never saw a private key either (access keys carry public halves only)', () => {
    assertNoSecrets(
      h.stack.bitbucket.requests.map((r, i): [string, string] => [`bitbucket request ${i}`, r.body]),
      h.privateKeys,
      [],
    );
  });
});
