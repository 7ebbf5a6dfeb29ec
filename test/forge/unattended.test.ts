// Work nobody started only restores what a person granted. Each numbered attack of the unattended-work
// issue, tried over the stand-ins through the real push trigger, scheduled trigger, queue consumer and
// resolvers: a writer (Wes, who may push to ml work but not read the jewels) chooses what .gitmodules
// names; Mallory really is only the admin of acme/mallory-tools. After each, the stand-ins say which keys
// are where, and the private key Valohai holds is tried against the repositories with real git.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DEFAULT_HEALTH_POLICY, type JobView, type StartConnectPayload } from '../../src/forge/contract';
import { loadHealth, savePolicy } from '../../src/forge/store/health-records';
import { bareUuid, keys } from '../../src/forge/store/keys';
import type { JobRecord, StoredConnection } from '../../src/forge/store/records';
import { PUSH_TOKEN_REQUESTS_PER_HOUR } from '../../src/forge/health/push';
import { trustCredentials as t, trustSeed, type Seed } from '../../dev/seed/index';
import { gitReach } from '../support/e2e';
import type { ReplyOf } from './support/reply';
import { PROJECTS, TOOLS, bb, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type SentRequest, type Who } from './support/forge-fixture';

const DAY = 86_400_000;
const JEWELS = `acme/${t.crownJewels}`;
const PAYROLL = `${t.otherWorkspace}/${t.payroll}`;

async function start(seed: Seed, record?: (r: SentRequest) => void): Promise<Harness> {
  const h = await startHarness({ seed, valohaiSeed: valohaiSeedWithTools, ...(record ? { record } : {}) });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  return h;
}

const as = (h: Harness, who: Who, slug: string) => ({ ...h.context(who), repositoryUuid: h.repoUuid(slug) });

async function run(h: Harness, who: Who, slug: string, started: Promise<ReplyOf<'startConnect'>>): Promise<JobView> {
  const { jobId } = valueOf(await started);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, as(h, who, slug)));
}

async function connect(h: Harness, who: Who, slug: string, projectId: string, submodules = true): Promise<StoredConnection> {
  const choices: StartConnectPayload = { projectId, ref: 'main', keyType: 'ed25519', submodules };
  const job = await run(h, who, slug, h.call('startConnect', choices, as(h, who, slug)));
  // Without submodules Valohai's fetch, which follows them, cannot verify: the connection is made all the same.
  assert.ok(job.status === 'done' || (!submodules && job.status === 'unverified'), job.result?.error ?? job.error);
  return stored(h, slug);
}

async function stored(h: Harness, slug: string): Promise<StoredConnection> {
  const c = await h.platform.store.get<StoredConnection>(keys.connection(h.workspaceId, h.repoUuid(slug)));
  assert.ok(c, `a connection of ${slug}`);
  return c;
}

/** The public keys on a repository, as Bitbucket holds them. */
function keysOn(h: Harness, fullName: string): string[] {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return h.stack.bitbucket.state.listAccessKeys(repo).map((k) => k.key.split(/\s+/).slice(0, 2).join(' '));
}

