// Pushes that change what Valohai must fetch, over the stand-ins: a submodule added gets the key before
// Valohai fetches, but only where the connection's maker administers it; one removed leaves its key
// listed as unneeded; a push elsewhere costs nothing. Mallory really is a lesser-role account of the
// emulator: she administers acme/mallory-tools and nothing else, while the stored token reaches it all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DEFAULT_HEALTH_POLICY, HIDDEN_REPOSITORY, type JobView } from '../../src/forge/contract';
import { loadHealth, savePolicy } from '../../src/forge/store/health-records';
import { keys } from '../../src/forge/store/keys';
import type { StoredConnection } from '../../src/forge/store/records';
import { trustCredentials as t, trustSeed } from '../../dev/seed/index';
import type { ReplyOf } from './support/reply';
import { ALL_TOKENS, PROJECTS, TOOLS, assertNoSecrets, bb, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type SentRequest, type Who } from './support/forge-fixture';

const REPO = 'inference-api';
const JEWELS = `acme/${t.crownJewels}`;

let h: Harness;
const sent: SentRequest[] = [];

before(async () => {
  h = await startHarness({
    seed: trustSeed,
    record: (r) => sent.push(r),
    valohaiSeed: valohaiSeedWithTools,
  });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  const job = await run('admin', REPO, h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, as('admin', REPO)));
  assert.equal(job.status, 'done', job.result?.error ?? job.error);
});
after(async () => {
  await h?.close();
});

const as = (who: Who, slug: string) => ({ ...h.context(who), repositoryUuid: h.repoUuid(slug) });

async function run(who: Who, slug: string, start: Promise<ReplyOf<'startConnect'>>): Promise<JobView> {
  const { jobId } = valueOf(await start);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, as(who, slug)));
}

const pushEvent = (slug: string, ref: string) => ({ repository: { uuid: h.repoUuid(slug) }, workspace: { uuid: h.workspaceId }, push: { ref } });

function keysOn(fullName: string) {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return h.stack.bitbucket.state.listAccessKeys(repo);
}

const headOf = (ws: string, slug: string, branch = 'main') =>
  execFileSync('git', ['--git-dir', h.stack.bitbucket.state.findRepo(ws, slug)?.path ?? '', 'rev-parse', branch], { encoding: 'utf8' }).trim();
const gitmodulesOf = (slug: string) =>
  execFileSync('git', ['--git-dir', h.stack.bitbucket.state.findRepo('acme', slug)?.path ?? '', 'show', 'main:.gitmodules'], { encoding: 'utf8' });

async function stored(slug: string): Promise<StoredConnection> {
  const c = await h.platform.store.get<StoredConnection>(keys.connection(h.workspaceId, h.repoUuid(slug)));
  assert.ok(c);
  return c;
}

/** Valohai's fetch requests since `from`. */
const valohaiFetches = (from: number) => h.stack.valohai.requests.slice(from).filter((r) => r.method === 'POST' && r.path.includes('/fetch/'));

