// A repository connected with the CLI, as the app finds it over the stand-ins (issue 22): the CLI keeps
// its own records, so the app knows the connection only by what Valohai and Bitbucket say. The page load
// suspects it from Valohai's project list at no cost to the stored token; the preview lists its keys;
// Connect refuses to replace it and changes nothing; Adopt (a repository admin's, as connect is) moves
// Valohai to a key of the app's, verified, and leaves the CLI's keys where they are, named. The CLI's
// disconnect afterwards leaves the app's key in Valohai alone, and a CLI key that Valohai fetches with
// is never advised away by the app's checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitbucketClient, createFetchTransport } from '../../src/bitbucket/index';
import { FileConnectionStore } from '../../src/cli/state';
import { connect, disconnect, labelMaker, ownCredentials, type WorkflowDeps, type WorkflowResult } from '../../src/connect/index';
import { DEFAULT_HEALTH_POLICY, type JobView, type StartConnectPayload } from '../../src/forge/contract';
import { runHealthCheck } from '../../src/forge/health/check';
import { loadHealth, savePolicy } from '../../src/forge/store/health-records';
import { bareUuid, keys } from '../../src/forge/store/keys';
import type { JobRecord } from '../../src/forge/store/records';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';
import { assertInvariant } from '../support/e2e';
import type { ReplyOf } from './support/reply';
import { bb, errorOf, PROJECTS, startHarness, storeAdminTokens, valueOf, vh, type Harness, type SentRequest, type Who } from './support/forge-fixture';

const SLUG = 'training-lib';
const REPO = `acme/${SLUG}`;
/** training-lib and the submodule repository its .gitmodules names. */
const TARGETS = ['training-lib', 'feature-store'];
const PROJECT = PROJECTS.training;

let h: Harness;
let cliDir = '';
const sent: SentRequest[] = [];

before(async () => {
  h = await startHarness({ record: (r) => sent.push(r) });
  cliDir = await mkdtemp(join(tmpdir(), 'vb-cli-records-'));
  await storeAdminTokens(h);
});
after(async () => {
  await h?.close();
  if (cliDir) await rm(cliDir, { recursive: true, force: true });
});

/** The engine as the CLI wires it: the demo admin's own token, its own label, its own state folder. */
function cliDeps(): WorkflowDeps {
  return {
    authority: ownCredentials,
    bitbucket: new BitbucketClient({ transport: createFetchTransport({ baseUrl: h.stack.bitbucket.url, email: bb.admin.email, apiToken: bb.admin.token }) }),
    valohai: new ValohaiClient({ host: h.stack.valohai.url, token: vh.admin.token }),
    generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
    store: new FileConnectionStore(cliDir),
    labelMaker: 'cli',
  };
}

const cliConnect = (others?: 'take-over') =>
  connect(cliDeps(), { workspace: 'acme', repo: SLUG, project: PROJECT.id, submodules: true, keyType: 'ed25519', ...(others ? { others } : { others: 'refuse' }) });

function keysOn(slug: string) {
  const repo = h.stack.bitbucket.state.findRepo('acme', slug);
  assert.ok(repo, slug);
  return h.stack.bitbucket.state.listAccessKeys(repo).map((k) => ({ id: k.id, key: k.key, label: k.label }));
}

const world = () => ({ keys: TARGETS.map(keysOn), valohai: h.stack.valohai.state.keyFor(PROJECT.repositoryId) ?? null });
const tokenRequests = (from: number) => sent.slice(from).filter((r) => r.via === 'token');

async function run(who: Who, start: Promise<ReplyOf<'startConnect'>>, slug = SLUG): Promise<JobView> {
  const { jobId } = valueOf(await start);
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, h.context(who, slug)));
}

const choices = (extra: Partial<StartConnectPayload> = {}): StartConnectPayload =>
  ({ projectId: PROJECT.id, ref: 'main', keyType: 'ed25519', submodules: true, ...extra }) as StartConnectPayload;

