/**
 * Bulk actions over the workspace: rotate, verify, disconnect or connect many repositories, each as its
 * own repository job (jobs/slots.ts), so each keeps the invariants of the single action: one job per
 * repository at a time, make-before-break, every key it adds checked by the trust rules for the admin
 * who started the batch (the job's account).
 *
 * Names in a payload choose among the workspace's repositories; they are matched against the listing
 * (read as the app) and the connection records, never taken as given: a name that is not a repository of
 * this workspace refuses the whole request, by name.
 *
 * One batch at a time per workspace: an atomic create of the batch slot. The batch is queue work: a step
 * records the outcome of jobs that ended, starts a few more when the token user's ledger has room for
 * their estimates (budget.ts: fleet work spends the unattended share), and ends. A job that ends sends the
 * batch a step; when the next repository does not fit, the batch waits with delayed messages until the
 * ledger says it does, as the audit does. A job stopped by the token's hour (Bitbucket's 429, or the
 * ledger refusing a request) goes back in the queue and runs again after the ledger's back-off.
 *
 * Steps never run side by side: a step writes a lease first. A delivery that finds the lease held has
 * already changed the batch's poke record, and the holder, having cleared its lease, looks at the poke
 * and runs once more: a job's end is never lost between two steps.
 *
 * This file holds the resolvers; the plan (names to repositories, and their cost) is batch-plan.ts, the
 * queue step batch-run.ts, what the page shows batch-view.ts, and the records batch-records.ts.
 */
import { randomUUID } from 'node:crypto';
import { workspaceAdmin } from '../access/authorize';
import type { BatchPlan, BatchView, GetBatchPayload, PlanBatchPayload, StartBatchPayload } from '../contract';
import { Credentials } from '../store/credentials';
import { failures, ResolverFailure } from '../errors';
import { FLEET_SHARE, fleetMeter, fleetWait } from './budget';
import { bareUuid, keys } from '../store/keys';
import type { ForgePlatform, TrustedContext } from '../platform/ports';
import { BATCH_CONCURRENCY, BATCH_LEASE_MS, emptyCounts, finished, loadBatch, saveBatch, saveItem, TTL_SECONDS, type BatchItem, type BatchSlot, type BatchState } from './batch-records';
import { BULK_CONNECT_KEY_TYPE, planFor, REQUESTS_PER_TARGET } from './batch-plan';
import { batchProgress, batchView, clockTime } from './batch-view';
import { latestRunView } from './latest-run';

export async function planBatch(platform: ForgePlatform, context: TrustedContext, payload: PlanBatchPayload): Promise<BatchPlan> {
  const planned = await planFor(platform, context, payload);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const now = platform.clock.now();
  const total = planned.act.reduce((n, a) => n + a.requests, 0);
  // What the token user's ledger has left for fleet work (the whole share when no token is stored yet).
  const secret = await new Credentials(platform, ws).usableBitbucket();
  const meter = secret ? await fleetMeter(platform, secret) : undefined;
  const left = meter ? meter.remaining() : FLEET_SHARE;
  const refillsAt = meter && total > left ? fleetWait(meter, total, now) : null;
  const extraHours = total <= left ? 0 : Math.ceil((total - left) / FLEET_SHARE);
  const n = planned.act.length;
  const what = `${n} ${n === 1 ? 'repository' : 'repositories'}, about ${total} stored-token requests`;
  const duration =
    n === 0
      ? 'Nothing to do: every repository named is skipped.'
      : extraHours === 0
        ? `${what}: fits in what automatic work may still spend of the token's hour (${left} of ${FLEET_SHARE} left), ${BATCH_CONCURRENCY} repositories at a time.`
        : `${what}: more than automatic work may still spend of the token's hour (${left} of ${FLEET_SHARE} left${refillsAt ? `, more from about ${clockTime(refillsAt, now)}` : ''}), so it pauses and resumes by itself, finishing in about ${extraHours + 1} hours.`;
  return {
    action: payload.action,
    keyType: payload.action === 'connect' ? (payload.keyType ?? BULK_CONNECT_KEY_TYPE) : payload.action === 'rotate' ? (payload.keyType ?? null) : null,
    act: planned.act.map(({ repository, targets, requests, project, repositories, submodulesUnread }) => ({
      repository,
      targets,
      requests,
      ...(project ? { project } : {}),
      ...(repositories ? { repositories } : {}),
      ...(submodulesUnread ? { submodulesUnread } : {}),
    })),
    skip: planned.skip,
    requests: { total, perTarget: REQUESTS_PER_TARGET[payload.action].perTarget, source: REQUESTS_PER_TARGET[payload.action].source },
    budget: { perHour: FLEET_SHARE, leftThisHour: left, refillsAt: refillsAt?.toISOString() ?? null },
    extraHours,
    duration,
  };
}

