/**
 * The queue consumer's job half: runs one job record from 'queued' to its end, with its steps written
 * as they happen, the result stored, and the repository's job slot freed. It never throws.
 *
 * Forge delivers a job's event at least once. A duplicate delivery is dropped before it gets here
 * (backend.ts claims each attempt); a delivery for a job that has ended does nothing. When an attempt
 * dies mid-run (Forge stops a consumer at its timeout, or the platform fails), Forge redelivers the
 * event with a retry count: that attempt runs the job again from the start. Every job is written to
 * be run again after stopping anywhere: connect and rotate note a new key in the connection's record
 * before it goes anywhere, so a rerun finds the keys a dead run added and removes them once its own key
 * works; disconnect removes only what is still there; the engine's lock is the job's own to take back.
 *
 * What else a job's end means (a bulk action's next step, an automatic rotation's outcome) belongs to
 * the parts that care: backend.ts hands their listeners in, so the queue side knows nothing of
 * scheduling, the fleet or health. What a job spent of the token's hour is in the token user's ledger.
 */
import { emptyResult, type WorkflowResult } from '../../connect/index';
import { connectJob, disconnectJob, rotateJob } from './with-token';
import type { JobStatus } from '../contract';
import { cleanText, errorName, toResolverError } from '../errors';
import { JobContext } from './context';
import { JobProgressWriter } from './progress';
import { isFinished, isStale, loadJob, releaseSlot, saveJob, STALE_JOB_ERROR } from './slots';
import { manualConnect, verifyConnection } from './by-hand';
import { noteReleased } from '../store/project-use';
import type { ForgePlatform } from '../platform/ports';
import type { JobRecord } from '../store/records';

/** What the job's own run saw of the stored token's hour. */
export interface JobRun {
  /** Requests the token user's ledger had left for the job's kind of work at its end. */
  remaining: number | undefined;
  /** When the token's hour stopped a request (a 429, or the ledger): when unattended work may send again. */
  rateLimitedUntil: Date | null;
}

/** The statuses a job ends with. */
export type EndStatus = Exclude<JobStatus, 'queued' | 'running'>;

export interface JobEnd {
  /** The job as loaded at its start: its input, its bulk action, its repository. */
  job: JobRecord;
  /** What was stored at the end. */
  final: Partial<JobRecord> & { status: EndStatus };
  /** Absent when the job never ran: found stale, it was failed as it stood. */
  run?: JobRun;
}

/**
 * Told, in order, once a job's end is stored and its slot freed. A listener keeps its own failures:
 * the job has ended whatever a listener does.
 */
export type JobEndListener = (platform: ForgePlatform, end: JobEnd) => Promise<void>;

async function tell(platform: ForgePlatform, listeners: readonly JobEndListener[], end: JobEnd): Promise<void> {
  for (const listener of listeners) {
    await listener(platform, end).catch((err: unknown) => platform.log.warn('job end not told', { jobId: end.job.id, error: errorName(err) }));
  }
}

function submodulesOf(job: JobRecord): boolean {
  return job.input.kind === 'connect' || job.input.kind === 'manual-connect' ? job.input.choices.submodules : true;
}

/** A rerun disconnect that finds no connection: the run before it got to the end, and there is nothing left to remove. */
function disconnectedBefore(ctx: JobContext): WorkflowResult {
  return { ...emptyResult(ctx.job.repository, ''), outcome: 'done' };
}

