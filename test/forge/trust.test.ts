// The trust model, attacked through the resolvers and the queue consumer over the stand-ins, by people
// who really hold only the lesser role there: Mallory administers acme/mallory-tools and nothing else
// (404 on acme/crown-jewels and on ada-private/payroll, in another workspace: she cannot see them); Wes only writes. The
// stored API token is the workspace admin's and reaches all of it: nothing Mallory or Wes starts may
// use it beyond what they may do themselves, and no key is trusted for its label.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessKeyLabel } from '../../src/connect/index';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { generateKeyPair } from '../../src/ssh/index';
import { trustCredentials as t, trustSeed } from '../../dev/seed/index';
import type { ReplyOf } from './support/reply';
import { PROJECTS, TOOLS, bb, errorOf, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type Who, uuidOf } from './support/forge-fixture';

const MINE = `acme/${t.malloryRepo}`;
const JEWELS = `acme/${t.crownJewels}`;
const PAYROLL = `${t.otherWorkspace}/${t.payroll}`;

let h: Harness;

before(async () => {
  h = await startHarness({
    seed: trustSeed,
    valohaiSeed: valohaiSeedWithTools,
  });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

function keysOn(fullName: string) {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return h.stack.bitbucket.state.listAccessKeys(repo);
}

const as = (who: Who, fullName: string) => ({ ...h.context(who), repositoryUuid: uuidOf(h, fullName) });

async function run(who: Who, fullName: string, start: Promise<ReplyOf<'startConnect'>>): Promise<JobView> {
  const { jobId } = valueOf(await start);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, as(who, fullName)));
}

const choices = (projectId: string, submodules = true): StartConnectPayload => ({ projectId, ref: 'main', keyType: 'ed25519', submodules });

/** POSTs of access keys to Bitbucket since `from`, by repository. */
function keyPosts(from: number): string[] {
  return h.stack.bitbucket.requests
    .slice(from)
    .filter((r) => r.method === 'POST' && r.path.includes('/deploy-keys'))
    .map((r) => decodeURIComponent(r.path).replace(/^\/2\.0\/repositories\/([^/]+\/[^/]+)\/deploy-keys$/, '$1'));
}

async function setTrust(connectors: 'workspace-admins' | 'repository-admins', otherWorkspaces: string[]) {
  return valueOf(await h.call('saveTrustSettings', { connectors, otherWorkspaces }, h.context('admin')));
}