function underWay(state: BatchState, now: Date): ResolverFailure {
  return new ResolverFailure(
    'job-running',
    `A bulk ${state.action} is under way in this workspace: ${batchProgress(state, now)}`,
    'Wait for it to finish, or cancel it; one bulk action runs at a time.',
    true,
  );
}

/** Takes the workspace's batch slot; a slot whose batch ended (or never got its state) is taken back. */
async function takeSlot(platform: ForgePlatform, ws: string, batchId: string): Promise<void> {
  const { store, clock } = platform;
  const slot = keys.fleetBatchSlot(ws);
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = clock.now();
    if (await store.create(slot, { batchId, createdAt: now.toISOString() } satisfies BatchSlot, { ttlSeconds: TTL_SECONDS })) return;
    const held = await store.get<BatchSlot>(slot);
    if (!held) continue;
    const holder = await loadBatch(platform, ws);
    if (holder?.id === held.batchId && !finished(holder.status)) {
      await wakeIfStalled(platform, ws, holder);
      throw underWay(holder, now);
    }
    if (!holder || holder.id !== held.batchId) {
      // Its starter died between the slot and the state: give it the moment a resolver takes.
      if (now.getTime() - Date.parse(held.createdAt) < 60_000) {
        throw new ResolverFailure('job-running', 'A bulk action is being started in this workspace.', 'Wait a moment, then reload the page.', true);
      }
    }
    await store.delete(slot);
  }
  throw new ResolverFailure('job-running', 'Another bulk action started at the same moment.', 'Reload the page to see it.', true);
}

