/**
 * One workspace's whole story through the Forge handlers, driven only as Forge drives them (resolver
 * calls from the two settings pages, queue events, a push event) against the stand-ins, with the
 * stand-ins' own state checked at each step. It returns a transcript of what the pages were told and
 * which calls went out, with run-specific values (ids, hashes, times) masked, so that two runs of
 * different builds of the same code can be compared.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { isLabelFor } from '../../src/connect/index';
import { DEFAULT_VALOHAI_HOST, MODULE_KEYS, type JobView, type PayloadOf, type ResolverName } from '../../src/forge/contract';
import type { Stack } from '../../dev/stack';
import type { ReplyOf } from '../forge/support/reply';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, PROJECTS, valueOf, vh } from '../forge/support/forge-fixture';
import type { FakeForge } from './fake-forge';

export const SCENARIO_REPO = 'inference-api';
/** The repository and the Bitbucket repositories its .gitmodules points to. */
export const SCENARIO_TARGETS = ['acme/datasets', 'acme/feature-store', 'acme/inference-api', 'acme/training-lib'];
const PROJECT = PROJECTS.inference;

export interface TranscriptEntry {
  step: string;
  /** What each resolver call answered, in order. */
  replies: unknown[];
  /** Every request that left the functions, `via METHOD url`, sorted (parallel calls finish in any order). */
  outbound: string[];
}

/** Masks what differs between two runs of the same code: ids, hashes, fingerprints, key text, times. */
export function mask(value: unknown): unknown {
  if (typeof value === 'string') {
    return value
      .replace(/ssh-(ed25519|rsa) [A-Za-z0-9+/=]{40,}/g, 'ssh-$1 <key>')
      .replace(/SHA256:[A-Za-z0-9+/]{43}/g, '<fingerprint>')
      // A short fingerprint, as steps name a key: SHA256: and its first twelve characters.
      .replace(/SHA256:[A-Za-z0-9+/]{12}…/g, '<short-fingerprint>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>')
      .replace(/\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?/gi, '<uuid>')
      .replace(/%7B[0-9a-f-]{36}%7D/gi, '<uuid>')
      // A kept repository list's generation: the time in base 36 and a random tail.
      .replace(/\b[0-9a-z]{8}-[0-9a-z]{1,6}\b/g, '<generation>')
      .replace(/\b[0-9a-f]{40}\b/g, '<sha>')
      .replace(/\b[0-9a-f]{12}\b/g, '<random>')
      .replace(/\b[0-9a-f]{7}\b/g, (hex) => (hex === 'ed25519' ? hex : '<short-sha>'));
  }
  if (Array.isArray(value)) return value.map(mask);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v)]));
  return value;
}

/** The pieces of work the story sets off on the queue, one of each. */
export type QueuedWork = 'connect' | 'sync' | 'rotate' | 'check' | 'disconnect';

/** What a queue event's body says it is, in those terms (a job's kind is in its record, not its event). */
export const QUEUE_TYPE: Record<QueuedWork, string> = { connect: 'job', sync: 'sync', rotate: 'job', check: 'health', disconnect: 'job' };

export interface ScenarioOptions {
  /** Called just before the story sets off each piece of queued work (e.g. to arm a cut-off for it). */
  beforeWork?: (work: QueuedWork) => void;
  /**
   * Valohai may have been asked to fetch more than once for one check (a run cut off after its fetch
   * is run again): the check then asks for at least one fetch, not exactly one.
   */
  repeatedFetches?: boolean;
  /**
   * The story ends once connect is done: what a process remembers for its life (Valohai's
   * repository-write preflight and the write method, per host) is all learnt by then.
   */
  onlyConnect?: boolean;
}

