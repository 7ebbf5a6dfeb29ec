// A connection's check, run with nobody at the keyboard, over the stand-ins: what an admin finds on the
// page afterwards, what Bitbucket and Valohai really hold, and what the check spent of the stored token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessKeyLabel } from '../../src/connect/index';
import { DEFAULT_HEALTH_POLICY, type HealthPolicyView, type JobView } from '../../src/forge/contract';
import { runHealthCheck } from '../../src/forge/health/check';
import { loadHealth, savePolicy } from '../../src/forge/store/health-records';
import { keys } from '../../src/forge/store/keys';
import type { StoredConnection, WorkspaceSummary } from '../../src/forge/store/records';
import { generateKeyPair } from '../../src/ssh/index';
import { ALL_TOKENS, assertNoSecrets, bb, PROJECTS, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

const REPO = 'inference-api';
const TARGETS = ['acme/inference-api', 'acme/datasets', 'acme/training-lib', 'acme/feature-store'];

let h: Harness;
const sent: SentRequest[] = [];
let ws = '';
let repo = '';

function keysOn(fullName: string) {
  const [w = '', slug = ''] = fullName.split('/');
  const r = h.stack.bitbucket.state.findRepo(w, slug);
  assert.ok(r, fullName);
  return h.stack.bitbucket.state.listAccessKeys(r);
}

async function connection(): Promise<StoredConnection> {
  const c = await h.platform.store.get<StoredConnection>(keys.connection(ws, repo));
  assert.ok(c);
  return c;
}

const policy = (change: Partial<HealthPolicyView>) => savePolicy(h.platform.store, ws, { ...DEFAULT_HEALTH_POLICY, ...change });
const checkNow = () => runHealthCheck(h.platform, ws, repo, { trigger: 'schedule' });

before(async () => {
  h = await startHarness({ record: (r) => sent.push(r) });
  ws = h.workspaceId;
  repo = h.repoUuid(REPO);
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  const { jobId } = valueOf(
    await h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', REPO)),
  );
  await h.platform.idle();
  const job: JobView = valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO)));
  assert.equal(job.status, 'done', job.result?.error ?? job.error);
});
after(async () => {
  await h?.close();
});

describe('a scheduled check of a working connection', () => {
  test('is healthy, sees Bitbucket’s head in Valohai, and spends at most one token request per target plus two', async () => {
    const from = sent.length;
    const entry = await checkNow();
    assert.ok(entry);
    assert.equal(entry.health, 'healthy', JSON.stringify(entry.findings));
    assert.equal(entry.headSeen, true);
    assert.equal(entry.trigger, 'schedule');
    const token = sent.slice(from).filter((r) => r.via === 'token');
    assert.ok(token.length <= TARGETS.length + 2, `${token.length} token requests:\n${token.map((r) => `${r.method} ${r.path}`).join('\n')}`);
    assert.equal(entry.requests?.bitbucketToken, token.length, 'the entry records what was spent');
    assert.equal(entry.requests?.bitbucketApp, sent.slice(from).filter((r) => r.via === 'app').length);
    assert.ok((entry.requests?.valohai ?? 0) > 0);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.equal(page.connection?.health?.latest?.at, entry.at);
    assert.equal(page.connection?.sync.state, 'in-sync', 'the page’s sync state follows the check’s fetch');
    assert.equal((await connection()).lastFetch?.head, entry.head);
  });
});