describe('attack 1: a repository admin reaches other repositories through .gitmodules', () => {
  test('Mallory really is only an admin of her own repository', async () => {
    for (const [repo, status] of [
      [MINE, 200],
      [JEWELS, 404],
      [PAYROLL, 404],
    ] as const) {
      const res = await fetch(`${h.stack.bitbucket.url}/repositories/${repo}`, {
        headers: { authorization: `Basic ${Buffer.from(`${t.mallory.email}:${t.mallory.token}`).toString('base64')}` },
      });
      assert.equal(res.status, status, repo);
    }
  });

  test('by default only workspace admins connect: Mallory is refused before any token read', async () => {
    const before = h.stack.bitbucket.requests.length;
    for (const [name, payload] of [
      ['previewConnect', { submodules: true }],
      ['startConnect', choices(TOOLS.id)],
      ['startManualConnect', choices(TOOLS.id)],
    ] as const) {
      const error = errorOf(await h.call(name, payload, as('mallory', MINE)));
      assert.equal(error.code, 'not-admin', name);
      assert.match(error.message, /only workspace admins/i);
      assert.match(error.fix, /let repository admins connect/);
    }
    assert.equal(h.platform.enqueued.length, 0);
    assert.deepEqual(
      h.stack.bitbucket.requests.slice(before).filter((r) => r.path.includes('/deploy-keys') || r.path.includes('/src/')),
      [],
      'no repository content or keys were read for her',
    );
  });

  test('only a workspace admin changes who may connect', async () => {
    const refused = errorOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: ['ada-private'] }, h.context('mallory')));
    assert.equal(refused.code, 'not-admin');
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.deepEqual(settings.trust, { connectors: 'workspace-admins', otherWorkspaces: [], projectOwners: [] });
    assert.deepEqual(await setTrust('repository-admins', []), { connectors: 'repository-admins', otherWorkspaces: [], projectOwners: [] });
  });

  test("the preview names each submodule repository she may not give the key to, and why", async () => {
    const preview = valueOf(await h.call('previewConnect', { submodules: true }, as('mallory', MINE)));
    const refused = preview.warnings.filter((w) => w.code === 'not-authorised');
    assert.deepEqual(refused.map((w) => w.repository).sort(), [JEWELS, PAYROLL].sort());
    assert.match(refused.find((w) => w.repository === JEWELS)?.message ?? '', /do not administer it/);
    assert.match(refused.find((w) => w.repository === PAYROLL)?.message ?? '', /another|not this one.*cannot be checked/);
  });

  test('her connect is refused before anything changes, naming each repository, the reason and the way out', async () => {
    const before = h.stack.bitbucket.requests.length;
    const valohaiBefore = h.stack.valohai.requests.length;
    const job = await run('mallory', MINE, h.call('startConnect', choices(TOOLS.id), as('mallory', MINE)));
    assert.equal(job.status, 'failed');
    const error = job.result?.error ?? job.error ?? '';
    assert.match(error, /Nothing was changed/);
    assert.match(error, new RegExp(`${JEWELS} \\(submodule vendor/jewels\\): you do not administer it`));
    assert.match(error, new RegExp(`${PAYROLL} \\(submodule vendor/payroll\\): in workspace ${t.otherWorkspace}, not this one`));
    assert.match(error, /connect this repository only \(without submodules/);
    assert.deepEqual(keyPosts(before), [], 'no key was added anywhere');
    for (const repo of [MINE, JEWELS, PAYROLL]) assert.deepEqual(keysOn(repo), [], repo);
    assert.equal(h.stack.valohai.state.hasKey(TOOLS.repositoryId), false, 'Valohai got no key');
    assert.ok(!h.stack.valohai.requests.slice(valohaiBefore).some((r) => r.method === 'PATCH'), 'no Valohai setting changed');
    // No key was listed on a repository she cannot see either: the check came first.
    assert.ok(
      !h.stack.bitbucket.requests.slice(before).some((r) => r.path.includes('/deploy-keys') && !r.path.includes(t.malloryRepo)),
      'keys of other repositories were not even read',
    );
  });

  test('a workspace admin allowing the other workspace does not let her into it: she is nobody there', async () => {
    await setTrust('repository-admins', [t.otherWorkspace]);
    const before = h.stack.bitbucket.requests.length;
    const job = await run('mallory', MINE, h.call('startConnect', choices(TOOLS.id), as('mallory', MINE)));
    assert.equal(job.status, 'failed');
    assert.match(job.result?.error ?? '', new RegExp(`${PAYROLL} \\(submodule vendor/payroll\\): you do not administer it`));
    assert.deepEqual(keyPosts(before), []);
    await setTrust('repository-admins', []);
  });

  test('connecting her repository only puts the key on it alone', async () => {
    const before = h.stack.bitbucket.requests.length;
    const job = await run('mallory', MINE, h.call('startConnect', choices(TOOLS.id, false), as('mallory', MINE)));
    // Valohai fetches submodules too, and cannot fetch the ones it has no key for: that is the point.
    assert.equal(job.status, 'unverified', job.result?.error ?? job.error);
    assert.match(job.result?.error ?? '', /crown-jewels/);
    assert.deepEqual(keyPosts(before), [MINE]);
    assert.equal(keysOn(MINE).length, 1);
    const gone = await run('mallory', MINE, h.call('startDisconnect', {}, as('mallory', MINE)));
    assert.equal(gone.status, 'done', gone.result?.error ?? gone.error);
    assert.deepEqual(keysOn(MINE), []);
  });
});