describe('a repository connected with the CLI, in the app', () => {
  let cli: WorkflowResult;

  before(async () => {
    cli = await cliConnect();
    assert.equal(cli.outcome, 'done', cli.error);
    assert.equal(cli.verified, true);
  });

  test('the page load says Valohai fetches it from outside the app, spending none of the stored token', async () => {
    const from = sent.length;
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', SLUG)));
    assert.equal(page.state, 'ready');
    assert.deepEqual(page.ready?.otherConnection?.project.id, PROJECT.id);
    assert.equal(page.ready?.otherConnection?.project.name, PROJECT.name);
    assert.equal(page.ready?.otherConnection?.ref, 'main');
    assert.equal(page.ready?.otherConnection?.keys, null, 'the keys are not listed on a page load');
    assert.deepEqual(tokenRequests(from), [], 'no stored-token request');
  });

  test('the preview of that project finds the CLI\'s key: its fingerprint, label, last use and the repositories it is on', async () => {
    const from = sent.length;
    const preview = valueOf(await h.call('previewConnect', { submodules: true, projectId: PROJECT.id }, h.context('admin', SLUG)));
    const found = preview.otherConnection;
    assert.ok(found, 'the preview names the other connection');
    assert.equal(found.project.id, PROJECT.id);
    assert.equal(found.keys?.length, 1);
    const [key] = found.keys ?? [];
    assert.ok(key);
    assert.equal(key.maker, 'cli');
    assert.equal(labelMaker(key.label), 'cli');
    assert.equal(key.fingerprint, cli.fingerprint);
    assert.equal(key.live, true);
    assert.ok(key.lastUsed, 'Bitbucket saw it used when the CLI verified');
    assert.deepEqual(
      key.repositories.map((r) => r.repository),
      TARGETS.map((s) => `acme/${s}`),
    );
    // One listing per repository, with the stored token; the repositories themselves are read as the app.
    assert.deepEqual(
      tokenRequests(from).map((r) => r.method),
      TARGETS.map(() => 'GET'),
    );

    // A project that does not fetch this repository costs the token nothing and finds nothing.
    const other = valueOf(await h.call('previewConnect', { submodules: true, projectId: PROJECTS.datasets.id }, h.context('admin', SLUG)));
    assert.equal(other.otherConnection, undefined);
  });

  test('Connect without adopting refuses, names the CLI\'s key and says how to adopt it, and changes nothing', async () => {
    const before = world();
    const job = await run('admin', h.call('startConnect', choices(), h.context('admin', SLUG)));
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', new RegExp(`${REPO} is already connected to Valohai project ${PROJECT.name} by a connection the app does not record`));
    assert.match(job.error ?? '', /made with the CLI/);
    assert.match(job.error ?? '', /nothing was changed/);
    assert.match(job.error ?? '', /choose Adopt/);
    assert.equal(job.result?.otherConnection?.[0]?.fingerprint, cli.fingerprint);
    assert.deepEqual(world(), before, "every key and Valohai's key as they were");
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', SLUG)));
    assert.equal(page.state, 'ready', 'no connection was recorded');
  });

  test('a person who may only read or write the repository cannot adopt it', async () => {
    const before = world();
    const queued = h.platform.enqueued.length;
    for (const who of ['reader', 'writer'] as const) {
      const refused = errorOf(await h.call('startConnect', choices({ adopt: true }), h.context(who, SLUG)));
      assert.equal(refused.code, 'not-admin', who);
    }
    assert.equal(h.platform.enqueued.length, queued, 'no job was queued');
    assert.deepEqual(world(), before);
  });

  test('adopt is for an existing project and a key the app makes', async () => {
    const named = errorOf(await h.call('startConnect', { newProject: { name: 'x', owner: 'acme' }, ref: 'main', keyType: 'ed25519', submodules: true, adopt: true }, h.context('admin', SLUG)));
    assert.equal(named.code, 'invalid-payload');
    assert.match(named.message, /adopt applies to an existing project/);
    const given = errorOf(await h.call('startConnect', choices({ adopt: true, publicKey: 'ssh-ed25519 AAAA' }), h.context('admin', SLUG)));
    assert.equal(given.code, 'invalid-payload');
    // Adopting needs the stored token to put the key on the repositories: the manual path has no such field.
    const manual = errorOf(await h.call('startManualConnect', choices({ adopt: true }), h.context('admin', SLUG)));
    assert.match(manual.message, /adopt is not a known field/);
  });

  test("Adopt gives Valohai the app's own key, verified, and keeps the CLI's keys, named with what to do with them", async () => {
    const before = world();
    const job = await run('admin', h.call('startConnect', choices({ adopt: true }), h.context('admin', SLUG)));
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.result?.verified, true);
    const held = await assertInvariant(h.stack, PROJECT.repositoryId, 'acme', TARGETS);
    assert.ok(held);
    assert.notEqual(h.stack.valohai.state.keyFor(PROJECT.repositoryId), before.valohai, "Valohai holds a new key");
    assert.notEqual(job.result?.fingerprint, cli.fingerprint);
    TARGETS.forEach((slug, i) => {
      const keys = keysOn(slug);
      for (const k of before.keys[i] ?? []) assert.ok(keys.some((n) => n.id === k.id), `the CLI's key ${k.id} stays on acme/${slug}`);
      assert.ok(keys.some((k) => k.key === held), `the app's key is on acme/${slug}`);
      assert.equal(keys.length, 2);
    });
    const note = job.result?.warnings.find((w) => w.code === 'other-connection');
    assert.ok(note, 'the result says what was taken over');
    assert.match(note.message, /Adopted the connection made with the CLI/);
    for (const k of before.keys[0] ?? []) assert.match(note.message, new RegExp(`access key ${k.id} `));
    assert.match(note.message, /remove them with the CLI's disconnect .*, or on each repository's access keys page once nothing uses them/);

    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', SLUG)));
    assert.equal(page.state, 'connected');
    assert.equal(page.connection?.fingerprint, job.result?.fingerprint);
    assert.ok(page.connection?.warnings.some((w) => w.code === 'other-connection'), 'the connection page keeps the note');
    assert.equal(page.ready, undefined);
  });

  test("the CLI's disconnect then removes only its own keys and leaves the app's key in Valohai", async () => {
    const held = h.stack.valohai.state.keyFor(PROJECT.repositoryId);
    const gone = await disconnect(cliDeps(), { workspace: 'acme', repo: SLUG, project: PROJECT.id });
    assert.equal(gone.outcome, 'done', gone.error);
    assert.ok(gone.warnings.some((w) => w.code === 'other-connection' && /fetches with another connection's key/.test(w.message)), JSON.stringify(gone.warnings));
    assert.equal(h.stack.valohai.state.keyFor(PROJECT.repositoryId), held, "Valohai keeps the app's key");
    for (const slug of TARGETS) assert.equal(keysOn(slug).length, 1, `only the app's key is left on acme/${slug}`);
    await assertInvariant(h.stack, PROJECT.repositoryId, 'acme', TARGETS);
    const verified = await run('admin', h.call('startVerify', {}, h.context('admin', SLUG)));
    assert.equal(verified.status, 'done', verified.error);
  });

  test("a CLI key that Valohai fetches with is never advised away by the app's check", async () => {
    // The CLI takes the connection back: Valohai now fetches with the CLI's key, used after the app's.
    const back = await cliConnect('take-over');
    assert.equal(back.outcome, 'done', back.error);
    const ws = h.workspaceId;
    const repo = h.repoUuid(SLUG);
    await runHealthCheck(h.platform, ws, repo, { trigger: 'schedule' });
    const notices = (await loadHealth(h.platform.store, ws, repo)).keyNotices.filter((n) => n.fingerprint === back.fingerprint);
    assert.equal(notices.length, TARGETS.length, JSON.stringify(notices));
    for (const n of notices) {
      assert.equal(n.inUseBy, 'cli');
      assert.equal(n.removable, false);
    }
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', SLUG)));
    const findings = page.connection?.health.latest?.findings.filter((f) => f.code === 'stray-key') ?? [];
    assert.ok(findings.length > 0);
    for (const f of findings) {
      assert.match(f.message, /another connection of this Valohai project, made with the CLI/);
      assert.doesNotMatch(`${f.message} ${f.fix ?? ''}`, /remove it at/);
    }
  });

  test("neither the app's Rotate nor the key-age policy's takes Valohai back from the CLI's connection", async () => {
    const before = world();
    const rotated = await run('admin', h.call('startRotate', {}, h.context('admin', SLUG)));
    assert.equal(rotated.status, 'failed');
    assert.match(rotated.error ?? '', /made with the CLI/);
    assert.match(rotated.error ?? '', /Bitbucket saw that key used after the app's/);
    assert.match(rotated.error ?? '', /nothing was changed/);
    assert.match(rotated.error ?? '', /remove it with the CLI's disconnect where it was made, then rotate here/);
    assert.deepEqual(world(), before, 'every key, and the key Valohai holds, as they were');

    // Half a year on, with nobody at the keyboard: the policy's rotation stops the same way, and says why.
    const ws = bareUuid(h.workspaceId, 'workspace');
    await savePolicy(h.platform.store, ws, { ...DEFAULT_HEALTH_POLICY, autoRotate: { enabled: true, everyDays: 180, perDay: 5 } });
    try {
      const from = h.platform.enqueued.length;
      h.advance(181 * 86_400_000);
      await h.backend.onSchedule();
      await h.platform.idle();
      const ids = h.platform.enqueued.slice(from).flatMap((m) => (m.type === 'job' ? [m.jobId] : []));
      const jobs = await Promise.all(ids.map((id) => h.platform.store.get<JobRecord>(keys.job(id))));
      const automatic = jobs.find((j) => j?.input.kind === 'rotate' && j.input.automatic);
      assert.ok(automatic, 'the policy started a rotation');
      assert.equal(automatic.status, 'failed');
      assert.deepEqual(world(), before, 'every key, and the key Valohai holds, as they were');
      const alert = (await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(SLUG))).entries
        .flatMap((e) => e.findings)
        .find((f) => f.code === 'auto-rotate-failed');
      assert.match(alert?.message ?? '', /the old key still works: .*made with the CLI/);
    } finally {
      await savePolicy(h.platform.store, ws, DEFAULT_HEALTH_POLICY);
    }
  });

  test("the app's disconnect then leaves Valohai's key to the CLI, and the page says the CLI's connection is there", async () => {
    const held = h.stack.valohai.state.keyFor(PROJECT.repositoryId);
    const gone = await run('admin', h.call('startDisconnect', {}, h.context('admin', SLUG)));
    assert.equal(gone.status, 'done', gone.error);
    assert.equal(h.stack.valohai.state.keyFor(PROJECT.repositoryId), held, "Valohai keeps the CLI's key");
    await assertInvariant(h.stack, PROJECT.repositoryId, 'acme', TARGETS);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', SLUG)));
    assert.equal(page.state, 'ready');
    assert.equal(page.ready?.otherConnection?.project.id, PROJECT.id);
  });
});

describe("a repository the app connected and disconnected", () => {
  test('is not taken for one connected elsewhere, though Valohai keeps its URL', async () => {
    const slug = 'datasets';
    const made = await run('admin', h.call('startConnect', { ...choices(), projectId: PROJECTS.datasets.id }, h.context('admin', slug)), slug);
    assert.equal(made.status, 'done', made.error);
    const gone = await run('admin', h.call('startDisconnect', {}, h.context('admin', slug)), slug);
    assert.equal(gone.status, 'done', gone.error);
    assert.equal(h.stack.valohai.state.project(PROJECTS.datasets.id)?.repository?.url, `git@bitbucket.org:acme/${slug}.git`);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', slug)));
    assert.equal(page.state, 'ready');
    assert.equal(page.ready?.otherConnection, undefined);
  });
});