describe('a key deleted by hand', () => {
  test('with drift "alert" it is only reported: nothing is added, and the page names the repository and the fix', async () => {
    await policy({ drift: 'alert' });
    const gone = keysOn('acme/datasets')[0];
    assert.ok(gone);
    h.stack.bitbucket.state.deleteAccessKey(gone);
    const from = h.stack.bitbucket.requests.length;
    const entry = await checkNow();
    assert.ok(entry);
    assert.equal(entry.health, 'broken');
    const missing = entry.findings.find((f) => f.code === 'key-missing');
    assert.equal(missing?.repository, 'acme/datasets');
    assert.match(missing?.fix ?? '', /acme\/datasets\/admin\/access-keys/);
    assert.deepEqual(keysOn('acme/datasets'), []);
    assert.ok(!h.stack.bitbucket.requests.slice(from).some((r) => r.method === 'POST'), 'no key was posted');
    assert.deepEqual(entry.changes, []);
  });

  test('with drift "repair" the same key is put back before Valohai fetches, and the fetch verifies', async () => {
    await policy({ drift: 'repair' });
    const { record } = await connection();
    const entry = await checkNow();
    assert.ok(entry);
    assert.equal(entry.health, 'healthy', JSON.stringify(entry.findings));
    assert.equal(entry.headSeen, true);
    const back = keysOn('acme/datasets');
    assert.equal(back.length, 1);
    assert.equal(back[0]?.key, record.publicKey, 'the same public key, not a new one');
    assert.deepEqual(entry.changes.map((c) => [c.kind, c.repository]), [['key-restored', 'acme/datasets']]);
    const after = await connection();
    assert.equal(after.record.targets.find((t) => t.repository === 'acme/datasets')?.keyId, back[0]?.id);
    const health = await loadHealth(h.platform.store, ws, repo);
    assert.ok(health.changes.some((c) => c.kind === 'key-restored'));
  });
});

describe('keys a person should know about', () => {
  let strayId = 0;

  test('a key labelled like the app’s that no connection recorded is reported, never touched, even with removal on', async () => {
    await policy({ unneededKeys: 'remove' });
    const hers = await generateKeyPair({ type: 'ed25519', comment: 'mallory@laptop' });
    const target = h.stack.bitbucket.state.findRepo('acme', 'datasets');
    assert.ok(target);
    // Her label carries a right-to-left override, as a label meant to mislead a reader would.
    const label = accessKeyLabel('inference', PROJECTS.inference.id, new Date()).replace('Valohai ', 'Valohai \u202egnp.\u202c ');
    strayId = h.stack.bitbucket.state.addAccessKey(target, { key: hers.publicKey, label }).id;
    const entry = await checkNow();
    assert.ok(entry);
    const health = await loadHealth(h.platform.store, ws, repo);
    const stray = health.keyNotices.find((n) => n.kind === 'stray');
    assert.deepEqual(stray && [stray.repository, stray.keyId, stray.removable, stray.connection], ['acme/datasets', strayId, false, null]);
    assert.doesNotMatch(stray?.label ?? '', /[\u202a-\u202e\u2066-\u2069]/, 'no bidi control from a label reaches the page');
    assert.ok(keysOn('acme/datasets').some((k) => k.id === strayId), 'still there');
    assert.ok(entry.findings.some((f) => f.code === 'stray-key' && /remove it at/.test(f.fix ?? '')));
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.ok(settings.keyNotices.some((n) => n.kind === 'stray' && n.keyId === strayId));
    const refused = await h.call('removeUnneededKey', { repository: 'acme/datasets', keyId: strayId }, h.context('admin'));
    assert.equal(refused.ok, false);
    assert.ok(keysOn('acme/datasets').some((k) => k.id === strayId));
    await policy({});
  });

  test('a stored token expiring within 30 days is a finding with the fix', async () => {
    const soon = new Date(h.platform.clock.now().getTime() + 12 * 86_400_000).toISOString().slice(0, 10);
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token, expiresOn: soon }, h.context('admin')));
    const entry = await checkNow();
    assert.ok(entry);
    const expiring = entry.findings.find((f) => f.code === 'token-expiring');
    assert.ok(expiring, JSON.stringify(entry.findings));
    assert.match(expiring.message, /Bitbucket API token expires in 1[12] days/);
    assert.match(expiring.fix ?? '', /store it/i);
    assert.equal(entry.health, 'degraded');
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });

  test('the connection’s key unused for longer than the policy’s days is listed as unused, not removable', async () => {
    h.advance(100 * 86_400_000);
    try {
      const entry = await checkNow();
      assert.ok(entry);
      // Valohai's fetch of this very check used the key: only a key it did not use is idle.
      const health = await loadHealth(h.platform.store, ws, repo);
      assert.deepEqual(health.keyNotices.filter((n) => n.kind === 'unused'), [], 'every key was just used by the fetch');
      // A fetch that fails (a key removed by hand, drift only reported) leaves the listing as the word on use.
      await policy({ unusedDays: 7, drift: 'alert' });
      h.advance(10 * 86_400_000);
      const removed = keysOn('acme/feature-store')[0];
      assert.ok(removed);
      h.stack.bitbucket.state.deleteAccessKey(removed);
      const failing = await checkNow();
      assert.equal(failing?.health, 'broken');
      const idle = (await loadHealth(h.platform.store, ws, repo)).keyNotices.filter((n) => n.kind === 'unused');
      assert.deepEqual(idle.map((n) => n.repository).sort(), TARGETS.filter((t) => t !== 'acme/feature-store').sort());
      assert.ok(idle.every((n) => !n.removable && n.connection === `acme/${REPO}`));
      assert.ok(failing?.findings.some((f) => f.code === 'unused-key' && f.repository === 'acme/datasets'));
      await policy({});
      assert.equal(keysOn('acme/feature-store').length, 0);
      const repaired = await checkNow();
      assert.deepEqual(repaired?.changes.map((c) => [c.kind, c.repository]), [['key-restored', 'acme/feature-store']]);
    } finally {
      h.advance(-110 * 86_400_000);
      await policy({});
    }
  });
});

