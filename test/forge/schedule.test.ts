// The hourly scheduled trigger over the stand-ins, on a clock the test moves: which connections it
// puts on the queue (a day apart, oldest first, within the hour's share of the token's budget), what it
// does while a token is refused (paused, never broken, nothing asked), and the key-age policy's
// automatic rotation: make-before-break with Valohai's fetch working throughout, at most the day's
// limit, never two at once for one connection, and a failure at each step leaving the old key working
// with an alert that names the cause.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthEntry, StartConnectPayload } from '../../src/forge/contract';
import { Credentials } from '../../src/forge/store/credentials';
import { bitbucketTokenRefused } from '../../src/forge/errors';
import { CHECK_INTERVAL_MS, loadAutomation, loadHealth, recordHealth } from '../../src/forge/store/health-records';
import { bareUuid, keys } from '../../src/forge/store/keys';
import type { JobRecord, StoredConnection } from '../../src/forge/store/records';
import { CHECK_BUDGET_PER_RUN, checkCost } from '../../src/forge/health/schedule';
import { gitReach } from '../support/e2e';
import { bb, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const INFERENCE_TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];

let h: Harness;

before(async () => {
  h = await startHarness();
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

const ws = () => bareUuid(h.workspaceId, 'workspace');

async function connect(slug: string, projectId: string): Promise<void> {
  const choices: StartConnectPayload = { projectId, ref: 'main', keyType: 'ed25519', submodules: true };
  const { jobId } = valueOf(await h.call('startConnect', choices, h.context('admin', slug)));
  await h.platform.idle();
  const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', slug)));
  assert.equal(job.status, 'done', job.error);
}

function stored(slug: string): Promise<StoredConnection | undefined> {
  return h.platform.store.get<StoredConnection>(keys.connection(h.workspaceId, h.repoUuid(slug)));
}

/** What a check records when it ran: the planner only needs to know when. */
function checkedNow(): HealthEntry {
  return { at: h.platform.clock.now().toISOString(), trigger: 'schedule', health: 'healthy', keyAgeDays: 0, head: null, headSeen: null, findings: [], changes: [] };
}

const queuedChecks = (from: number) =>
  h.platform.enqueued.slice(from).filter((m): m is Extract<typeof m, { type: 'health' }> => m.type === 'health');

describe('planning the checks', () => {
  const other = '0f0e0d0c-0b0a-4908-8706-050403020100';
  const fake = (i: number): StoredConnection => {
    const repositoryUuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    return {
      workspaceUuid: other,
      repositoryUuid,
      mode: 'automatic',
      state: 'connected',
      submodules: true,
      projectOwner: null,
      publicKeyLine: null,
      manualTargets: [],
      warnings: [],
      verifiedAt: null,
      lastPushFetch: null,
      connectedBy: 'someone',
      record: {
        repository: `elsewhere/repo-${String(i).padStart(3, '0')}`,
        projectId: repositoryUuid,
        projectName: `repo-${i}`,
        fingerprint: 'SHA256:x',
        publicKey: 'ssh-ed25519 AAAA',
        keyType: 'ed25519',
        label: 'x',
        createdAt: h.platform.clock.now().toISOString(),
        ref: 'main',
        targets: ['a', 'b', 'c', 'd'].map((t) => ({ repository: `elsewhere/${t}-${i}`, keyId: i })),
      },
    };
  };

  test('a day apart, oldest first, as many as the hour\'s share of the token\'s budget allows; the rest next hour', async () => {
    const many = Array.from({ length: 60 }, (_, i) => fake(i));
    for (const c of many) await h.platform.store.set(keys.connection(c.workspaceUuid, c.repositoryUuid), c);
    try {
      const perRun = Math.floor(CHECK_BUDGET_PER_RUN / checkCost(many[0] as StoredConnection));
      h.platform.holdQueue();
      const start = h.platform.enqueued.length;
      const run = await h.backend.onSchedule();
      const mine = run?.workspaces.find((w) => w.workspaceUuid === other);
      assert.ok(mine);
      assert.equal(mine.queued.length, perRun, 'the first run stays within the budget');
      assert.equal(mine.deferred.length, 60 - perRun);
      assert.equal(queuedChecks(start).filter((m) => m.workspaceUuid === other).length, perRun);
      const automation = await loadAutomation(h.platform.store, other);
      assert.deepEqual([automation.lastRunChecked, automation.lastRunDeferred], [perRun, 60 - perRun]);

      // The checks of the first run record themselves; an hour later the ones left wait no longer.
      const checkedFirst = new Set(mine.queued);
      for (const c of many.filter((c) => checkedFirst.has(c.record.repository))) await recordHealth(h.platform.store, other, c.repositoryUuid, checkedNow());
      h.advance(HOUR);
      const second = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === other);
      assert.ok(second);
      assert.equal(second.queued.filter((r) => checkedFirst.has(r)).length, 0, 'a connection checked within the day is not checked again');
      assert.deepEqual(second.queued.slice(0, 3), mine.deferred.slice(0, 3), 'the deferred ones go first, in the order they waited');

      // A day after the first run, the first ones are due again.
      h.advance(CHECK_INTERVAL_MS);
      const third = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === other);
      assert.ok(third?.queued.some((r) => checkedFirst.has(r)));
    } finally {
      // The planned checks themselves are not what this test is about.
      h.platform.discardHeld();
      for (const c of many) await h.platform.store.delete(keys.connection(c.workspaceUuid, c.repositoryUuid));
    }
  });
});

