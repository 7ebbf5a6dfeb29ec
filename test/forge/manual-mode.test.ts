// Manual mode (no Bitbucket API token in the workspace) and push-triggered fetches, over the emulators:
// the key pair is generated in a job, Valohai gets the private half at once and it is stored nowhere;
// the page shows the public half and where to paste it; verification asks Valohai to fetch over SSH and
// checks the head commit. Pushes to unconnected repositories cost one read; bursts make one fetch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BitbucketClient } from '../../src/bitbucket/index';
import { isLabelFor } from '../../src/connect/index';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { keys } from '../../src/forge/store/keys';
import { ALL_TOKENS, assertNoSecrets, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;
const REPO = 'training-lib';
const choices: StartConnectPayload = { projectId: PROJECTS.training.id, ref: 'main', keyType: 'ed25519', submodules: true };

before(async () => {
  h = await startHarness();
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

async function finished(jobId: string): Promise<JobView> {
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO)));
}

async function verifyManual(): Promise<JobView> {
  return finished(valueOf(await h.call('verifyManual', {}, h.context('admin', REPO))).jobId);
}

const pushEvent = (slug: string) => ({ repository: { uuid: h.repoUuid(slug) }, workspace: { uuid: h.workspaceId }, actor: { accountId: 'x' } });

describe('connecting by hand', () => {
  let publicKey = '';
  let label = '';

  test('without an API token the page offers the manual path and automatic connect is refused with the way out', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'ready');
    assert.equal(page.setup.bitbucket, false);
    const error = errorOf(await h.call('startConnect', choices, h.context('admin', REPO)));
    assert.equal(error.code, 'not-set-up');
    assert.match(error.fix, /by hand/);
  });

  test('startManualConnect gives Valohai the key at once and keeps only the public half', async () => {
    const { jobId } = valueOf(await h.call('startManualConnect', choices, h.context('admin', REPO)));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.deepEqual(
      job.steps.map((s) => s.step),
      ['read-repository', 'valohai-project', 'generate-key', 'valohai-key', 'save-key'],
    );
    assert.equal(h.privateKeys.length, 1);
    const vhRepo = h.stack.valohai.state.repository(PROJECTS.training.repositoryId);
    assert.equal(vhRepo?.sshKeySet, true);
    assert.equal(vhRepo?.url, 'git@bitbucket.org:acme/training-lib.git');
    assert.equal(vhRepo?.ref, 'main');
    assert.equal(vhRepo?.sshKeyFingerprint, job.result?.fingerprint);
    // Nothing was added on Bitbucket: the app cannot, and did not try.
    assert.ok(!h.stack.bitbucket.requests.some((r) => r.method !== 'GET'));
  });

  test('the page shows the public key, its label and a link to each access-keys page', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'manual');
    const manual = page.manual;
    assert.ok(manual);
    assert.match(manual.publicKey, /^ssh-ed25519 AAAA\S+ valohai-training$/);
    assert.ok(isLabelFor(manual.label, PROJECTS.training.id));
    assert.deepEqual(manual.project, { id: PROJECTS.training.id, name: PROJECTS.training.name });
    assert.deepEqual(
      manual.targets.map((t) => [t.workspace, t.slug, t.via, t.accessKeysUrl]),
      [
        ['acme', 'training-lib', 'superproject', 'https://bitbucket.org/acme/training-lib/admin/access-keys/'],
        ['acme', 'feature-store', 'vendor/feature-store', 'https://bitbucket.org/acme/feature-store/admin/access-keys/'],
      ],
    );
    publicKey = manual.publicKey;
    label = manual.label;
    assert.equal(errorOf(await h.call('startManualConnect', choices, h.context('admin', REPO))).code, 'already-connected');
  });

  test('verifying before the key is pasted is "not verified", with what to do', async () => {
    const job = await verifyManual();
    assert.equal(job.status, 'unverified');
    // Nothing pasted: Bitbucket refuses the repository itself, and git never reaches its submodule.
    assert.match(job.error ?? '', new RegExp(`The key is not on acme/${REPO} yet \\(Valohai.s fetch was refused there\\): add it \\(Repository settings > Access keys > Add key\\), then verify again`));
    assert.match(job.error ?? '', /stopped before reaching acme\/feature-store/);
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO))).state, 'manual');
  });

  test('pasted on the superproject but not the submodule repository: still not verified', async () => {
    const admin = new BitbucketClient({ transport: h.adminTransport() });
    await admin.addAccessKey('acme', REPO, { key: publicKey, label });
    const job = await verifyManual();
    assert.equal(job.status, 'unverified');
    assert.match(job.error ?? '', /^The key is not on acme\/feature-store yet/);
    assert.match(job.error ?? '', new RegExp(`Valohai fetched acme/${REPO} with it`));
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.deepEqual(page.manual?.checked?.targets, [
      { repository: `acme/${REPO}`, state: 'present' },
      { repository: 'acme/feature-store', state: 'missing' },
    ]);
  });

  test('pasted everywhere: verified, and the repository is connected', async () => {
    const admin = new BitbucketClient({ transport: h.adminTransport() });
    await admin.addAccessKey('acme', 'feature-store', { key: publicKey, label });
    const job = await verifyManual();
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.result?.verified, true);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'connected');
    const c = page.connection;
    assert.ok(c);
    assert.deepEqual(c.accessKeys.map((a) => a.repository), ['acme/training-lib', 'acme/feature-store']);
    assert.equal(c.valohaiCommit?.identifier, c.bitbucketHead);
    assert.ok(c.verifiedAt);
    assert.equal(errorOf(await h.call('verifyManual', {}, h.context('admin', REPO))).code, 'already-connected');
    // Rotation needs the API token; the refusal says how to get on.
    assert.equal(errorOf(await h.call('startRotate', {}, h.context('admin', REPO))).code, 'not-set-up');
  });
});