const headOf = (h: Harness, ws: string, slug: string) =>
  execFileSync('git', ['--git-dir', h.stack.bitbucket.state.findRepo(ws, slug)?.path ?? '', 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
const gitmodulesOf = (h: Harness, slug: string) => {
  try {
    return execFileSync('git', ['--git-dir', h.stack.bitbucket.state.findRepo('acme', slug)?.path ?? '', 'show', 'main:.gitmodules'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};

/** A writer's push to main adding submodules (path, url, target repository), and the push event Bitbucket sends. */
async function pushSubmodules(h: Harness, slug: string, added: { path: string; url: string; repo: string }[]): Promise<void> {
  const text = added.map((a) => `[submodule "${a.path}"]\n\tpath = ${a.path}\n\turl = ${a.url}\n`).join('');
  const gitlinks = Object.fromEntries(added.map((a) => [a.path, headOf(h, a.repo.split('/')[0] ?? '', a.repo.split('/')[1] ?? '')]));
  await h.stack.bitbucket.state.pushCommit('acme', slug, { branch: 'main', message: `Vendor ${added.map((a) => a.repo).join(', ')}`, files: { '.gitmodules': `${gitmodulesOf(h, slug)}${text}` }, gitlinks });
}

const pushEvent = (h: Harness, slug: string) => ({ repository: { uuid: h.repoUuid(slug) }, workspace: { uuid: h.workspaceId }, push: { ref: 'main' } });

/** The private key Valohai holds for a project's repository settings. */
function valohaiKey(h: Harness, repositoryId: number): string {
  const key = h.stack.valohai.state.keyFor(repositoryId);
  assert.ok(key, 'Valohai holds a key');
  return key;
}

const canClone = (h: Harness, key: string, fullName: string) =>
  gitReach(h.stack, key, fullName.split('/')[0] ?? '', [fullName.split('/')[1] ?? '']).then(
    () => true,
    () => false,
  );

/** One day on, and the hourly trigger: every connection is due its daily check. */
async function nextDay(h: Harness, days = 1): Promise<void> {
  h.advance(days * DAY + 60_000);
  await h.backend.onSchedule();
  await h.platform.idle();
}

describe('a writer names repositories in .gitmodules of a workspace admin\'s connection', () => {
  let h: Harness;
  let connection: StoredConnection;
  before(async () => {
    h = await start(trustSeed);
    // The admin's own workspace is allowed for submodules: the token and the maker reach payroll too.
    valueOf(await h.call('saveTrustSettings', { connectors: 'workspace-admins', otherWorkspaces: [t.otherWorkspace] }, h.context('admin')));
    connection = await connect(h, 'admin', 'inference-api', PROJECTS.inference.id);
    await pushSubmodules(h, 'inference-api', [
      { path: 'vendor/jewels', url: `../${t.crownJewels}.git`, repo: JEWELS },
      { path: 'vendor/payroll', url: `../../${t.otherWorkspace}/${t.payroll}.git`, repo: PAYROLL },
    ]);
  });
  after(async () => {
    await h?.close();
  });

  test('1. the daily check alone gives crown-jewels and payroll no key; the page names them as new submodules needing an admin', async () => {
    await nextDay(h);
    assert.deepEqual(keysOn(h, JEWELS), []);
    assert.deepEqual(keysOn(h, PAYROLL), []);
    const health = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid('inference-api'));
    assert.deepEqual(health.needsAdmin.map((n) => [n.repository, n.newSubmodule]).sort(), [[JEWELS, true], [PAYROLL, true]]);
    assert.deepEqual(health.entries.at(-1)?.changes, [], 'nothing recorded as added');
    const page = valueOf(await h.call('getRepositoryPage', {}, as(h, 'admin', 'inference-api')));
    assert.deepEqual(page.connection?.health?.needsAdmin.map((n) => n.repository).sort(), [JEWELS, PAYROLL]);
    const key = valohaiKey(h, PROJECTS.inference.repositoryId);
    assert.equal(await canClone(h, key, JEWELS), false, 'Valohai cannot clone crown-jewels');
    assert.equal(await canClone(h, key, PAYROLL), false, 'Valohai cannot clone payroll');
    assert.equal(await canClone(h, key, 'acme/inference-api'), true, 'the repository granted still works');
  });

  test('1. the push trigger gives them no key either, and the record gains no repository', async () => {
    assert.equal(await h.backend.onPush(pushEvent(h, 'inference-api')), 'queued');
    await h.platform.idle();
    assert.deepEqual(keysOn(h, JEWELS), []);
    assert.deepEqual(keysOn(h, PAYROLL), []);
    const c = await stored(h, 'inference-api');
    assert.deepEqual(c.record.targets.map((x) => x.repository).sort(), connection.record.targets.map((x) => x.repository).sort());
  });

  test('2. an automatic rotation, with drift set to alert only, refuses the grown list and leaves the old key working', async () => {
    await savePolicy(h.platform.store, bareUuid(h.workspaceId, 'workspace'), {
      ...DEFAULT_HEALTH_POLICY,
      drift: 'alert',
      autoRotate: { enabled: true, everyDays: 180, perDay: 5 },
    });
    const before = await stored(h, 'inference-api');
    const from = h.platform.enqueued.length;
    await nextDay(h, 181);
    const jobs = await Promise.all(
      h.platform.enqueued
        .slice(from)
        .filter((m): m is Extract<typeof m, { type: 'job' }> => m.type === 'job')
        .map((m) => h.platform.store.get<JobRecord>(keys.job(m.jobId))),
    );
    const rotation = jobs.find((j) => j?.input.kind === 'rotate');
    assert.ok(rotation, 'the policy started a rotation');
    assert.equal(rotation.status, 'failed');
    assert.match(rotation.result?.error ?? '', /crown-jewels[\s\S]*payroll|payroll[\s\S]*crown-jewels/);
    const after = await stored(h, 'inference-api');
    assert.equal(after.record.publicKey, before.record.publicKey, 'the old key stays');
    assert.deepEqual(keysOn(h, JEWELS), []);
    assert.deepEqual(keysOn(h, PAYROLL), []);
    assert.equal(await canClone(h, valohaiKey(h, PROJECTS.inference.repositoryId), 'acme/inference-api'), true, 'the old key still works');
    const alert = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid('inference-api'))).entries
      .flatMap((e) => e.findings)
      .find((f) => f.code === 'auto-rotate-failed');
    assert.match(alert?.message ?? '', /crown-jewels/, 'the alert names what stopped it');
    await savePolicy(h.platform.store, bareUuid(h.workspaceId, 'workspace'), DEFAULT_HEALTH_POLICY);
  });
});

describe('a connection made without submodules', () => {
  let h: Harness;
  before(async () => {
    h = await start(trustSeed);
  });
  after(async () => {
    await h?.close();
  });

  test('3. keeps its choice: neither the daily check nor a bulk rotate puts its key on the submodule repositories', async () => {
    const c = await connect(h, 'admin', 'ml-models', PROJECTS.training.id, false);
    assert.equal(c.record.submodules, false, 'the choice is part of the record');
    assert.deepEqual(c.record.targets.map((x) => x.repository), ['acme/ml-models']);
    await nextDay(h);
    for (const sub of ['acme/datasets', 'acme/training-lib']) assert.ok(!keysOn(h, sub).includes((await stored(h, 'ml-models')).record.publicKey), `${sub} got no key`);

    valueOf(await h.call('startBatch', { action: 'rotate', repositories: ['acme/ml-models'] }, h.context('admin')));
    await h.platform.idle();
    const rotated = await stored(h, 'ml-models');
    assert.notEqual(rotated.record.publicKey, c.record.publicKey, 'rotated');
    assert.equal(rotated.record.submodules, false);
    assert.deepEqual(rotated.record.targets.map((x) => x.repository), ['acme/ml-models']);
    for (const sub of ['acme/datasets', 'acme/training-lib']) assert.ok(!keysOn(h, sub).includes(rotated.record.publicKey), `${sub} got no key from the rotation`);
  });
});

describe('a repository admin chooses what her connection reaches', () => {
  let h: Harness;
  let tools: StoredConnection;
  before(async () => {
    h = await start(trustSeed);
    valueOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: [] }, h.context('admin')));
    // Her repository without its submodules, connected by her.
    await h.stack.bitbucket.state.pushCommit('acme', t.malloryRepo, {
      branch: 'main',
      message: 'No vendoring',
      files: { '.gitmodules': null },
      gitlinks: { 'vendor/jewels': null, 'vendor/payroll': null },
    });
    tools = await connect(h, 'mallory', t.malloryRepo, TOOLS.id);
  });
  after(async () => {
    await h?.close();
  });

  test('4. the workspace admin\'s routine bulk rotate refuses her connection once it names crown-jewels, and says so in the plan and the summary', async () => {
    await pushSubmodules(h, t.malloryRepo, [{ path: 'vendor/jewels', url: `../${t.crownJewels}.git`, repo: JEWELS }]);
    const plan = valueOf(await h.call('planBatch', { action: 'rotate', olderThanDays: 0 }, h.context('admin')));
    const item = plan.act.find((a) => a.repository === `acme/${t.malloryRepo}`);
    assert.deepEqual(item?.repositories, [`acme/${t.malloryRepo}`], 'the plan names every repository the item touches');
    valueOf(await h.call('startBatch', { action: 'rotate', olderThanDays: 0 }, h.context('admin')));
    await h.platform.idle();
    const batch = valueOf(await h.call('getBatch', { pageSize: 200 }, h.context('admin'))).batch;
    const outcome = batch?.items.find((i) => i.repository === `acme/${t.malloryRepo}`);
    assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
    assert.match(outcome?.error ?? '', /crown-jewels/);
    assert.deepEqual(keysOn(h, JEWELS), []);
    assert.equal((await stored(h, t.malloryRepo)).record.publicKey, tools.record.publicKey, 'her old key stays');
    assert.equal(await canClone(h, valohaiKey(h, TOOLS.repositoryId), JEWELS), false, 'her Valohai project cannot clone crown-jewels');
  });

  test('8. once only workspace admins may connect, her connection is neither repaired nor rotated by itself; the page says why and who takes over', async () => {
    // The superproject's key is removed by hand: a check would put it back for its maker.
    const repo = h.stack.bitbucket.state.findRepo('acme', t.malloryRepo);
    assert.ok(repo);
    await h.stack.bitbucket.state.pushCommit('acme', t.malloryRepo, { branch: 'main', message: 'No vendoring again', files: { '.gitmodules': null }, gitlinks: { 'vendor/jewels': null } });
    for (const k of h.stack.bitbucket.state.listAccessKeys(repo)) h.stack.bitbucket.state.deleteAccessKey(k);
    valueOf(await h.call('saveTrustSettings', { connectors: 'workspace-admins', otherWorkspaces: [] }, h.context('admin')));
    await savePolicy(h.platform.store, bareUuid(h.workspaceId, 'workspace'), { ...DEFAULT_HEALTH_POLICY, autoRotate: { enabled: true, everyDays: 180, perDay: 5 } });

    await nextDay(h);
    assert.deepEqual(keysOn(h, `acme/${t.malloryRepo}`), [], 'not put back for her');
    const health = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(t.malloryRepo));
    const lapsed = health.entries.at(-1)?.findings.find((f) => f.code === 'connector-lapsed');
    assert.match(lapsed?.message ?? '', /no longer allowed to connect/);
    assert.match(lapsed?.fix ?? '', /takes the connection over by rotating it/);

    // Her own click is refused, and so is the policy's rotation done for her.
    const own = await h.call('startRotate', {}, as(h, 'mallory', t.malloryRepo));
    assert.equal(own.ok, false);
    const publicKey = (await stored(h, t.malloryRepo)).record.publicKey;
    await nextDay(h, 181);
    assert.equal((await stored(h, t.malloryRepo)).record.publicKey, publicKey, 'no automatic rotation for her');
    const alert = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(t.malloryRepo))).entries.flatMap((e) => e.findings).find((f) => f.code === 'auto-rotate-failed');
    assert.match(alert?.message ?? '', /Automatic rotation stopped/);

    // A workspace admin's Rotate takes it over: automatic work acts for her from then on.
    const job = await run(h, 'admin', t.malloryRepo, h.call('startRotate', {}, as(h, 'admin', t.malloryRepo)));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    assert.equal((await stored(h, t.malloryRepo)).connectedBy, bb.admin.accountId);
    await savePolicy(h.platform.store, bareUuid(h.workspaceId, 'workspace'), DEFAULT_HEALTH_POLICY);
  });
});