async function run(ctx: JobContext, writer: JobProgressWriter, resumed: boolean): Promise<WorkflowResult> {
  const { input } = ctx.job;
  switch (input.kind) {
    case 'connect':
      return connectJob(ctx, input.choices, writer.sink, resumed);
    case 'manual-connect':
      return manualConnect(ctx, input.choices, writer.sink);
    case 'rotate':
      return rotateJob(ctx, input.choices, writer.sink);
    case 'disconnect':
    case 'manual-discard': {
      const connection = await ctx.loadConnection();
      if (resumed && !connection) return disconnectedBefore(ctx);
      // Valohai's project keeps naming the repository: the page must not take that for a connection made
      // elsewhere. Noted before the work (a run cut off after forgetting the connection is not run again),
      // and taken back when the disconnect left Valohai's key to another connection that fetches with it.
      const { workspaceUuid, repositoryUuid } = ctx.job;
      if (connection) await noteReleased(ctx.platform.store, workspaceUuid, repositoryUuid, { projectId: connection.record.projectId, at: ctx.now.toISOString() });
      const result = await disconnectJob(ctx, writer.sink);
      if (result.warnings.some((w) => w.code === 'other-connection')) await noteReleased(ctx.platform.store, workspaceUuid, repositoryUuid, null);
      return result;
    }
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

export interface RunOptions {
  /**
   * This delivery is a redelivery: the attempt before it died (a timeout, a platform failure). A job
   * found running is then run again; without it, a running job belongs to a live delivery.
   */
  resumed?: boolean;
}

export async function runJob(platform: ForgePlatform, jobId: string, listeners: readonly JobEndListener[] = [], options: RunOptions = {}): Promise<void> {
  const { store, log, clock } = platform;
  const job = await loadJob(store, jobId);
  if (!job) {
    log.warn('queued job has no record', { jobId });
    return;
  }
  if (isFinished(job.status)) {
    log.info('job delivered again after it ended; nothing to do', { jobId, status: job.status });
    return;
  }
  if (isStale(job, clock.now())) {
    await endStale(platform, job, listeners);
    return;
  }
  const resumed = job.status === 'running';
  if (resumed && !options.resumed) {
    log.warn('job delivered again while it runs; not run twice', { jobId });
    return;
  }

  const now = clock.now().toISOString();
  job.status = 'running';
  job.startedAt ??= now;
  if (resumed) {
    // The dead run's steps say "running" forever: this run reports its own.
    job.resumedAt = now;
    job.attempts = (job.attempts ?? 1) + 1;
    job.steps = [];
    delete job.plannedSteps;
  }
  await saveJob(store, job);
  log.info(resumed ? 'job resumed after its run was lost' : 'job started', { jobId, kind: job.kind, ...(resumed ? { attempt: job.attempts } : {}) });

  // A connect makes the connection, and a person's own rotate (which authorised every repository for
  // them) takes it over: that account is the one automatic work later acts for. An automatic rotation
  // or a bulk action's item keeps the maker it found.
  const makes =
    job.input.kind === 'connect' || job.input.kind === 'manual-connect' || (job.input.kind === 'rotate' && !job.input.automatic && job.batchId === undefined);
  const ctx = new JobContext(platform, job, { submodules: submodulesOf(job), projectOwner: null, ...(makes ? { connectedBy: job.accountId } : {}) });
  const writer = new JobProgressWriter(store, job, log);
  let status: EndStatus = 'failed';
  let result: WorkflowResult | undefined;
  let error: string | undefined;
  try {
    result = await run(ctx, writer, resumed);
    await ctx.settleCredentials(result);
    status = result.outcome;
    error = result.error;
  } catch (err) {
    const reply = toResolverError(err, ctx.secrets);
    error = `${reply.message} ${reply.fix}`;
    log.warn('job failed', { jobId, kind: job.kind, error: errorName(err) });
    await ctx.settleCredentials(undefined).catch(() => undefined);
  }
  await ctx.flushMeter();
  const final: Partial<JobRecord> = { status, finishedAt: clock.now().toISOString(), requests: { ...ctx.counts } };
  if (result) final.result = scrub(result, ctx.secrets);
  if (error !== undefined) final.error = cleanText(error, ctx.secrets);
  if (status === 'failed' && ctx.rateLimitedUntil) final.tokenHourUntil = ctx.rateLimitedUntil.toISOString();
  try {
    await writer.finish(final);
  } finally {
    await releaseSlot(store, job);
  }
  await tell(platform, listeners, { job, final: { ...final, status }, run: { remaining: ctx.budget.remaining(), rateLimitedUntil: ctx.rateLimitedUntil } });
  log.info('job finished', { jobId, kind: job.kind, status });
}

/** A job that died mid-run, or waited past its time, is failed without running. */
async function endStale(platform: ForgePlatform, job: JobRecord, listeners: readonly JobEndListener[]): Promise<void> {
  const final = { status: 'failed' as const, error: STALE_JOB_ERROR, finishedAt: platform.clock.now().toISOString() };
  await saveJob(platform.store, { ...job, ...final });
  await releaseSlot(platform.store, job);
  await tell(platform, listeners, { job, final });
}