describe('push-triggered fetch', () => {
  test('a push to a repository without a connection is ignored after one record read', async () => {
    const before = h.platform.store.operations.length;
    assert.equal(await h.backend.onPush(pushEvent('ml-models')), 'ignored');
    const ops = h.platform.store.operations.slice(before);
    assert.deepEqual(ops.map((o) => o.op), ['get']);
    assert.equal(h.platform.enqueued.filter((m) => m.type === 'sync').length, 0);
  });

  test('an event without repository and workspace is ignored without a read', async () => {
    const before = h.platform.store.operations.length;
    assert.equal(await h.backend.onPush({ actor: {} }), 'ignored');
    assert.equal(await h.backend.onPush(null), 'ignored');
    assert.equal(h.platform.store.operations.length, before);
  });

  test('a burst of pushes makes one fetch, whose outcome the page shows', async () => {
    const head = await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'New training code', files: { 'train2.py': 'print(2)\n' } });
    h.platform.holdQueue();
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await h.backend.onPush(pushEvent(REPO)));
    assert.deepEqual(outcomes, ['queued', 'coalesced', 'coalesced', 'coalesced', 'coalesced']);
    assert.equal(h.platform.pending.length, 1);
    assert.deepEqual(h.platform.pending[0], { type: 'sync', workspaceUuid: h.workspaceId.slice(1, -1), repositoryUuid: h.repoUuid(REPO).slice(1, -1) });
    h.advance(1000);
    h.platform.releaseQueue();
    await h.platform.idle();
    assert.equal(h.platform.enqueued.filter((m) => m.type === 'sync').length, 1, 'no second fetch: no push came during the first');

    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    const fetched = page.connection?.lastPushFetch;
    assert.ok(fetched);
    assert.deepEqual(fetched.errors, []);
    assert.equal(fetched.commits, 1);
    assert.ok(h.stack.valohai.state.commits(PROJECTS.training.id).some((c) => c.identifier === head));
    // The marker is gone: the next push fetches again.
    assert.equal(await h.platform.store.get(keys.pushQueued(h.workspaceId, h.repoUuid(REPO))), undefined);
    assert.equal(await h.backend.onPush(pushEvent(REPO)), 'queued');
    await h.platform.idle();
  });
});

describe('disconnecting without a token', () => {
  test('Valohai forgets the key, the app forgets the connection, and the page says where to remove the keys', async () => {
    const { jobId } = valueOf(await h.call('startDisconnect', {}, h.context('admin', REPO)));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.equal(h.stack.valohai.state.repository(PROJECTS.training.repositoryId)?.sshKeySet, false);
    assert.equal(await h.platform.store.get(keys.connection(h.workspaceId, h.repoUuid(REPO))), undefined);
    assert.deepEqual(
      job.result?.warnings.map((w) => w.message.split(' at ').pop()),
      ['https://bitbucket.org/acme/training-lib/admin/access-keys/', 'https://bitbucket.org/acme/feature-store/admin/access-keys/'],
    );
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO))).state, 'ready');
    assert.equal(await h.backend.onPush(pushEvent(REPO)), 'ignored');
  });

  test('the to-do list outlives the job: every page load shows it until an admin says the keys are removed', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.state, 'ready');
    assert.deepEqual(
      page.leftByHand?.repositories.map((r) => r.accessKeysUrl),
      ['https://bitbucket.org/acme/training-lib/admin/access-keys/', 'https://bitbucket.org/acme/feature-store/admin/access-keys/'],
    );
    assert.equal(page.leftByHand?.projectName, PROJECTS.training.name);
    assert.match(page.leftByHand?.fingerprint ?? '', /^SHA256:/);
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO))).leftByHand?.label, page.leftByHand?.label, 'still there on reload');
    // Someone who does not administer the repository is shown none of it, and cannot dismiss it.
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('writer', REPO))).leftByHand, undefined);
    assert.equal(errorOf(await h.call('dismissLeftByHand', {}, h.context('writer', REPO))).code, 'not-admin');
    assert.deepEqual(valueOf(await h.call('dismissLeftByHand', {}, h.context('admin', REPO))), { dismissed: true });
    assert.equal(valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO))).leftByHand, undefined);
    assert.deepEqual(valueOf(await h.call('dismissLeftByHand', {}, h.context('admin', REPO))), { dismissed: false });
  });

  test('the private key was never stored, logged or returned', async () => {
    await h.platform.idle();
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...[...h.platform.secrets.dump()].map(([k, v]): [string, string] => [`secret ${k}`, v.replace(vh.admin.token, '')]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.platform.enqueued.map((m, i): [string, string] => [`queue ${i}`, JSON.stringify(m)]),
    ];
    assertNoSecrets(texts, h.privateKeys, ALL_TOKENS);
  });
});
