/**
 * A bulk action's queue step: records the outcome of jobs that ended, starts a few more when the token
 * user's ledger has room for them, and ends (see batch.ts for how steps keep from running side by side).
 */
import { randomUUID } from 'node:crypto';
import { errorName, ResolverFailure, toResolverError } from '../errors';
import { FLEET_SHARE, fleetMeter, fleetWait } from './budget';
import { Credentials } from '../store/credentials';
import { isFinished, isStale, loadJob, STALE_JOB_ERROR, startJob } from '../jobs/slots';
import type { JobEnd } from '../jobs/runner';
import { bareUuid, keys } from '../store/keys';
import { MAX_QUEUE_DELAY_SECONDS, type ForgePlatform } from '../platform/ports';
import type { JobInput, StoredConnection } from '../store/records';
import { BATCH_CONCURRENCY, BATCH_LEASE_MS, finished, loadBatch, loadItem, saveBatch, saveItem, TTL_SECONDS, type BatchItem, type BatchState } from './batch-records';
import { skipReason } from './batch-plan';

/** While jobs run, a delayed step looks in this often, in case a job's own message was lost. */
const SAFETY_WAKE_SECONDS = 300;

/**
 * How long a repository's jobs may keep being stopped by the token's hour (each then run again after the
 * ledger's back-off) before it is failed with that error. A time, not a count: at a lower limit than the
 * ledger expects (the app learns it only from 429s), a busy hour stops the same repository many times,
 * each a few minutes apart, and it still completes once the hour rolls on.
 */
const MAX_HOUR_WAIT_MS = 6 * 3_600_000;

/** A job's error kept per repository: enough for the cause and the fix. */
const MAX_ERROR = 1000;

function jobInput(state: BatchState, item: BatchItem): JobInput {
  switch (state.action) {
    case 'rotate':
      return { kind: 'rotate', choices: state.keyType ? { keyType: state.keyType } : {} };
    case 'verify':
      return { kind: 'verify' };
    case 'disconnect':
      return { kind: 'disconnect' };
    case 'connect':
      if (!item.connect) throw new Error('A bulk connect item lost its project choice.');
      return { kind: 'connect', choices: item.connect };
  }
}

/** Sends one delayed step, unless one is already due sooner. */
async function wakeAt(platform: ForgePlatform, ws: string, state: BatchState, at: Date): Promise<void> {
  const now = platform.clock.now().getTime();
  const seconds = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil((at.getTime() - now) / 1000)));
  const due = now + seconds * 1000;
  if (state.wakeDueAt && Date.parse(state.wakeDueAt) > now && Date.parse(state.wakeDueAt) <= due) return;
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id }, { delaySeconds: seconds });
  state.wakeDueAt = new Date(due).toISOString();
}

/** `resumed`: a redelivery after a step that died, whose lease is then taken over rather than waited out. */
export async function runBatchStep(platform: ForgePlatform, workspaceUuid: string, batchId: string, resumed = false): Promise<void> {
  const ws = bareUuid(workspaceUuid, 'workspace');
  const { store, clock, log } = platform;
  // Before the lease is read: a step holding it sees this and runs again (see the file's comment).
  await store.set(keys.fleetBatchPoke(ws, batchId), { id: randomUUID() }, { ttlSeconds: TTL_SECONDS });
  const state = await loadBatch(platform, ws);
  if (!state || state.id !== batchId || finished(state.status)) return;
  const now = clock.now();
  if (state.leaseUntil && Date.parse(state.leaseUntil) > now.getTime() && !resumed) return;
  if (state.wakeDueAt && Date.parse(state.wakeDueAt) <= now.getTime()) state.wakeDueAt = null;
  await saveBatch(platform, ws, { ...state, leaseUntil: new Date(now.getTime() + BATCH_LEASE_MS).toISOString() });
  const poke = await store.get<{ id: string }>(keys.fleetBatchPoke(ws, batchId));

  const held = await settleRunning(platform, ws, state);
  const cancelled = (await store.get(keys.fleetBatchCancel(ws, batchId))) !== undefined;
  if (cancelled) state.status = 'cancelling';
  else await startMore(platform, ws, state, held);

  const after = clock.now();
  if (state.running.length === 0 && (cancelled || state.next >= state.total)) {
    if (cancelled) await skipUnstarted(platform, ws, state);
    await saveBatch(platform, ws, { ...state, status: cancelled ? 'cancelled' : 'done', finishedAt: after.toISOString(), leaseUntil: null, waitUntil: null });
    await store.delete(keys.fleetBatchSlot(ws));
    log.info('bulk action finished', { batchId, status: cancelled ? 'cancelled' : 'done', done: state.counts.done, failed: state.counts.failed });
    return;
  }
  if (!cancelled) state.status = state.waitUntil ? 'waiting' : 'running';
  if (state.waitUntil && Date.parse(state.waitUntil) > after.getTime()) await wakeAt(platform, ws, state, new Date(state.waitUntil));
  else if (state.running.length > 0) await wakeAt(platform, ws, state, new Date(after.getTime() + SAFETY_WAKE_SECONDS * 1000));
  await saveBatch(platform, ws, { ...state, leaseUntil: null });
  const again = await store.get<{ id: string }>(keys.fleetBatchPoke(ws, batchId));
  if (again?.id !== poke?.id) await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId });
}

/**
 * Records the outcome of each running job that ended; one the token's hour stopped goes back in the queue,
 * in its place. Returns the estimates of the jobs still running: requests the ledger does not show yet.
 */
