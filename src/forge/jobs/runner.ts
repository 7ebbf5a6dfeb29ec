/**
 * The queue consumer's job half: runs one job record from 'queued' to its end, with its steps written
 * as they happen, the result stored, and the repository's job slot freed. It never throws: Forge would
 * retry a throwing consumer, and a connect must not run twice.
 */
import type { WorkflowResult } from '../../connect/index';
import { connectJob, disconnectJob, rotateJob } from './with-token';
import type { JobStatus } from '../contract';
import { cleanText, errorName, toResolverError } from '../errors';
import { FLEET_HEADROOM, recordSpent } from '../fleet/budget';
import { JobContext } from './context';
import { JobProgressWriter } from './progress';
import { isStale, loadJob, releaseSlot, saveJob, STALE_JOB_ERROR } from './slots';
import { manualConnect, verifyConnection } from './by-hand';
import { bareUuid } from '../store/keys';
import type { ForgePlatform } from '../platform/ports';
import type { JobRecord } from '../store/records';
import { recordAutomaticRotation } from '../health/schedule';

function submodulesOf(job: JobRecord): boolean {
  return job.input.kind === 'connect' || job.input.kind === 'manual-connect' ? job.input.choices.submodules : true;
}

async function run(ctx: JobContext, writer: JobProgressWriter): Promise<WorkflowResult> {
  const { input } = ctx.job;
  switch (input.kind) {
    case 'connect':
      return connectJob(ctx, input.choices, writer.sink);
    case 'manual-connect':
      return manualConnect(ctx, input.choices, writer.sink);
    case 'rotate':
      return rotateJob(ctx, input.choices, writer.sink);
    case 'disconnect':
    case 'manual-discard':
      return disconnectJob(ctx, writer.sink);
    case 'verify':
      return verifyConnection(ctx, writer.sink, false);
    case 'manual-verify':
      return verifyConnection(ctx, writer.sink, true);
  }
}

/**
 * Nothing stored may carry a token, even one a server echoed into an error, and no control or bidi
 * character from a server's words or a repository's names reaches the page.
 */
function scrub(result: WorkflowResult, secrets: readonly string[]): WorkflowResult {
  const clean = (text: string) => cleanText(text, secrets);
  return {
    ...result,
    ...(result.error !== undefined ? { error: clean(result.error) } : {}),
    ...(result.leftovers ? { leftovers: result.leftovers.map(clean) } : {}),
    warnings: result.warnings.map((w) => ({ ...w, message: clean(w.message) })),
  };
}

export async function runJob(platform: ForgePlatform, jobId: string): Promise<void> {
  const { store, log, clock } = platform;
  const job = await loadJob(store, jobId);
  if (!job) {
    log.warn('queued job has no record', { jobId });
    return;
  }
  if (job.status !== 'queued') {
    // A redelivered event: the first delivery owns the job. One that died mid-run is marked failed.
    if (isStale(job, clock.now())) {
      await saveJob(store, { ...job, status: 'failed', error: STALE_JOB_ERROR, finishedAt: clock.now().toISOString() });
      await releaseSlot(store, job);
      await tellBatch(platform, job);
    }
    log.warn('job delivered again; not run twice', { jobId, status: job.status });
    return;
  }
  if (isStale(job, clock.now())) {
    await saveJob(store, { ...job, status: 'failed', error: STALE_JOB_ERROR, finishedAt: clock.now().toISOString() });
    await releaseSlot(store, job);
    await tellBatch(platform, job);
    return;
  }

  job.status = 'running';
  job.startedAt = clock.now().toISOString();
  await saveJob(store, job);
  log.info('job started', { jobId, kind: job.kind });

  // A connect makes the connection, and a person's own rotate (which authorised every repository for
  // them) takes it over: that account is the one automatic work later acts for. An automatic rotation
  // or a bulk action's item keeps the maker it found.
  const makes =
    job.input.kind === 'connect' || job.input.kind === 'manual-connect' || (job.input.kind === 'rotate' && !job.input.automatic && job.batchId === undefined);
  const ctx = new JobContext(platform, job, { submodules: submodulesOf(job), projectOwner: null, ...(makes ? { connectedBy: job.accountId } : {}) });
  const writer = new JobProgressWriter(store, job, log);
  let status: JobStatus = 'failed';
  let result: WorkflowResult | undefined;
  let error: string | undefined;
  try {
    result = await run(ctx, writer);
    await ctx.settleCredentials(result);
    status = result.outcome;
    error = result.error;
  } catch (err) {
    const reply = toResolverError(err, ctx.secrets);
    error = `${reply.message} ${reply.fix}`;
    log.warn('job failed', { jobId, kind: job.kind, error: errorName(err) });
    await ctx.settleCredentials(undefined).catch(() => undefined);
  }
  const final: Partial<JobRecord> = { status, finishedAt: clock.now().toISOString(), requests: { ...ctx.counts } };
  if (result) final.result = scrub(result, ctx.secrets);
  if (error !== undefined) final.error = cleanText(error, ctx.secrets);
  try {
    await writer.finish(final);
  } finally {
    await releaseSlot(store, job);
  }
  if (job.input.kind === 'rotate' && job.input.automatic) {
    await recordAutomaticRotation(platform, job, {
      status,
      fingerprint: final.result?.fingerprint ?? null,
      ...(final.error !== undefined ? { error: final.error } : {}),
      ...(final.result?.leftovers ? { leftovers: final.result.leftovers } : {}),
    }).catch((err: unknown) => log.warn('automatic rotation outcome not recorded', { jobId, error: errorName(err) }));
  }
  await noteRateLimit(platform, job, ctx).catch((err: unknown) => log.warn('rate limit not noted', { jobId, error: errorName(err) }));
  await tellBatch(platform, job);
  log.info('job finished', { jobId, kind: job.kind, status });
}

/**
 * A job whose answers said the stored token's hour is nearly spent, or that met a 429, closes the fleet
 * budget: bulk actions and the audit wait, people's own actions go on.
 */
async function noteRateLimit(platform: ForgePlatform, job: JobRecord, ctx: JobContext): Promise<void> {
  const remaining = ctx.budget.remaining();
  const low = remaining !== undefined && remaining < FLEET_HEADROOM;
  if (!ctx.rateLimitedUntil && !low) return;
  await recordSpent(platform.store, bareUuid(job.workspaceUuid, 'workspace'), platform.clock.now(), 0, ctx.rateLimitedUntil ?? 'window-end');
}

/** The bulk action that started the job takes its next step: a result to record, a place for the next repository. */
async function tellBatch(platform: ForgePlatform, job: JobRecord): Promise<void> {
  if (!job.batchId) return;
  try {
    await platform.enqueue({ type: 'fleet-batch', workspaceUuid: job.workspaceUuid, batchId: job.batchId });
  } catch (err) {
    // The batch's own delayed wake-up finds the job ended.
    platform.log.warn('bulk action not told of a finished job', { jobId: job.id, error: errorName(err) });
  }
}