describe('pushes to the connection of a workspace admin', () => {
  test('a push to another branch makes no fetch and costs one record read', async () => {
    await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'experiment', message: 'Try something', files: { 'try.py': 'print(1)\n' } });
    const ops = h.platform.store.operations.length;
    const valohaiFrom = h.stack.valohai.requests.length;
    const bitbucketFrom = sent.length;
    assert.equal(await h.backend.onPush(pushEvent(REPO, 'experiment')), 'ignored');
    await h.platform.idle();
    assert.deepEqual(h.platform.store.operations.slice(ops).map((o) => o.op), ['get']);
    assert.deepEqual(valohaiFetches(valohaiFrom), []);
    assert.equal(sent.length, bitbucketFrom);
  });

  test('a submodule a push adds gets no key from the push, even where the maker administers it; the admin\'s own Rotate adds it', async () => {
    const head = await h.stack.bitbucket.state.pushCommit('acme', REPO, {
      branch: 'main',
      message: 'Vendor the jewels',
      files: { '.gitmodules': `${gitmodulesOf(REPO)}[submodule "vendor/jewels"]\n\tpath = vendor/jewels\n\turl = ../${t.crownJewels}.git\n` },
      gitlinks: { 'vendor/jewels': headOf('acme', t.crownJewels) },
    });
    assert.deepEqual(keysOn(JEWELS), []);
    const from = sent.length;
    assert.equal(await h.backend.onPush(pushEvent(REPO, 'main')), 'queued');
    await h.platform.idle();

    // Whoever pushed chose the repository, not a person who may give it the key: nothing goes there,
    // and the stored token does not even read its keys.
    assert.deepEqual(keysOn(JEWELS), []);
    assert.deepEqual(sent.slice(from).filter((r) => r.via === 'token' && r.path.includes(t.crownJewels)), []);
    const c = await stored(REPO);
    assert.ok(!c.record.targets.some((x) => x.repository === JEWELS), 'not a recorded target');
    // Valohai's fetch follows submodules, so it cannot clone the new one: the page says why.
    assert.equal(c.lastFetch?.ok, false, JSON.stringify(c.lastFetch));
    assert.ok(!h.stack.valohai.state.commits(PROJECTS.inference.id).some((x) => x.identifier === head));

    const health = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO));
    assert.deepEqual(health.needsAdmin.map((n) => [n.repository, n.newSubmodule]), [[JEWELS, true]]);
    assert.match(health.needsAdmin[0]?.reason ?? '', /New submodule/);
    const entry = health.entries.at(-1);
    assert.equal(entry?.trigger, 'push');
    assert.deepEqual(entry?.changes, []);
    assert.equal(entry?.health, 'broken');
    assert.match(entry?.findings.find((f) => f.code === 'needs-admin')?.fix ?? '', /rotates the connection from this page/);
    const page = valueOf(await h.call('getRepositoryPage', {}, as('admin', REPO)));
    assert.deepEqual(page.connection?.health?.needsAdmin.map((n) => n.repository), [JEWELS]);

    // The button beside it is the ordinary Rotate: authorised for the person who clicks, it adds the key.
    const job = await run('admin', REPO, h.call('startRotate', {}, as('admin', REPO)));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    const rotated = await stored(REPO);
    assert.equal(keysOn(JEWELS).length, 1);
    assert.equal(keysOn(JEWELS)[0]?.key, rotated.record.publicKey, "the connection's own key");
    assert.ok(rotated.record.targets.some((x) => x.repository === JEWELS), 'now a recorded target');
    assert.equal(rotated.connectedBy, bb.admin.accountId, 'the person who rotated answers for it now');
    assert.equal(rotated.lastFetch?.ok, true);
    assert.ok(h.stack.valohai.state.commits(PROJECTS.inference.id).some((x) => x.identifier === head));
  });

  test('a push that leaves .gitmodules alone is the plain fetch: no stored-token request, no check', async () => {
    const entries = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).entries.length;
    const head = await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'Serve faster', files: { 'serve.py': 'print("fast")\n' } });
    const from = sent.length;
    assert.equal(await h.backend.onPush(pushEvent(REPO, 'main')), 'queued');
    await h.platform.idle();
    assert.deepEqual(sent.slice(from).filter((r) => r.via === 'token'), []);
    assert.ok(sent.slice(from).filter((r) => r.via === 'app').length <= 2, 'the head and .gitmodules, read as the app');
    assert.equal((await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).entries.length, entries);
    assert.ok(h.stack.valohai.state.commits(PROJECTS.inference.id).some((x) => x.identifier === head));
    assert.equal((await stored(REPO)).lastPushFetch?.errors.length, 0);
  });

  test('a submodule removed keeps its key, listed as unneeded; with removal chosen the check takes it off', async () => {
    const without = gitmodulesOf(REPO).replace(/\[submodule "datasets"\][^[]*/, '');
    assert.doesNotMatch(without, /datasets/);
    await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'Drop the datasets', files: { '.gitmodules': without }, gitlinks: { datasets: null } });
    assert.equal(await h.backend.onPush(pushEvent(REPO, 'main')), 'queued');
    await h.platform.idle();
    const key = keysOn('acme/datasets');
    assert.equal(key.length, 1, 'the key stays');
    const notice = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).keyNotices.find((n) => n.kind === 'unneeded');
    assert.deepEqual(notice && [notice.repository, notice.keyId, notice.removable, notice.connection], ['acme/datasets', key[0]?.id, true, `acme/${REPO}`]);
    assert.equal((await stored(REPO)).lastFetch?.ok, true);
    // Still recorded, so that a disconnect now would still take the key off there; marked unneeded.
    const offered = await stored(REPO);
    assert.ok(offered.record.targets.some((x) => x.repository === 'acme/datasets'), 'the repository stays in the record until its key is gone');
    assert.deepEqual(offered.unneededTargets, ['acme/datasets']);

    // One click removes it, for a workspace admin only, and only a key the connection no longer needs.
    const writer = await h.call('removeUnneededKey', { repository: 'acme/datasets', keyId: key[0]?.id ?? 0 }, h.context('writer'));
    assert.equal(writer.ok, false, 'a writer may not remove keys');
    const needed = keysOn('acme/training-lib')[0];
    assert.ok(needed);
    const refused = await h.call('removeUnneededKey', { repository: 'acme/training-lib', keyId: needed.id }, h.context('admin'));
    assert.equal(refused.ok, false, 'a key Valohai still fetches with is not offered');
    assert.equal(keysOn('acme/training-lib').length, 1);
    assert.deepEqual(valueOf(await h.call('removeUnneededKey', { repository: 'acme/datasets', keyId: key[0]?.id ?? 0 }, h.context('admin'))), {
      repository: 'acme/datasets',
      keyId: key[0]?.id,
    });
    assert.deepEqual(keysOn('acme/datasets'), []);
    const removed = await stored(REPO);
    assert.ok(!removed.record.targets.some((x) => x.repository === 'acme/datasets'), 'nothing of the connection is left there');
    assert.deepEqual(removed.unneededTargets, []);
    assert.ok((await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).changes.some((c) => c.kind === 'key-removed' && c.repository === 'acme/datasets'));

    // With removal chosen, the check takes them off itself: training-lib and the feature-store it nests.
    const withoutLib = gitmodulesOf(REPO).replace(/\[submodule "[^"]*training-lib[^"]*"\][^[]*/, '');
    assert.doesNotMatch(withoutLib, /training-lib/);
    const libPath = /\[submodule "[^"]*training-lib[^"]*"\]\s*path = (\S+)/.exec(gitmodulesOf(REPO))?.[1] ?? '';
    assert.ok(libPath);
    await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'Drop the training library', files: { '.gitmodules': withoutLib }, gitlinks: { [libPath]: null } });
    await savePolicy(h.platform.store, h.workspaceId, { ...DEFAULT_HEALTH_POLICY, unneededKeys: 'remove' });
    assert.equal(await h.backend.onPush(pushEvent(REPO, 'main')), 'queued');
    await h.platform.idle();
    assert.deepEqual(keysOn('acme/training-lib'), []);
    assert.deepEqual(keysOn('acme/feature-store'), []);
    const entry = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).entries.at(-1);
    assert.deepEqual(entry?.changes.map((x) => [x.kind, x.repository]).sort(), [['key-removed', 'acme/feature-store'], ['key-removed', 'acme/training-lib']]);
    assert.deepEqual((await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO))).keyNotices.filter((n) => n.kind === 'unneeded'), []);
    const after = await stored(REPO);
    const left = after.record.targets.map((x) => x.repository);
    for (const gone of ['acme/datasets', 'acme/training-lib', 'acme/feature-store']) assert.ok(!left.includes(gone), `${gone} left the record`);
    assert.deepEqual(after.unneededTargets, []);
    await savePolicy(h.platform.store, h.workspaceId, DEFAULT_HEALTH_POLICY);
  });
});