describe('attack 3: a writer steers the admin’s next rotate', () => {
  const REPO = 'acme/inference-api';
  const original = ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'];

  test('a submodule added by a writer in another workspace stops the rotate before anything changes', async () => {
    const connected = await run('admin', REPO, h.call('startConnect', choices(PROJECTS.inference.id), as('admin', REPO)));
    assert.equal(connected.status, 'done', connected.result?.error ?? connected.error);
    const fingerprint = h.stack.valohai.state.repository(PROJECTS.inference.repositoryId)?.sshKeyFingerprint;
    const keysBefore = original.map((r) => keysOn(r).map((k) => k.id));

    // What Wes can do with write access: push a commit that adds two submodules.
    const state = h.stack.bitbucket.state;
    const gitDir = state.findRepo('acme', 'inference-api')?.path ?? '';
    const headOf = (ws: string, slug: string) =>
      execFileSync('git', ['--git-dir', state.findRepo(ws, slug)?.path ?? '', 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    const gitmodules = execFileSync('git', ['--git-dir', gitDir, 'show', 'main:.gitmodules'], { encoding: 'utf8' });
    await state.pushCommit('acme', 'inference-api', {
      branch: 'main',
      message: 'Vendor payroll and the jewels',
      files: {
        '.gitmodules': `${gitmodules}[submodule "vendor/payroll"]\n\tpath = vendor/payroll\n\turl = ../../${PAYROLL}.git\n[submodule "vendor/jewels"]\n\tpath = vendor/jewels\n\turl = ../${t.crownJewels}.git\n`,
      },
      gitlinks: { 'vendor/payroll': headOf(t.otherWorkspace, t.payroll), 'vendor/jewels': headOf('acme', t.crownJewels) },
    });

    const before = h.stack.bitbucket.requests.length;
    const job = await run('admin', REPO, h.call('startRotate', {}, as('admin', REPO)));
    assert.equal(job.status, 'failed');
    assert.match(job.result?.error ?? '', new RegExp(`${PAYROLL} \\(submodule vendor/payroll\\): in workspace ${t.otherWorkspace}, not this one`));
    assert.deepEqual(keyPosts(before), [], 'no key was added anywhere');
    assert.deepEqual(keysOn(PAYROLL), []);
    assert.deepEqual(keysOn(JEWELS), []);
    assert.deepEqual(original.map((r) => keysOn(r).map((k) => k.id)), keysBefore, 'the old key stays everywhere');
    assert.equal(h.stack.valohai.state.repository(PROJECTS.inference.repositoryId)?.sshKeyFingerprint, fingerprint);
  });

  test('once allowed, the rotate goes ahead and its result names each repository that is new', async () => {
    await setTrust('repository-admins', [t.otherWorkspace]);
    const job = await run('admin', REPO, h.call('startRotate', {}, as('admin', REPO)));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    const added = job.result?.warnings.filter((w) => w.code === 'new-target') ?? [];
    assert.deepEqual(added.map((w) => w.repository).sort(), [JEWELS, PAYROLL].sort());
    assert.match(added[0]?.message ?? '', /was not part of this connection when it was made/);
    for (const repo of [...original, JEWELS, PAYROLL]) assert.equal(keysOn(repo).length, 1, repo);
  });
});

describe('attack 2: a key is trusted by its label', () => {
  test('a key Mallory labelled like the app’s is reported, never copied, trusted or removed', async () => {
    await setTrust('repository-admins', [t.otherWorkspace]);
    // The issue's order: her repository was connected once and disconnected (Valohai keeps its URL and ref).
    for (const step of [() => h.call('startConnect', choices(TOOLS.id, false), as('admin', MINE)), () => h.call('startDisconnect', {}, as('admin', MINE))]) {
      const done = await run('admin', MINE, step());
      assert.ok(done.status !== 'failed', done.result?.error ?? done.error);
    }
    // Her own key pair, with a label shaped like the app's for the project, on her repository.
    const hers = await generateKeyPair({ type: 'ed25519', comment: 'mallory@laptop' });
    const label = accessKeyLabel(TOOLS.name, TOOLS.id, new Date());
    const mine = h.stack.bitbucket.state.findRepo('acme', t.malloryRepo);
    assert.ok(mine);
    const planted = h.stack.bitbucket.state.addAccessKey(mine, { key: hers.publicKey, label });
    const herKey = planted.key;

    // She asks the workspace admin to connect her repository with its submodules.
    const before = h.stack.bitbucket.requests.length;
    const othersBefore = new Map([JEWELS, PAYROLL].map((repo) => [repo, keysOn(repo).map((k) => k.id)]));
    const job = await run('admin', MINE, h.call('startConnect', choices(TOOLS.id), as('admin', MINE)));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);

    const posted = h.stack.bitbucket.requests.slice(before).filter((r) => r.method === 'POST' && r.path.includes('/deploy-keys'));
    assert.ok(posted.length > 0);
    assert.ok(posted.every((r) => !r.body.includes(herKey.split(' ')[1] ?? '-')), 'her key was never sent to another repository');
    for (const repo of [JEWELS, PAYROLL]) {
      assert.ok(!keysOn(repo).some((k) => k.key === herKey), `her key is not on ${repo}`);
      assert.equal(keysOn(repo).length, (othersBefore.get(repo)?.length ?? 0) + 1, `${repo} got the app's new key`);
    }
    assert.ok(keysOn(MINE).some((k) => k.id === planted.id), 'her key was not removed either: it is not ours');
    assert.notEqual(job.result?.fingerprint, hers.fingerprint, 'Valohai got a new key of the app, not hers');
    assert.equal(h.stack.valohai.state.repository(TOOLS.repositoryId)?.sshKeyFingerprint, job.result?.fingerprint);

    const warning = job.result?.warnings.find((w) => w.code === 'lookalike-key');
    assert.ok(warning, JSON.stringify(job.result?.warnings));
    assert.equal(warning.repository, MINE);
    assert.match(warning.message, new RegExp(`access key ${planted.id} "${label.replace(/[[\]]/g, '\\$&')}" \\(${hers.fingerprint.replace(/[+/]/g, '\\$&')}\\)`));
    assert.match(warning.message, /not one this connection recorded/);

    // Disconnect removes the app's key everywhere and leaves hers.
    const gone = await run('admin', MINE, h.call('startDisconnect', {}, as('admin', MINE)));
    assert.equal(gone.status, 'done', gone.result?.error ?? gone.error);
    assert.deepEqual(keysOn(MINE).map((k) => k.id), [planted.id]);
    for (const repo of [JEWELS, PAYROLL]) assert.deepEqual(keysOn(repo).map((k) => k.id), othersBefore.get(repo), repo);
    assert.ok(gone.result?.warnings.some((w) => w.code === 'lookalike-key' && w.repository === MINE));
  });
});