describe('pushes that keep changing .gitmodules', () => {
  const LIBS = Array.from({ length: 20 }, (_, i) => `lib-${String(i).padStart(2, '0')}`);
  const seed: Seed = {
    ...trustSeed,
    workspaces: trustSeed.workspaces.map((ws) =>
      ws.slug !== 'acme' ? ws : { ...ws, repos: [...ws.repos, ...LIBS.map((slug) => ({ slug, name: slug, commits: [{ message: 'Library', files: { 'README.md': `# ${slug}\n` } }] }))] },
    ),
  };
  let h: Harness;
  const sent: SentRequest[] = [];
  before(async () => {
    h = await start(seed, (r) => sent.push(r));
    await connect(h, 'admin', 'inference-api', PROJECTS.inference.id);
  });
  after(async () => {
    await h?.close();
  });

  test('5. ten pushes alternating two lists of ten repositories spend at most the push share of the token, and the admin\'s Rotate still works', async () => {
    const from = sent.length;
    const base = gitmodulesOf(h, 'inference-api');
    for (let i = 0; i < 10; i++) {
      const list = (i % 2 === 0 ? LIBS.slice(0, 10) : LIBS.slice(10)).map((slug) => ({ path: `vendor/${slug}`, url: `../${slug}.git`, repo: `acme/${slug}` }));
      const text = list.map((a) => `[submodule "${a.path}"]\n\tpath = ${a.path}\n\turl = ${a.url}\n`).join('');
      const gitlinks: Record<string, string | null> = Object.fromEntries(LIBS.map((slug) => [`vendor/${slug}`, null]));
      for (const a of list) gitlinks[a.path] = headOf(h, 'acme', a.repo.split('/')[1] ?? '');
      await h.stack.bitbucket.state.pushCommit('acme', 'inference-api', { branch: 'main', message: `Vendor list ${i % 2}`, files: { '.gitmodules': `${base}${text}` }, gitlinks });
      await h.backend.onPush(pushEvent(h, 'inference-api'));
      await h.platform.idle();
    }
    const spent = sent.slice(from).filter((r) => r.via === 'token').length;
    assert.ok(spent <= PUSH_TOKEN_REQUESTS_PER_HOUR, `the pushes spent ${spent} stored-token requests, more than ${PUSH_TOKEN_REQUESTS_PER_HOUR}`);
    for (const slug of LIBS) assert.deepEqual(keysOn(h, `acme/${slug}`), [], `${slug} got no key`);
    // Valohai fetched for every push all the same.
    assert.ok((await stored(h, 'inference-api')).lastPushFetch, 'the pushes were fetched');

    await h.stack.bitbucket.state.pushCommit('acme', 'inference-api', { branch: 'main', message: 'Back to the start', files: { '.gitmodules': base }, gitlinks: Object.fromEntries(LIBS.map((slug) => [`vendor/${slug}`, null])) });
    const job = await run(h, 'admin', 'inference-api', h.call('startRotate', {}, as(h, 'admin', 'inference-api')));
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
  });
});