describe('a refused token pauses automatic work', () => {
  test('nothing is asked; each due connection says paused with the fix, never broken, and resumes with a new token', async () => {
    await connect('inference-api', PROJECTS.inference.id);
    await new Credentials(h.platform, ws()).recordProblem('bitbucket', bitbucketTokenRefused());
    h.platform.holdQueue();
    const start = h.platform.enqueued.length;
    try {
      h.advance(CHECK_INTERVAL_MS);
      const run = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
      assert.ok(run);
      assert.deepEqual(run.queued, []);
      assert.ok(run.paused.includes('acme/inference-api'));
      assert.equal(queuedChecks(start).filter((m) => m.workspaceUuid === ws()).length, 0);

      const latest = (await loadHealth(h.platform.store, ws(), h.repoUuid('inference-api'))).entries.at(-1);
      assert.equal(latest?.health, 'paused');
      assert.match(latest?.findings[0]?.fix ?? '', /Store a new token/);

      const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
      assert.equal(page.state, 'connected', 'the connection is still shown as connected');
      assert.match(page.connection?.health.paused?.reason ?? '', /Bitbucket refuses the stored API token/);
      assert.equal(page.connection?.health.nextCheckAt, null, 'no check is promised while paused');
      const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
      assert.ok(settings.automation.paused);
      assert.equal(settings.repositories.find((r) => r.fullName === 'acme/inference-api')?.health, 'paused');

      // A new token: the next run asks again.
      valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
      h.advance(CHECK_INTERVAL_MS);
      const resumed = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
      assert.ok(resumed?.queued.includes('acme/inference-api'));
      const after = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
      assert.equal(after.automation.paused, undefined);
    } finally {
      h.platform.discardHeld();
    }
  });
});

describe('key age, as the scheduled checks see it', () => {
  test('past 180 days a warning, past 365 an alert, each with the fix; a Valohai token refused pauses too', async () => {
    const findingsAfter = async (days: number) => {
      h.advance(days * DAY);
      await h.backend.onSchedule();
      await h.platform.idle();
      const latest = (await loadHealth(h.platform.store, ws(), h.repoUuid('inference-api'))).entries.at(-1);
      assert.equal(latest?.trigger, 'schedule');
      return latest;
    };
    const warned = await findingsAfter(181);
    assert.ok(warned?.findings.some((f) => f.code === 'key-age-warning'), JSON.stringify(warned?.findings));
    assert.ok(!warned?.findings.some((f) => f.code === 'key-age-alert'));
    assert.equal(warned?.health, 'degraded');
    const alerted = await findingsAfter(185);
    assert.ok(alerted?.findings.some((f) => f.code === 'key-age-alert' && /rotate it now/.test(f.message)), JSON.stringify(alerted?.findings));
    assert.ok((alerted?.keyAgeDays ?? 0) >= 365);
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
    assert.deepEqual(
      page.connection?.health.history.slice(-2).map((p) => p.health),
      ['degraded', 'degraded'],
    );

    // Valohai refusing its token pauses the same way as Bitbucket refusing its own.
    await new Credentials(h.platform, ws()).recordProblem('valohai', { code: 'invalid-token', message: 'Valohai refused the stored token.', fix: 'Store a new one.' });
    const paused = await findingsAfter(1);
    assert.equal(paused?.health, 'paused');
    assert.match(paused?.findings[0]?.message ?? '', /Valohai refuses the stored token/);
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  });
});

