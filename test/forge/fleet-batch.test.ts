// Bulk actions over the 500-repository workspace, as an admin and an attacker would notice them: each
// action's effect on Bitbucket and Valohai, a repository that fails among others that finish, cancel,
// one batch at a time, and who may ask about which repositories.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultRule } from '../../dev/faults';
import { buildFleetSeed, type FleetFacts } from '../../dev/seed/index';
import type { BatchView, StartBatchPayload } from '../../src/forge/contract';
import { FLEET_SHARE, HOUR_MS } from '../../src/forge/fleet/budget';
import { keys } from '../../src/forge/store/keys';
import type { StoredConnection } from '../../src/forge/store/records';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, spendTokenHour, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

/** Six plain repositories the tests connect in bulk, then rotate, verify, cancel and disconnect. */
const SLUGS = ['fleet-020', 'fleet-021', 'fleet-022', 'fleet-023', 'fleet-024', 'fleet-025'];
const NAMES = SLUGS.map((s) => `acme/${s}`);

async function batch(h: Harness): Promise<BatchView> {
  const reply = valueOf(await h.call('getBatch', { pageSize: 200 }, h.context('admin')));
  assert.ok(reply.batch, 'a batch exists');
  return reply.batch;
}

async function run(h: Harness, payload: StartBatchPayload): Promise<BatchView> {
  valueOf(await h.call('startBatch', payload, h.context('admin')));
  await h.platform.idle();
  return batch(h);
}

/** `run`, with Bitbucket answering as `fault` says while the batch's jobs run. */
async function runWithFault(h: Harness, fault: FaultRule, payload: StartBatchPayload): Promise<BatchView> {
  const id = h.stack.bitbucket.faults.add(fault);
  try {
    return await run(h, payload);
  } finally {
    h.stack.bitbucket.faults.remove(id);
  }
}

function connectionOf(h: Harness, slug: string): Promise<StoredConnection | undefined> {
  const ws = h.workspaceId.replace(/[{}]/g, '');
  return h.platform.store.get<StoredConnection>(keys.connection(ws, h.repoUuid(slug).replace(/[{}]/g, '')));
}

/** The labels of the app's access keys on a repository, as Bitbucket holds them (the seed's own keys left out). */
function keysOn(h: Harness, slug: string): string[] {
  return allKeysOn(h, slug).filter((label) => /\[vh:[0-9a-z]{12}\]$/.test(label));
}

function allKeysOn(h: Harness, slug: string): string[] {
  const { state } = h.stack.bitbucket;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo);
  return state.listAccessKeys(repo).map((k) => k.label);
}