export async function startBatch(platform: ForgePlatform, context: TrustedContext, payload: StartBatchPayload): Promise<BatchView> {
  const { confirm, ...selection } = payload;
  const planned = await planFor(platform, context, selection);
  const ws = bareUuid(context.workspaceId, 'workspace');
  if (payload.action === 'disconnect') {
    // Typed, not clicked: a bulk disconnect removes keys Valohai fetches with across the workspace.
    // Exactly as shown: "ACME" is not the slug acme.
    if (!planned.workspaceSlug || (confirm ?? '').trim() !== planned.workspaceSlug) {
      throw new ResolverFailure(
        'invalid-payload',
        `A bulk disconnect needs the workspace's name typed to confirm it. Nothing was disconnected.`,
        `Type ${planned.workspaceSlug || "the workspace's slug"} in the confirmation field, then start it again.`,
      );
    }
  } else if (confirm !== undefined) {
    throw new ResolverFailure('invalid-payload', 'Only a bulk disconnect takes a typed confirmation.', 'Reload the page and try again.');
  }
  const credentials = new Credentials(platform, ws);
  if ((payload.action === 'rotate' || payload.action === 'connect') && !(await credentials.usableBitbucket())) throw failures.bitbucketNotSetUp();
  if (payload.action !== 'disconnect' && !(await credentials.valohai())) throw failures.valohaiNotSetUp();
  if (planned.act.length === 0) {
    throw new ResolverFailure(
      'not-connected',
      `Nothing to ${payload.action}: every repository named is skipped (${planned.skip.slice(0, 5).map((s) => `${s.repository}: ${s.reason}`).join('; ')}${planned.skip.length > 5 ? '; …' : ''}).`,
      'Choose repositories the action applies to.',
    );
  }

  const now = platform.clock.now();
  const id = randomUUID();
  await takeSlot(platform, ws, id);
  try {
    const items: BatchItem[] = [
      ...planned.act.map((a, i): BatchItem => ({
        index: i,
        repository: a.repository,
        repositoryUuid: a.repositoryUuid,
        status: 'queued',
        jobId: null,
        targets: a.targets,
        estimate: a.requests,
        ...(a.connect ? { connect: a.connect } : {}),
      })),
      // Skipped ones are listed after, so the batch's place (`next`) runs over the ones to act on.
      ...planned.skip.map((s, i): BatchItem => ({
        index: planned.act.length + i,
        repository: s.repository,
        repositoryUuid: '',
        status: 'skipped',
        jobId: null,
        targets: 0,
        estimate: 0,
        reason: s.reason,
      })),
    ];
    for (const item of items) await saveItem(platform, ws, id, item);
    const state: BatchState = {
      id,
      action: payload.action,
      status: 'running',
      startedAt: now.toISOString(),
      startedBy: context.accountId,
      finishedAt: null,
      keyType: payload.action === 'rotate' ? (payload.keyType ?? null) : null,
      total: items.length,
      planned: planned.act.length,
      next: 0,
      running: [],
      counts: { ...emptyCounts(), queued: planned.act.length, skipped: planned.skip.length },
      requests: { token: 0 },
      leaseUntil: null,
      waitUntil: null,
      wakeDueAt: null,
      updatedAt: now.toISOString(),
    };
    await saveBatch(platform, ws, state);
    await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: id });
    platform.log.info('bulk action started', { batchId: id, action: payload.action, repositories: planned.act.length });
    return batchView(platform, ws, state, { page: 1, pageSize: 0 });
  } catch (err) {
    await platform.store.delete(keys.fleetBatchSlot(ws));
    throw err;
  }
}

export async function getBatch(platform: ForgePlatform, context: TrustedContext, payload: GetBatchPayload): Promise<{ batch: BatchView | null }> {
  return { batch: await latestRunView(platform, context, { load: loadBatch, wakeIfStalled, view: batchView }, payload) };
}

export async function cancelBatch(platform: ForgePlatform, context: TrustedContext): Promise<BatchView> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const state = await loadBatch(platform, ws);
  if (!state || finished(state.status)) {
    throw new ResolverFailure('not-found', 'No bulk action is under way in this workspace.', 'Reload the page to see how the last one ended.');
  }
  await platform.store.set(keys.fleetBatchCancel(ws, state.id), { by: context.accountId, at: platform.clock.now().toISOString() }, { ttlSeconds: TTL_SECONDS });
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id });
  platform.log.info('bulk action cancelled', { batchId: state.id });
  return batchView(platform, ws, { ...state, status: 'cancelling' }, { page: 1, pageSize: 0 });
}

/** A batch whose step died (its lease lapsed) or whose messages were all lost gets a new step. */
async function wakeIfStalled(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  if (finished(state.status)) return;
  const now = platform.clock.now().getTime();
  const lapsed = state.leaseUntil !== null && Date.parse(state.leaseUntil) < now;
  const overdue = state.leaseUntil === null && state.wakeDueAt !== null && now - Date.parse(state.wakeDueAt) > BATCH_LEASE_MS;
  const quiet = state.leaseUntil === null && state.wakeDueAt === null && now - Date.parse(state.updatedAt) > BATCH_LEASE_MS;
  if (!lapsed && !overdue && !quiet) return;
  platform.log.warn('bulk action stalled; resumed', { batchId: state.id });
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id });
}
