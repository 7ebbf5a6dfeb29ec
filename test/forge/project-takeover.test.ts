// Attack 4 of the trust model, through the resolvers and the queue consumer over the stand-ins: one
// Valohai project, one connection. Mallory administers only acme/mallory-tools, and the workspace lets
// repository admins connect. The workspace admin has connected acme/datasets to the project
// "datasets": Valohai fetches and runs that repository's code there, with that project's secrets.
// Mallory may not re-point it at her code, nor create projects under owners nobody allowed her; a
// workspace admin may move a project on purpose, and the repository it came from then says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { trustCredentials as t, trustSeed } from '../../dev/seed/index';
import type { ReplyOf } from './support/reply';
import { bb, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness, type Who } from './support/forge-fixture';

const MINE = `acme/${t.malloryRepo}`;

let h: Harness;

before(async () => {
  h = await startHarness({ seed: trustSeed });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  valueOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: [] }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

function repoOf(fullName: string) {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return repo;
}

const as = (who: Who, fullName: string) => ({ ...h.context(who), repositoryUuid: repoOf(fullName).uuid });
const keysOn = (fullName: string) => h.stack.bitbucket.state.listAccessKeys(repoOf(fullName));
const sshUrl = (fullName: string) => `git@bitbucket.org:${fullName}.git`;
const valohaiRepository = (projectId: string) => h.stack.valohai.state.project(projectId)?.repository;

async function run(who: Who, fullName: string, start: Promise<ReplyOf<'startConnect'>>): Promise<JobView> {
  const { jobId } = valueOf(await start);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, as(who, fullName)));
}

const choices = (projectId: string, extra: Partial<StartConnectPayload> = {}): StartConnectPayload =>
  ({ projectId, ref: 'main', keyType: 'ed25519', submodules: false, ...extra }) as StartConnectPayload;