describe('a push by a repository admin adding a submodule only another admin administers', () => {
  const MINE = t.malloryRepo;

  test('her connection is made by her, on her repository alone', async () => {
    valueOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: [] }, h.context('admin')));
    // Her repository without its submodules, then connected by her.
    await h.stack.bitbucket.state.pushCommit('acme', MINE, {
      branch: 'main',
      message: 'No vendoring',
      files: { '.gitmodules': null },
      gitlinks: { 'vendor/jewels': null, 'vendor/payroll': null },
    });
    const job = await run('mallory', MINE, h.call('startConnect', { projectId: TOOLS.id, ref: 'main', keyType: 'ed25519', submodules: true }, as('mallory', MINE)));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    assert.equal((await stored(MINE)).connectedBy, t.mallory.accountId);
  });

  test('nothing is added with the admin’s token; the page says an admin is needed and why, and explains the failed fetch', async () => {
    const jewelKeys = keysOn(JEWELS).map((k) => k.id);
    await h.stack.bitbucket.state.pushCommit('acme', MINE, {
      branch: 'main',
      message: 'Vendor the jewels',
      files: { '.gitmodules': `[submodule "vendor/jewels"]\n\tpath = vendor/jewels\n\turl = ../${t.crownJewels}.git\n` },
      gitlinks: { 'vendor/jewels': headOf('acme', t.crownJewels) },
    });
    const from = h.stack.bitbucket.requests.length;
    assert.equal(await h.backend.onPush(pushEvent(MINE, 'main')), 'queued');
    await h.platform.idle();

    const posts = h.stack.bitbucket.requests.slice(from).filter((r) => r.method === 'POST' && r.path.includes('/deploy-keys'));
    assert.deepEqual(posts, [], 'no key was added anywhere');
    assert.deepEqual(keysOn(JEWELS).map((k) => k.id), jewelKeys);
    // A new submodule is nobody's to grant by a check: not even whether she administers it is asked.
    assert.deepEqual(h.stack.bitbucket.requests.slice(from).filter((r) => r.path.includes('/permissions/repositories')), []);

    const health = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(MINE));
    assert.deepEqual(health.needsAdmin.map((n) => n.repository), [JEWELS]);
    assert.match(health.needsAdmin[0]?.reason ?? '', /New submodule/);
    const entry = health.entries.at(-1);
    assert.equal(entry?.trigger, 'push');
    assert.equal(entry?.health, 'broken');
    const needs = entry?.findings.find((f) => f.code === 'needs-admin');
    assert.match(needs?.fix ?? '', /An admin of acme\/crown-jewels/);
    const failed = entry?.findings.find((f) => f.code === 'fetch-failed');
    assert.match(failed?.message ?? '', /crown-jewels/);
    // She may not see the crown jewels: her page says an admin is needed without naming them; the workspace admin's names them.
    const page = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    assert.deepEqual(page.connection?.health?.needsAdmin.map((n) => n.repository), [HIDDEN_REPOSITORY]);
    const adminPage = valueOf(await h.call('getRepositoryPage', {}, as('admin', MINE)));
    assert.deepEqual(adminPage.connection?.health?.needsAdmin.map((n) => n.repository), [JEWELS]);
    assert.equal((await stored(MINE)).lastFetch?.ok, false);
  });

  test('no secret in any record, log line or reply', async () => {
    await h.platform.idle();
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
    ];
    assertNoSecrets(texts, h.privateKeys, [...ALL_TOKENS, t.mallory.token]);
  });
});