describe('automatic rotation by key age', () => {
  const setPolicy = async (perDay: number) =>
    valueOf(
      await h.call(
        'saveHealthPolicy',
        { drift: 'repair', unneededKeys: 'offer', autoRotate: { enabled: true, everyDays: 180, perDay }, unusedDays: 90 },
        h.context('admin'),
      ),
    );

  async function rotationJobs(from: number): Promise<JobRecord[]> {
    const ids = h.platform.enqueued.slice(from).flatMap((m) => (m.type === 'job' ? [m.jobId] : []));
    const jobs = await Promise.all(ids.map((id) => h.platform.store.get<JobRecord>(keys.job(id))));
    return jobs.filter((j): j is JobRecord => j?.input.kind === 'rotate');
  }

  test('a key past the policy\'s age is rotated make-before-break, Valohai fetching throughout; at most the day\'s limit', async () => {
    await connect('datasets', PROJECTS.datasets.id);
    await setPolicy(1);
    const before = await stored('inference-api');
    const beforeDatasets = await stored('datasets');
    assert.ok(before && beforeDatasets);

    h.advance(181 * DAY);
    h.platform.holdQueue();
    const start = h.platform.enqueued.length;
    const run = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
    assert.deepEqual(run?.rotations, ['acme/inference-api'], 'the oldest key first, one a day');
    const [job] = await rotationJobs(start);
    assert.ok(job);
    assert.equal(job.accountId, bb.admin.accountId, 'the rotation acts for the admin who made the connection');
    assert.equal(job.input.kind === 'rotate' && job.input.automatic, true);
    // The connection's own check waits while it rotates.
    assert.ok(!run?.queued.includes('acme/inference-api'));

    // Valohai fetches with whatever key it holds at each moment; none of those fetches may fail.
    let finished = false;
    const failures: string[] = [];
    let fetches = 0;
    h.platform.releaseQueue();
    const done = h.platform.idle().finally(() => {
      finished = true;
    });
    while (!finished) {
      const key = h.stack.valohai.state.keyFor(PROJECTS.inference.repositoryId);
      if (!key) {
        failures.push('Valohai held no key');
        break;
      }
      try {
        await gitReach(h.stack, key, 'acme', INFERENCE_TARGETS);
        fetches += 1;
      } catch (err) {
        if (h.stack.valohai.state.keyFor(PROJECTS.inference.repositoryId) === key) failures.push(String(err));
      }
    }
    await done;
    assert.deepEqual(failures, []);
    assert.ok(fetches > 0);

    const afterRotation = await stored('inference-api');
    assert.notEqual(afterRotation?.record.fingerprint, before.record.fingerprint, 'a new key');
    for (const slug of INFERENCE_TARGETS) {
      const onRepo = h.stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key);
      assert.ok(onRepo.includes(afterRotation?.record.publicKey ?? '-'), `${slug} has the new key`);
      assert.ok(!onRepo.includes(before.record.publicKey), `${slug} no longer has the old key`);
    }
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
    assert.match(page.connection?.health.recentChanges[0]?.detail ?? '', /automatic rotation/);
    assert.equal(page.connection?.health.recentChanges[0]?.kind, 'rotated');
    // The new key's age counts from the rotation (the emulator's own clock is not moved, so Bitbucket's created_on is not compared).
    assert.ok(Math.abs(Date.parse(afterRotation?.record.createdAt ?? '') - h.platform.clock.now().getTime()) < 60_000);
    assert.equal((await stored('datasets'))?.record.fingerprint, beforeDatasets.record.fingerprint, 'the day\'s limit kept the second one waiting');
    assert.equal((await loadAutomation(h.platform.store, ws())).rotations.count, 1);

    // The next day, the other one.
    h.advance(DAY);
    h.platform.holdQueue();
    const next = h.platform.enqueued.length;
    const second = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
    assert.deepEqual(second?.rotations, ['acme/datasets']);
    assert.equal((await rotationJobs(next)).length, 1);
    h.platform.releaseQueue();
    await h.platform.idle();
    assert.notEqual((await stored('datasets'))?.record.fingerprint, beforeDatasets.record.fingerprint);
  });

  // Each refusal is permanent (not retried), so every case ends quickly and at its step.
  const steps = [
    { step: 'adding the new key to a submodule repository', system: 'bitbucket', rule: { method: 'POST', path: '/repositories/acme/training-lib/deploy-keys/?$', status: 403, body: { type: 'error', error: { message: 'You do not have access to this repository.' } } }, cause: /access/i },
    { step: 'giving Valohai the new key', system: 'valohai', rule: { method: 'PATCH', path: `^/api/v0/repositories/${PROJECTS.inference.repositoryId}/$`, status: 400, body: { ssh_private_key: ['This key could not be stored.'] } }, cause: /could not be stored/ },
    { step: 'Valohai fetching with the new key', system: 'valohai', rule: { method: 'POST', path: `^/api/v0/projects/${PROJECTS.inference.id}/fetch/$`, status: 403, body: { detail: 'You do not have permission to perform this action.' } }, cause: /permission/ },
  ] as const;

  test('a rotation whose old key cannot be removed everywhere still moves to the new key, and the old one is listed to remove', async () => {
    await setPolicy(5);
    h.advance(181 * DAY);
    const before = await stored('inference-api');
    assert.ok(before);
    h.stack.bitbucket.faults.add({ method: 'DELETE', path: '/repositories/acme/training-lib/deploy-keys/\\d+/?$', status: 403, body: { type: 'error', error: { message: 'You do not have access to this repository.' } } });
    try {
      h.platform.holdQueue();
      const run = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
      assert.ok(run?.rotations.includes('acme/inference-api'));
      h.platform.releaseQueue();
      await h.platform.idle();
    } finally {
      h.stack.bitbucket.faults.clear();
    }
    const after = await stored('inference-api');
    assert.notEqual(after?.record.fingerprint, before.record.fingerprint, 'Valohai moved to the new key');
    const key = h.stack.valohai.state.keyFor(PROJECTS.inference.repositoryId);
    assert.ok(key);
    await gitReach(h.stack, key, 'acme', INFERENCE_TARGETS);
    const onLib = h.stack.bitbucket.state.accessKeys('acme', 'training-lib').map((k) => k.key);
    assert.ok(onLib.includes(before.record.publicKey), 'the old key stayed where Bitbucket refused its removal');
    // Whatever the rotation said, the next check names the old key as one to remove.
    h.advance(DAY);
    await h.backend.onSchedule();
    await h.platform.idle();
    const health = await loadHealth(h.platform.store, ws(), h.repoUuid('inference-api'));
    const leftover = health.keyNotices.find((n) => n.repository === 'acme/training-lib' && n.kind === 'unneeded');
    assert.ok(leftover?.removable, JSON.stringify(health.keyNotices));
  });

  for (const s of steps) {
    test(`a rotation that fails at ${s.step} leaves a working key and an alert naming the cause`, async () => {
      await setPolicy(5);
      h.advance(181 * DAY);
      const injector = s.system === 'bitbucket' ? h.stack.bitbucket.faults : h.stack.valohai.faults;
      injector.add(s.rule);
      try {
        h.platform.holdQueue();
        const run = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === ws());
        assert.ok(run?.rotations.includes('acme/inference-api'));
        h.platform.releaseQueue();
        await h.platform.idle();
      } finally {
        h.stack.bitbucket.faults.clear();
        h.stack.valohai.faults.clear();
      }
      // Whatever key Valohai holds opens every repository it fetches.
      const key = h.stack.valohai.state.keyFor(PROJECTS.inference.repositoryId);
      assert.ok(key, 'Valohai still holds a key');
      await gitReach(h.stack, key, 'acme', INFERENCE_TARGETS);

      const latest = (await loadHealth(h.platform.store, ws(), h.repoUuid('inference-api'))).entries.at(-1);
      const alert = latest?.findings.find((f) => f.code === 'auto-rotate-failed');
      assert.ok(alert, `an alert after failing at ${s.step}`);
      assert.match(alert.message, s.cause);
      assert.match(alert.message, /old key still works|could not be verified/);
      assert.ok(alert.fix);
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'inference-api')));
      assert.ok(page.connection?.health.latest?.findings.some((f) => f.code === 'auto-rotate-failed'));
    });
  }
});