describe('attack 4: a repository admin takes over another repository\'s Valohai project', () => {
  before(async () => {
    const job = await run('admin', 'acme/datasets', h.call('startConnect', choices(PROJECTS.datasets.id), as('admin', 'acme/datasets')));
    assert.equal(job.status, 'done', job.error);
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.url, sshUrl('acme/datasets'));
  });

  test('the project list marks the project as connected to acme/datasets', async () => {
    const page = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    const listed = page.ready?.projects.find((p) => p.id === PROJECTS.datasets.id);
    assert.equal(listed?.inUseBy, 'acme/datasets');
    assert.equal(page.ready?.projects.find((p) => p.id === PROJECTS.training.id)?.inUseBy, null);
  });

  test('her connect to it is refused before anything changes, naming the repository that holds it', async () => {
    const queued = h.platform.enqueued.length;
    const keysBefore = keysOn(MINE).length;
    const refused = errorOf(await h.call('startConnect', choices(PROJECTS.datasets.id), as('mallory', MINE)));
    assert.equal(refused.code, 'project-in-use');
    assert.match(refused.message, /connected to acme\/datasets/);
    assert.match(refused.fix, /ask a workspace admin to move it from acme\/datasets/);
    assert.equal(h.platform.enqueued.length, queued, 'no job was queued');
    assert.equal(keysOn(MINE).length, keysBefore);
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.url, sshUrl('acme/datasets'));
  });

  test('asking to move it does not help her: only workspace admins move projects', async () => {
    const queued = h.platform.enqueued.length;
    const refused = errorOf(await h.call('startConnect', choices(PROJECTS.datasets.id, { moveProject: true }), as('mallory', MINE)));
    assert.equal(refused.code, 'not-admin');
    assert.match(refused.message, /Only workspace admins can move a Valohai project/);
    assert.equal(h.platform.enqueued.length, queued);
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.url, sshUrl('acme/datasets'));
  });

  test('the manual path refuses it the same way', async () => {
    const refused = errorOf(await h.call('startManualConnect', choices(PROJECTS.datasets.id), as('mallory', MINE)));
    assert.equal(refused.code, 'project-in-use');
  });

  test('a project that fetches another repository by Valohai\'s own settings stops the job before any key moves', async () => {
    // Set in Valohai by hand, with no connection record here: the engine reads the settings before writing them.
    const repo = h.stack.valohai.state.findProject(PROJECTS.training.id)?.repository;
    assert.ok(repo);
    repo.url = sshUrl('acme/crown-jewels');
    repo.ref = 'main';
    const job = await run('mallory', MINE, h.call('startConnect', choices(PROJECTS.training.id), as('mallory', MINE)));
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /Valohai project training fetches git@bitbucket\.org:acme\/crown-jewels\.git/);
    assert.match(job.error ?? '', /Nothing was changed/);
    assert.equal(valohaiRepository(PROJECTS.training.id)?.url, sshUrl('acme/crown-jewels'));
    assert.equal(valohaiRepository(PROJECTS.training.id)?.sshKeySet, false);
    assert.deepEqual(keysOn(MINE), []);
  });

  test('she creates projects only under owners a workspace admin allowed', async () => {
    const before = h.stack.valohai.state.projects.length;
    const page = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    assert.deepEqual(page.ready?.ownershipOptions, [], 'no owner is offered by default');
    const refused = errorOf(
      await h.call('startConnect', { newProject: { name: 'mallory-ml', owner: 'acme' }, ref: 'main', keyType: 'ed25519', submodules: false }, as('mallory', MINE)),
    );
    assert.equal(refused.code, 'not-admin');
    assert.match(refused.message, /may not create Valohai projects under acme/);
    assert.equal(h.stack.valohai.state.projects.length, before, 'no project was created');

    valueOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: [], projectOwners: ['acme'] }, h.context('admin')));
    const allowed = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    assert.deepEqual(allowed.ready?.ownershipOptions.map((o) => o.value), ['acme']);
    // The workspace admin is offered every owner the Valohai token can use.
    const admin = valueOf(await h.call('getRepositoryPage', {}, as('admin', MINE)));
    assert.ok((admin.ready?.ownershipOptions.length ?? 0) > 1);
  });

  test('a workspace admin moves the project on purpose; the repository it left says so and disconnects cleanly', async () => {
    const moved = await run(
      'admin',
      'acme/training-lib',
      // training-lib has a submodule (feature-store): the key goes there too, or Valohai cannot fetch.
      h.call('startConnect', choices(PROJECTS.datasets.id, { moveProject: true, submodules: true }), as('admin', 'acme/training-lib')),
    );
    assert.equal(moved.status, 'done', moved.error);
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.url, sshUrl('acme/training-lib'));

    const left = valueOf(await h.call('getRepositoryPage', {}, as('admin', 'acme/datasets')));
    assert.equal(left.state, 'connected');
    assert.deepEqual(left.connection?.movedAway, { fetches: 'acme/training-lib' });
    assert.ok(left.connection?.warnings.some((w) => w.code === 'project-moved'));
    const table = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.equal(table.repositories.find((r) => r.fullName === 'acme/datasets')?.state, 'moved-away');
    // A rotate there would take the project back: refused.
    const rotate = errorOf(await h.call('startRotate', {}, as('admin', 'acme/datasets')));
    assert.equal(rotate.code, 'not-connected');
    assert.match(rotate.message, /now fetches acme\/training-lib/);

    const fingerprint = valohaiRepository(PROJECTS.datasets.id)?.sshKeyFingerprint;
    const gone = await run('admin', 'acme/datasets', h.call('startDisconnect', {}, as('admin', 'acme/datasets')));
    assert.equal(gone.status, 'done', gone.error);
    assert.deepEqual(keysOn('acme/datasets'), [], "the old connection's key left acme/datasets");
    // Valohai keeps fetching the repository the project moved to, with that connection's key.
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.url, sshUrl('acme/training-lib'));
    assert.equal(valohaiRepository(PROJECTS.datasets.id)?.sshKeyFingerprint, fingerprint);
    assert.ok(fingerprint);
    const verified = await run('admin', 'acme/training-lib', h.call('startVerify', {}, as('admin', 'acme/training-lib')));
    assert.equal(verified.status, 'done', verified.error);
  });
});