describe('bulk actions over a 500-repository workspace', () => {
  let h: Harness;
  let facts: FleetFacts;
  const sent: SentRequest[] = [];
  const tokenSince = (from: number) => sent.slice(from).filter((r) => r.via === 'token');

  before(async () => {
    const built = await buildFleetSeed();
    facts = built.facts;
    h = await startHarness({ built, shareClock: true, record: (r) => sent.push(r) });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  test('only workspace admins: a repository admin, a reader and an outsider are refused every batch resolver', async () => {
    const mine = facts.writerAdministers;
    for (const who of ['writer', 'reader', 'outsider'] as const) {
      for (const [name, payload] of [
        ['planBatch', { action: 'verify', repositories: mine }],
        ['startBatch', { action: 'verify', repositories: mine }],
        ['getBatch', {}],
        ['cancelBatch', {}],
      ] as const) {
        const err = errorOf(await h.call(name, payload, h.context(who)));
        assert.equal(err.code, 'not-admin', `${who} ${name}: ${err.message}`);
      }
    }
    assert.equal(valueOf(await h.call('getBatch', {}, h.context('admin'))).batch, null, 'nothing was started');
  });

  test('a repository of another workspace, or one that does not exist, is refused by name and nothing starts', async () => {
    for (const name of ['planBatch', 'startBatch'] as const) {
      const err = errorOf(await h.call(name, { action: 'rotate', repositories: ['acme/fleet-020', 'umbrella/weather', 'acme/no-such-repo'] }, h.context('admin')));
      assert.equal(err.code, 'not-found', err.message);
      assert.match(err.message, /umbrella\/weather/);
      assert.match(err.message, /acme\/no-such-repo/);
      assert.doesNotMatch(err.message, /fleet-020/);
    }
    assert.equal(valueOf(await h.call('getBatch', {}, h.context('admin'))).batch, null);
    const err = errorOf(await h.call('planBatch', { action: 'verify', repositories: ['acme/fleet-020'], workspace: 'umbrella' }, h.context('admin')));
    assert.equal(err.code, 'invalid-payload', 'a payload never names the workspace');
  });

  test('connect in bulk: a new project per repository under an allowed owner; an owner the token cannot use is refused', async () => {
    const refused = errorOf(await h.call('planBatch', { action: 'connect', repositories: NAMES, connect: { project: 'new', owner: 'umbrella' } }, h.context('admin')));
    assert.equal(refused.code, 'not-admin', refused.message);

    const plan = valueOf(await h.call('planBatch', { action: 'connect', repositories: NAMES, connect: { project: 'new', owner: 'acme' } }, h.context('admin')));
    assert.deepEqual(plan.act.map((a) => a.project), SLUGS.map((s) => `acme/${s}`));
    const done = await run(h, { action: 'connect', repositories: NAMES, connect: { project: 'new', owner: 'acme' } });
    assert.equal(done.status, 'done', done.progress);
    assert.deepEqual(done.failed, []);
    assert.equal(done.counts.done, SLUGS.length);
    for (const slug of SLUGS) {
      const connection = await connectionOf(h, slug);
      assert.equal(connection?.state, 'connected', slug);
      assert.equal(connection?.connectedBy, bb.admin.accountId, 'the job acted for the admin who started the batch');
      assert.deepEqual(keysOn(h, slug), [connection?.record.label]);
    }
    // Connected now, and a project of that name exists: both reasons say so.
    const again = valueOf(await h.call('planBatch', { action: 'connect', repositories: [...NAMES, 'acme/fleet-030'], connect: { project: 'existing' } }, h.context('admin')));
    assert.deepEqual(again.skip.map((s) => s.reason), [...SLUGS.map(() => 'already connected'), 'no Valohai project is named fleet-030']);
  });

  test('verify in bulk: every connection fetched by Valohai, no stored-token request; a repository not connected is skipped', async () => {
    h.advance(HOUR_MS + 60_000);
    const plan = valueOf(await h.call('planBatch', { action: 'verify', repositories: [...NAMES, 'acme/fleet-030'] }, h.context('admin')));
    assert.deepEqual(plan.act.map((a) => a.repository), NAMES);
    assert.deepEqual(plan.skip, [{ repository: 'acme/fleet-030', reason: 'not connected' }]);
    assert.equal(plan.requests.total, 0);
    assert.match(plan.requests.source, /^verify: /);
    const from = sent.length;
    const done = await run(h, { action: 'verify', repositories: [...NAMES, 'acme/fleet-030'] });
    assert.equal(done.status, 'done', done.progress);
    assert.deepEqual(done.counts, { queued: 0, running: 0, done: 6, failed: 0, skipped: 1 });
    assert.equal(tokenSince(from).length, 0, 'verify spends none of the stored token');
    for (const slug of SLUGS) assert.ok((await connectionOf(h, slug))?.lastFetch?.ok, slug);
  });

  test('rotate in bulk: new keys everywhere, the old ones gone, Valohai fetching with the new, at most 4 token requests a repository', async () => {
    const before = new Map(await Promise.all(SLUGS.map(async (s) => [s, (await connectionOf(h, s))?.record.fingerprint] as const)));
    const plan = valueOf(await h.call('planBatch', { action: 'rotate', olderThanDays: 0 }, h.context('admin')));
    assert.deepEqual([...plan.act.map((a) => a.repository)].sort(), NAMES);
    assert.ok(plan.act.every((a) => a.requests === 4));
    assert.equal(plan.extraHours, 0);
    const from = sent.length;
    const done = await run(h, { action: 'rotate', olderThanDays: 0 });
    assert.equal(done.status, 'done', done.progress);
    assert.deepEqual(done.failed, []);
    assert.equal(done.counts.done, 6);
    for (const slug of SLUGS) {
      const connection = await connectionOf(h, slug);
      assert.notEqual(connection?.record.fingerprint, before.get(slug), `${slug} has a new key`);
      assert.deepEqual(keysOn(h, slug), [connection?.record.label], `${slug}: only the new key is left`);
      assert.ok(connection?.lastFetch?.ok, `${slug}: Valohai fetched with the new key`);
    }
    assert.ok(done.items.every((i) => (i.requests ?? 99) <= 4), JSON.stringify(done.items.map((i) => i.requests)));
    assert.equal(tokenSince(from).length, done.requests.token, 'the batch counts what its jobs sent');
  });

  test('one repository failing (its key write refused) fails with the reason; the others finish', async () => {
    h.advance(HOUR_MS + 60_000);
    const before = await connectionOf(h, 'fleet-022');
    const done = await runWithFault(h, { method: 'POST', path: 'fleet-022/deploy-keys$', status: 500, body: { type: 'error', error: { message: 'Something went wrong' } } }, { action: 'rotate', repositories: NAMES });
    assert.equal(done.status, 'done', done.progress);
    assert.deepEqual(done.counts, { queued: 0, running: 0, done: 5, failed: 1, skipped: 0 });
    assert.equal(done.failed.length, 1);
    assert.equal(done.failed[0]?.repository, 'acme/fleet-022');
    assert.match(done.failed[0]?.error ?? '', /^Bitbucket answered 500 while adding an access key to acme\/fleet-022/);
    assert.match(done.progress, /^Done \(5 of 6\), 1 failed\.$/);
    // Make-before-break: the failed one still has its old key, and Valohai still fetches with it.
    const after = await connectionOf(h, 'fleet-022');
    assert.equal(after?.record.fingerprint, before?.record.fingerprint);
    assert.deepEqual(keysOn(h, 'fleet-022'), [before?.record.label]);
    const failedOnly = valueOf(await h.call('getBatch', { status: 'failed' }, h.context('admin'))).batch;
    assert.deepEqual(failedOnly?.items.map((i) => i.repository), ['acme/fleet-022']);
  });

  test("when the token's hour has no room for automatic work, the batch waits with delayed steps, says when it resumes, and does", async () => {
    h.advance(HOUR_MS + 60_000);
    // Other automatic work of the token's user spent all but two rotations' worth of its share this hour.
    const spentAt = h.platform.clock.now().getTime();
    await spendTokenHour(h, { unattended: FLEET_SHARE - 8 });
    const plan = valueOf(await h.call('planBatch', { action: 'rotate', repositories: NAMES }, h.context('admin')));
    assert.equal(plan.budget.perHour, FLEET_SHARE);
    assert.equal(plan.budget.leftThisHour, 8);
    assert.equal(plan.budget.refillsAt, new Date(Math.floor(spentAt / 60_000) * 60_000 + HOUR_MS).toISOString(), 'when the minute they were spent in leaves the hour');
    assert.equal(plan.extraHours, 1);
    assert.match(plan.duration, /pauses and resumes by itself/);
    const from = sent.length;
    const waiting = await run(h, { action: 'rotate', repositories: NAMES });
    assert.equal(waiting.status, 'waiting', waiting.progress);
    assert.equal(waiting.counts.done, 2);
    assert.equal(waiting.counts.queued, 4);
    assert.ok(waiting.resumesAt);
    assert.match(waiting.progress, /^2 of 6 done; resumes at about (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC when the stored token's hour has room\.$/);
    assert.ok(tokenSince(from).length <= 8, `the two rotations stayed within the 8 left (${tokenSince(from).length})`);
    assert.equal(h.platform.delayedMessages.filter((m) => m.message.type === 'fleet-batch').length >= 1, true);
    for (let hop = 0; hop < 8 && (await batch(h)).status === 'waiting'; hop++) {
      h.advance(900_000);
      h.platform.runDue();
      await h.platform.idle();
    }
    const done = await batch(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.counts.done, 6);
    assert.equal(h.stack.bitbucket.requests.filter((r) => r.status === 429).length, 0, 'no 429 on the way');
  });

  test("a repository whose job met Bitbucket's 429 goes back in the queue and runs again after the back-off, not the hour", async () => {
    h.advance(HOUR_MS + 60_000);
    const before = await connectionOf(h, 'fleet-023');
    // As Bitbucket answers it: plain text, no Retry-After. Once, on the new key's write.
    const waiting = await runWithFault(h, { method: 'POST', path: 'fleet-023/deploy-keys$', times: 1, status: 429, body: 'Rate limit for this resource has been exceeded.' }, { action: 'rotate', repositories: NAMES });
    assert.equal(waiting.status, 'waiting', waiting.progress);
    assert.equal(waiting.counts.failed, 0, 'a 429 fails no repository');
    assert.ok(waiting.counts.queued >= 1, JSON.stringify(waiting.counts));
    assert.equal(waiting.items.find((i) => i.repository === 'acme/fleet-023')?.status, 'queued');
    const wait = Date.parse(waiting.resumesAt ?? '') - h.platform.clock.now().getTime();
    assert.ok(wait > 50_000 && wait <= 60_000, `the first back-off is a minute (${wait} ms)`);
    h.advance(wait + 1000);
    h.platform.runDue();
    await h.platform.idle();
    const done = await batch(h);
    assert.equal(done.status, 'done', done.progress);
    assert.deepEqual(done.counts, { queued: 0, running: 0, done: 6, failed: 0, skipped: 0 });
    const after = await connectionOf(h, 'fleet-023');
    assert.notEqual(after?.record.fingerprint, before?.record.fingerprint, 'rotated on its second run');
    assert.deepEqual(keysOn(h, 'fleet-023'), [after?.record.label], 'one key left: nothing of the stopped run remains');
    assert.ok(after?.lastFetch?.ok);
  });

  test("a repository Bitbucket's 429 stops again and again, each time after the back-off, still completes once the hour rolls on", async () => {
    h.advance(HOUR_MS + 60_000);
    const before = await connectionOf(h, 'fleet-023');
    // A limit lower than the ledger expects, as a busy hour on a smaller allowance meets it: its key write refused seven times.
    const id = h.stack.bitbucket.faults.add({ method: 'POST', path: 'fleet-023/deploy-keys$', times: 7, status: 429, body: 'Rate limit for this resource has been exceeded.' });
    try {
      valueOf(await h.call('startBatch', { action: 'rotate', repositories: NAMES }, h.context('admin')));
      await h.platform.idle();
      let view = await batch(h);
      const started = h.platform.clock.now().getTime();
      for (let step = 0; step < 20 && view.status !== 'done'; step++) {
        assert.equal(view.counts.failed, 0, `step ${step}: ${JSON.stringify(view.items.filter((i) => i.status === 'failed'))}`);
        const wait = view.resumesAt ? Date.parse(view.resumesAt) - h.platform.clock.now().getTime() : 5 * 60_000;
        h.advance(Math.max(wait, 0) + 1000);
        h.platform.runDue();
        await h.platform.idle();
        view = await batch(h);
      }
      assert.equal(view.status, 'done', view.progress);
      assert.deepEqual(view.counts, { queued: 0, running: 0, done: 6, failed: 0, skipped: 0 });
      assert.ok(h.platform.clock.now().getTime() - started > 30 * 60_000, 'seven back-offs in a row took more than half an hour');
    } finally {
      h.stack.bitbucket.faults.remove(id);
    }
    const after = await connectionOf(h, 'fleet-023');
    assert.notEqual(after?.record.fingerprint, before?.record.fingerprint);
    assert.deepEqual(keysOn(h, 'fleet-023'), [after?.record.label], 'one key left: nothing of the stopped runs remains');
    assert.ok(after?.lastFetch?.ok);
  });

  test('one batch at a time, and cancel midway: running jobs finish, the rest are not started', async () => {
    h.platform.holdQueue();
    valueOf(await h.call('startBatch', { action: 'verify', repositories: NAMES }, h.context('admin')));
    const busy = errorOf(await h.call('startBatch', { action: 'verify', repositories: NAMES }, h.context('admin')));
    assert.equal(busy.code, 'job-running', busy.message);
    assert.match(busy.message, /bulk verify is under way/);
    // The first step runs and starts its few jobs; their messages wait.
    h.platform.releaseQueue();
    h.platform.holdQueue();
    await h.platform.idle();
    const midway = await batch(h);
    assert.equal(midway.counts.running, 3);
    const cancelling = valueOf(await h.call('cancelBatch', {}, h.context('admin')));
    assert.equal(cancelling.status, 'cancelling');
    h.platform.releaseQueue();
    await h.platform.idle();
    const cancelled = await batch(h);
    assert.equal(cancelled.status, 'cancelled', cancelled.progress);
    assert.deepEqual(cancelled.counts, { queued: 0, running: 0, done: 3, failed: 0, skipped: 3 });
    assert.ok(cancelled.items.filter((i) => i.status === 'skipped').every((i) => i.jobId === null && /cancelled/.test(i.reason ?? '')));
    const page2 = valueOf(await h.call('getBatch', { page: 2, pageSize: 4 }, h.context('admin'))).batch;
    assert.equal(page2?.items.length, 2);
    assert.equal(page2?.matchingItems, 6);
    // The slot is free again.
    valueOf(await h.call('planBatch', { action: 'verify', repositories: NAMES }, h.context('admin')));
    assert.equal(errorOf(await h.call('cancelBatch', {}, h.context('admin'))).code, 'not-found');
  });

  test('disconnect in bulk needs the workspace typed; then every key goes and the connections with them', async () => {
    for (const confirm of [undefined, 'acme-typo', 'umbrella', 'ACME']) {
      const err = errorOf(await h.call('startBatch', { action: 'disconnect', repositories: NAMES, ...(confirm ? { confirm } : {}) }, h.context('admin')));
      assert.equal(err.code, 'invalid-payload', err.message);
      assert.match(err.fix, /Type acme/);
    }
    for (const slug of SLUGS) assert.equal(keysOn(h, slug).length, 1, `${slug} untouched without the confirmation`);
    assert.deepEqual(allKeysOn(h, 'fleet-023'), ['jenkins (2022)', keysOn(h, 'fleet-023')[0]]);
    const from = sent.length;
    const done = await run(h, { action: 'disconnect', repositories: NAMES, confirm: 'acme' });
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.counts.done, 6);
    for (const slug of SLUGS) {
      assert.deepEqual(keysOn(h, slug), [], `${slug}: no key left`);
      assert.equal(await connectionOf(h, slug), undefined);
    }
    assert.deepEqual(allKeysOn(h, 'fleet-023'), ['jenkins (2022)'], 'a key the app did not add stays');
    assert.ok(done.items.every((i) => (i.requests ?? 99) <= 2), JSON.stringify(done.items.map((i) => i.requests)));
    assert.equal(tokenSince(from).length, done.requests.token);
  });

  test('nothing stored, logged or answered holds a token or a private key', () => {
    const texts: [string, string][] = [
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
    ];
    assert.ok(assertNoSecrets(texts, h.privateKeys, ALL_TOKENS) > 20);
  });
});