export async function runScenario(t: TestContext, forge: FakeForge, stack: Stack, options: ScenarioOptions = {}): Promise<TranscriptEntry[]> {
  const beforeWork = options.beforeWork ?? (() => {});
  const state = stack.bitbucket.state;
  const ws = state.findWorkspace('acme');
  assert.ok(ws);
  const repo = state.findRepo(ws, SCENARIO_REPO);
  assert.ok(repo);
  const transcript: TranscriptEntry[] = [];
  const replies: string[] = [];
  const privateKeys: string[] = [];
  let current: TranscriptEntry | undefined;
  let outboundSeen = 0;

  async function call<K extends ResolverName>(name: K, payload: PayloadOf<K> | Record<string, unknown>, where: 'workspace' | 'repository', who = bb.admin): Promise<ReplyOf<K>> {
    const reply = await forge.resolve({
      moduleKey: MODULE_KEYS[where],
      functionKey: name,
      payload,
      accountId: who.accountId,
      workspaceId: ws?.uuid ?? '',
      ...(where === 'repository' ? { repositoryUuid: repo?.uuid ?? '' } : {}),
    });
    replies.push(JSON.stringify(reply));
    current?.replies.push(mask(reply));
    return reply as ReplyOf<K>;
  }

  let broken = false;
  async function step(name: string, body: () => Promise<void>): Promise<void> {
    current = { step: name, replies: [], outbound: [] };
    transcript.push(current);
    const entry = current;
    await t.test(name, broken ? { skip: 'an earlier step failed' } : {}, async () => {
      try {
        await body();
        await forge.idle();
        assert.deepEqual(forge.problems, [], 'the functions asked the platform only for what it has, and no handler threw');
      } catch (err) {
        broken = true;
        throw err;
      }
    });
    const out = forge.outbound.slice(outboundSeen);
    outboundSeen = forge.outbound.length;
    entry.outbound = out.map((o) => String(mask(`${o.via} ${o.method} ${o.url} ${o.status}`))).sort();
  }

  async function finished(jobId: string): Promise<JobView> {
    await forge.idle();
    const job = valueOf(await call('getJob', { jobId }, 'repository'));
    assert.ok(['done', 'failed', 'unverified'].includes(job.status), `job still ${job.status}`);
    return job;
  }

  const keysOn = (fullName: string) => {
    const [w = '', slug = ''] = fullName.split('/');
    const target = state.findRepo(w, slug);
    assert.ok(target, fullName);
    return state.listAccessKeys(target);
  };
  const valohaiRepository = () => stack.valohai.state.repository(PROJECT.repositoryId);
  const valohaiCommits = () => stack.valohai.state.commits(PROJECT.id).map((c) => c.identifier);
  const keepValohaiKey = () => {
    const key = stack.valohai.state.keyFor(PROJECT.repositoryId);
    assert.ok(key, 'Valohai holds a private key');
    privateKeys.push(key);
  };

  await step('the workspace admin stores both tokens on the workspace page', async () => {
    const before = valueOf(await call('getWorkspaceSettings', {}, 'workspace'));
    assert.equal(before.valohai.configured, false);
    assert.equal(before.canAdminister, true);
    const valohai = valueOf(await call('saveValohaiToken', { host: DEFAULT_VALOHAI_HOST, token: vh.admin.token }, 'workspace'));
    assert.equal(valohai.username, 'ada-admin');
    const bitbucket = valueOf(await call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, 'workspace'));
    assert.deepEqual(bitbucket.missingScopes, []);
    const secretTexts = [...forge.secrets.values()].map((e) => e.json).join('\n');
    assert.ok(secretTexts.includes(vh.admin.token) && secretTexts.includes(bb.admin.token), 'both tokens are Forge secrets');
    const after = valueOf(await call('getWorkspaceSettings', {}, 'workspace'));
    assert.equal(after.valohai.configured, true);
    assert.equal(after.bitbucket.configured, true);
    assert.equal(after.repositories.find((r) => r.fullName === `acme/${SCENARIO_REPO}`)?.state, 'not-connected');
  });

  await step('a Valohai host outside the manifest egress is not saved', async () => {
    const reply = await call('saveValohaiToken', { host: 'https://valohai.example.com', token: vh.admin.token }, 'workspace');
    errorOf(reply);
    const settings = valueOf(await call('getWorkspaceSettings', {}, 'workspace'));
    assert.equal(settings.valohai.host, DEFAULT_VALOHAI_HOST, 'the stored host is unchanged');
    assert.ok(forge.blocked.every((b) => b.includes('valohai.example.com')), `only that host was refused: ${forge.blocked.join(', ')}`);
  });

  let headCommit = '';
  await step('the repository page previews what connect will touch', async () => {
    const page = valueOf(await call('getRepositoryPage', {}, 'repository'));
    assert.equal(page.state, 'ready');
    assert.deepEqual(page.setup, { valohai: true, bitbucket: true, workspaceSettingsUrl: null });
    assert.ok(page.ready?.projects.some((p) => p.id === PROJECT.id));
    const preview = valueOf(await call('previewConnect', { submodules: true }, 'repository'));
    assert.deepEqual(preview.targets.map((x) => `${x.workspace}/${x.slug}`).sort(), SCENARIO_TARGETS);
    headCommit = preview.headCommit ?? '';
    assert.match(headCommit, /^[0-9a-f]{40}$/);
    for (const target of SCENARIO_TARGETS) assert.equal(keysOn(target).length, 0, `${target} has no key yet`);
  });

  let fingerprint = '';
  await step('connect puts one key on the repository and its submodules, and Valohai fetches the head', async () => {
    beforeWork('connect');
    const { jobId } = valueOf(await call('startConnect', { projectId: PROJECT.id, ref: 'main', keyType: 'ed25519', submodules: true }, 'repository'));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.result?.verified, true);
    assert.equal(job.result?.headCommit, headCommit);
    assert.equal(job.result?.valohai.fetchedCommit, headCommit);
    fingerprint = job.result?.fingerprint ?? '';
    for (const target of SCENARIO_TARGETS) {
      const keys = keysOn(target);
      assert.equal(keys.length, 1, `${target} has the key`);
      assert.ok(isLabelFor(keys[0]?.label ?? '', PROJECT.id), `${target}: labelled for the project`);
    }
    assert.equal(new Set(SCENARIO_TARGETS.map((x) => keysOn(x)[0]?.key)).size, 1, 'the same key on every repository');
    assert.equal(valohaiRepository()?.sshKeyFingerprint, fingerprint);
    assert.equal(valohaiRepository()?.url, `git@bitbucket.org:acme/${SCENARIO_REPO}.git`);
    assert.ok(valohaiCommits().includes(headCommit), 'Valohai has the head commit');
    keepValohaiKey();
    const page = valueOf(await call('getRepositoryPage', {}, 'repository'));
    assert.equal(page.state, 'connected');
    assert.equal(page.connection?.valohaiCommit?.identifier, headCommit);
  });

  if (options.onlyConnect) return transcript;

  await step('a push to the main branch makes Valohai fetch the new head', async () => {
    const pushed = await state.pushCommit('acme', SCENARIO_REPO, {
      branch: 'main',
      message: 'Retrain with the new features',
      files: { 'PUSHED.md': 'A commit pushed after connecting.\n' },
    });
    assert.ok(!valohaiCommits().includes(pushed));
    const fetchesBefore = stack.valohai.state.fetches(PROJECT.id).length;
    // The event as Bitbucket sends it to Forge apps (see the push event reference): one `push` object.
    beforeWork('sync');
    const delivered = await forge.deliverEvent({
      eventType: 'avi:bitbucket:push:repository',
      timestamp: new Date().toISOString(),
      selfGenerated: false,
      actor: { type: 'user', accountId: bb.admin.accountId, uuid: '{a1b2c3d4-0000-4000-8000-00000000ad01}' },
      repository: { uuid: repo.uuid, slug: SCENARIO_REPO },
      project: { uuid: '{a1b2c3d4-0000-4000-8000-00000000b001}' },
      workspace: { uuid: ws.uuid },
      push: {
        ref: 'main',
        mainbranch: 'main',
        before: headCommit,
        after: pushed,
        created: false,
        closed: false,
        forced: false,
        truncated: false,
        commits: [{ hash: pushed }],
      },
    });
    assert.equal(delivered, 1, 'one trigger listens for pushes');
    await forge.idle();
    assert.ok(valohaiCommits().includes(pushed), 'Valohai fetched the pushed commit');
    const since = stack.valohai.state.fetches(PROJECT.id).slice(fetchesBefore);
    // A fetch repeated (its first run cut off after it) finds nothing new: the first one brought the commit.
    assert.ok((options.repeatedFetches ? since : since.slice(-1)).some((f) => f.newCommits.includes(pushed)), 'a fetch brought the pushed commit');
    const page = valueOf(await call('getRepositoryPage', {}, 'repository'));
    assert.deepEqual(page.connection?.lastPushFetch?.errors, []);
    if (!options.repeatedFetches) assert.ok((page.connection?.lastPushFetch?.commits ?? 0) >= 1);
    assert.equal(page.connection?.bitbucketHead, pushed);
  });

  await step('rotate replaces the key everywhere and Valohai takes the new one', async () => {
    const before = SCENARIO_TARGETS.map((x) => keysOn(x)[0]?.key);
    beforeWork('rotate');
    const { jobId } = valueOf(await call('startRotate', {}, 'repository'));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    assert.equal(job.result?.verified, true);
    assert.ok(job.result?.fingerprint && job.result.fingerprint !== fingerprint, 'a new key');
    SCENARIO_TARGETS.forEach((x, i) => {
      const keys = keysOn(x);
      assert.equal(keys.length, 1, `${x} keeps only the new key`);
      assert.notEqual(keys[0]?.key, before[i], `${x}: the old key is gone`);
    });
    assert.equal(valohaiRepository()?.sshKeyFingerprint, job.result?.fingerprint);
    keepValohaiKey();
  });

  await step('the hourly scheduled trigger answers 204 and checks the connection', async () => {
    const fetches = stack.valohai.state.fetches(PROJECT.id).length;
    beforeWork('check');
    assert.deepEqual(await forge.fireScheduledTriggers(ws.uuid), [{ statusCode: 204 }]);
    await forge.idle();
    const fetched = stack.valohai.state.fetches(PROJECT.id).length - fetches;
    if (options.repeatedFetches) assert.ok(fetched >= 1, 'the daily check asked Valohai to fetch');
    else assert.equal(fetched, 1, 'the daily check asked Valohai to fetch, once');
    const page = valueOf(await call('getRepositoryPage', {}, 'repository'));
    assert.equal(page.connection?.health?.latest?.trigger, 'schedule');
    assert.equal(page.connection?.health?.latest?.health, 'healthy', JSON.stringify(page.connection?.health?.latest?.findings));
  });

  await step('disconnect removes the key from Valohai and every repository', async () => {
    beforeWork('disconnect');
    const { jobId } = valueOf(await call('startDisconnect', {}, 'repository'));
    const job = await finished(jobId);
    assert.equal(job.status, 'done', job.error);
    for (const target of SCENARIO_TARGETS) assert.equal(keysOn(target).length, 0, `${target} has no key left`);
    assert.equal(valohaiRepository()?.sshKeySet, false);
    const page = valueOf(await call('getRepositoryPage', {}, 'repository'));
    assert.equal(page.state, 'ready');
  });

  await t.test('no reply, record, log line or queue event holds a private key or a token', () => {
    const texts: [string, string][] = [
      ...replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...forge.records].map(([k, v]): [string, string] => [`record ${k}`, v.json]),
      ...forge.logs.map((l, i): [string, string] => [`log ${i}`, l]),
      ...forge.queued.map((e, i): [string, string] => [`queue event ${i}`, JSON.stringify(e)]),
      ...stack.bitbucket.requests.map((r, i): [string, string] => [`bitbucket request ${i}`, r.body]),
    ];
    assertNoSecrets(texts, privateKeys, ALL_TOKENS);
    assertNoSecrets([...forge.secrets].map(([k, v]): [string, string] => [`secret ${k}`, v.json]), privateKeys, []);
  });

  return transcript;
}