describe('a refused token', () => {
  test('a 401 from Bitbucket pauses automatic work: the token is recorded refused, the connection is not called broken', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys', status: 401, body: { type: 'error', error: { message: 'Unauthorized' } } });
    let entry;
    try {
      entry = await checkNow();
    } finally {
      h.stack.bitbucket.faults.clear();
    }
    assert.ok(entry);
    assert.equal(entry.health, 'paused');
    assert.ok(entry.findings.every((f) => f.severity !== 'broken'));
    assert.match(entry.findings[0]?.fix ?? '', /Store a new token/);
    const summary = await h.platform.store.get<WorkspaceSummary>(keys.settings(ws));
    assert.ok(summary?.bitbucket?.problem, 'the token is recorded as refused');
    const c = await connection();
    assert.equal(c.state, 'connected');
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
    assert.ok(page.connection?.health?.paused, 'the page says automatic work waits');
    assert.notEqual(page.connection?.health?.latest?.health, 'broken');

    // While paused, the next check makes no request at all.
    const from = sent.length;
    const next = await checkNow();
    assert.equal(next?.health, 'paused');
    assert.equal(sent.length, from);

    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
    const resumed = await checkNow();
    assert.ok(resumed && resumed.health !== 'paused' && resumed.headSeen === true, JSON.stringify(resumed));
  });
});

describe('Verify', () => {
  test('joins the connection’s history as a check with trigger "verify", and a skipped check leaves no entry while it runs', async () => {
    const before = (await loadHealth(h.platform.store, ws, repo)).entries.length;
    h.platform.holdQueue();
    const { jobId } = valueOf(await h.call('startVerify', {}, h.context('admin', REPO)));
    // The job holds the repository's slot: a check now would race it, so it does not run.
    assert.equal(await checkNow(), undefined);
    assert.equal((await loadHealth(h.platform.store, ws, repo)).entries.length, before);
    h.platform.releaseQueue();
    await h.platform.idle();
    const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO)));
    assert.equal(job.status, 'done', job.error);
    const entry = (await loadHealth(h.platform.store, ws, repo)).entries.at(-1);
    assert.equal(entry?.trigger, 'verify');
    assert.equal(entry?.health, 'healthy');
    assert.equal(entry?.headSeen, true);
  });
});

describe('no secret anywhere', () => {
  test('no token or private key in any stored record, log line or reply', async () => {
    await h.platform.idle();
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
    ];
    assert.ok(texts.some(([where]) => where.startsWith('record health:')), 'the health record was scanned');
    assertNoSecrets(texts, h.privateKeys, ALL_TOKENS);
  });
});