async function settleRunning(platform: ForgePlatform, ws: string, state: BatchState): Promise<number> {
  const now = platform.clock.now();
  const still: number[] = [];
  let held = 0;
  for (const index of state.running) {
    const item = await loadItem(platform, ws, state.id, index);
    if (!item?.jobId) continue;
    const job = await loadJob(platform.store, item.jobId);
    const stale = job ? isStale(job, now) : Date.parse(item.startedAt ?? state.startedAt) + BATCH_LEASE_MS < now.getTime();
    if (job && !isFinished(job.status) && !stale) {
      still.push(index);
      held += item.estimate;
      continue;
    }
    const ok = job?.status === 'done';
    const spent = job?.requests?.bitbucketToken ?? 0;
    state.counts.running -= 1;
    state.requests.token += spent;
    const firstHourStop = item.firstHourStopAt ? Date.parse(item.firstHourStopAt) : now.getTime();
    if (!ok && job?.tokenHourUntil && now.getTime() - firstHourStop < MAX_HOUR_WAIT_MS) {
      // Stopped by the token's hour, not by the repository: it runs again once the ledger has room (its back-off after a 429).
      const { startedAt: _started, ...rest } = item;
      await saveItem(platform, ws, state.id, {
        ...rest,
        status: 'queued',
        jobId: null,
        firstHourStopAt: new Date(firstHourStop).toISOString(),
        requests: (item.requests ?? 0) + spent,
      });
      state.counts.queued += 1;
      state.next = Math.min(state.next, index);
      continue;
    }
    const error = ok ? undefined : job?.error ?? (job?.status === 'unverified' ? 'The keys are in place, but Valohai could not be seen fetching with them.' : STALE_JOB_ERROR);
    const updated: BatchItem = {
      ...item,
      status: ok ? 'done' : 'failed',
      requests: (item.requests ?? 0) + spent,
      finishedAt: job?.finishedAt ?? now.toISOString(),
      ...(error !== undefined ? { error: error.length > MAX_ERROR ? `${error.slice(0, MAX_ERROR)}…` : error } : {}),
    };
    await saveItem(platform, ws, state.id, updated);
    state.counts[updated.status] += 1;
  }
  state.running = still;
  return held;
}

/**
 * Starts queued repositories, a few at a time, while the token user's ledger has room for their estimates
 * on top of `held` (the estimates of jobs already running); else the batch waits until it has.
 */
async function startMore(platform: ForgePlatform, ws: string, state: BatchState, held: number): Promise<void> {
  const { store, clock, log } = platform;
  const now = clock.now();
  // Verify and disconnect may run without a stored Bitbucket token: nothing of its hour to count then.
  const secret = await new Credentials(platform, ws).usableBitbucket();
  const meter = secret ? await fleetMeter(platform, secret) : undefined;
  state.waitUntil = null;
  while (state.running.length < BATCH_CONCURRENCY && state.next < state.total) {
    const item = await loadItem(platform, ws, state.id, state.next);
    if (!item || item.status !== 'queued') {
      state.next += 1;
      continue;
    }
    if (item.estimate > FLEET_SHARE) {
      state.next += 1;
      await finishItem(platform, ws, state, {
        ...item,
        status: 'skipped',
        reason: `it needs about ${item.estimate} stored-token requests, more than automatic work may spend in an hour (${FLEET_SHARE}): run it from its own page`,
      });
      continue;
    }
    if (meter && item.estimate > 0) {
      const until = fleetWait(meter, held + item.estimate, now);
      if (until) {
        state.waitUntil = until.toISOString();
        return;
      }
    }
    state.next += 1;
    const connection = await store.get<StoredConnection>(keys.connection(ws, item.repositoryUuid));
    const reason = skipReason(state.action, connection);
    if (reason) {
      await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: `${reason} when its turn came` });
      continue;
    }
    try {
      const job = await startJob(platform, {
        workspaceUuid: ws,
        repositoryUuid: item.repositoryUuid,
        repository: item.repository,
        accountId: state.startedBy,
        input: jobInput(state, item),
        batchId: state.id,
      });
      await saveItem(platform, ws, state.id, { ...item, status: 'running', jobId: job.id, startedAt: clock.now().toISOString() });
      state.counts.queued -= 1;
      state.counts.running += 1;
      state.running.push(item.index);
      held += item.estimate;
    } catch (err) {
      if (err instanceof ResolverFailure && err.code === 'job-running') {
        await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: `a job was running on it when its turn came (${err.message})` });
      } else {
        log.warn('bulk action could not start a job', { batchId: state.id, error: errorName(err) });
        const reply = toResolverError(err);
        await finishItem(platform, ws, state, { ...item, status: 'failed', error: `${reply.message} ${reply.fix}` });
      }
    }
  }
}

async function finishItem(platform: ForgePlatform, ws: string, state: BatchState, item: BatchItem): Promise<void> {
  await saveItem(platform, ws, state.id, { ...item, finishedAt: platform.clock.now().toISOString() });
  state.counts.queued -= 1;
  state.counts[item.status] += 1;
}

/** A cancelled batch: the repositories it never started say so. */
async function skipUnstarted(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  for (let index = state.next; index < state.total; index++) {
    const item = await loadItem(platform, ws, state.id, index);
    if (item?.status !== 'queued') continue;
    await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: 'not started: the bulk action was cancelled' });
  }
}

/** Told by the job runner: the bulk action that started the job takes its next step (a result to record, a place for the next repository). */
export async function tellBatch(platform: ForgePlatform, { job }: JobEnd): Promise<void> {
  if (!job.batchId) return;
  try {
    await platform.enqueue({ type: 'fleet-batch', workspaceUuid: job.workspaceUuid, batchId: job.batchId });
  } catch (err) {
    // The batch's own delayed wake-up finds the job ended.
    platform.log.warn('bulk action not told of a finished job', { jobId: job.id, error: errorName(err) });
  }
}
