/**
 * Job records and the one-job-per-repository slot. An action takes the slot (an atomic create of the
 * repository's `active:` key), writes a queued job record and enqueues the job id; the consumer frees
 * the slot when the job ends. A job that outlived the queue function's 900 s died with it: it counts
 * as failed and frees the slot.
 */
import { randomUUID } from 'node:crypto';
import { JOB_TITLES, type JobStatus, type JobView } from '../contract';
import { failures, ResolverFailure } from '../errors';
import { bareUuid, keys } from '../store/keys';
import type { ForgePlatform, RecordStore } from '../platform/ports';
import type { ActiveJobPointer, JobInput, JobRecord } from '../store/records';

/** Forge's limit for a queue function; a job running longer than this is gone. */
export const JOB_LIFETIME_MS = 900_000;
/** A slot taken but never given its job record (the resolver died in between) is free after this. */
const ORPHAN_SLOT_MS = 60_000;
/** Job records are kept this long for the pages, then expire. */
const JOB_TTL_SECONDS = 14 * 86_400;

export { JOB_TITLES };

export const STALE_JOB_ERROR =
  'The job stopped without finishing: Forge ends a queue job after 15 minutes, or its run was lost. ' +
  'Reload the page to see how the repository stands, then run the action again.';

export function isFinished(status: JobStatus): boolean {
  return status === 'done' || status === 'failed' || status === 'unverified';
}

/** A queued or running job that can no longer be alive. */
export function isStale(job: JobRecord, now: Date): boolean {
  if (isFinished(job.status)) return false;
  const since = Date.parse(job.status === 'running' && job.startedAt ? (job.resumedAt ?? job.startedAt) : job.createdAt);
  return now.getTime() - since > JOB_LIFETIME_MS;
}

export function jobView(job: JobRecord, now: Date): JobView {
  const stale = isStale(job, now);
  const view: JobView = {
    id: job.id,
    kind: job.kind,
    status: stale ? 'failed' : job.status,
    steps: job.steps,
    startedAt: job.startedAt ?? job.createdAt,
  };
  if (job.plannedSteps !== undefined) view.plannedSteps = Math.max(job.plannedSteps, job.steps.length);
  if (job.result) view.result = job.result;
  if (stale) view.error = STALE_JOB_ERROR;
  else if (job.error !== undefined) view.error = job.error;
  if (job.finishedAt) view.finishedAt = job.finishedAt;
  return view;
}

export function saveJob(store: RecordStore, job: JobRecord): Promise<void> {
  return store.set(keys.job(job.id), job, { ttlSeconds: JOB_TTL_SECONDS });
}

export function loadJob(store: RecordStore, jobId: string): Promise<JobRecord | undefined> {
  return store.get<JobRecord>(keys.job(jobId));
}

/** The job holding the repository's slot, if it is still alive. */
export async function activeJob(store: RecordStore, workspaceUuid: string, repositoryUuid: string, now: Date): Promise<JobRecord | undefined> {
  const pointer = await store.get<ActiveJobPointer>(keys.activeJob(workspaceUuid, repositoryUuid));
  if (!pointer) return undefined;
  const job = await loadJob(store, pointer.jobId);
  return job && !isFinished(job.status) && !isStale(job, now) ? job : undefined;
}

/** Whether a slot pointer, read without its job, may still belong to a live job (workspace list). */
export function pointerMayBeLive(pointer: ActiveJobPointer, now: Date): boolean {
  return now.getTime() - Date.parse(pointer.createdAt) <= JOB_LIFETIME_MS * 2;
}

export interface NewJob {
  workspaceUuid: string;
  repositoryUuid: string;
  repository: string;
  accountId: string;
  input: JobInput;
  /** Set by a bulk action: the job tells it when it ends. */
  batchId?: string;
}

/** Takes the repository's slot, records the job and enqueues it. Throws 'job-running' when the slot is held. */
export async function startJob(platform: ForgePlatform, spec: NewJob): Promise<JobRecord> {
  const { store, clock } = platform;
  const now = clock.now();
  const workspaceUuid = bareUuid(spec.workspaceUuid, 'workspace');
  const repositoryUuid = bareUuid(spec.repositoryUuid, 'repository');
  const slot = keys.activeJob(workspaceUuid, repositoryUuid);
  const job: JobRecord = {
    id: randomUUID(),
    kind: spec.input.kind,
    status: 'queued',
    steps: [],
    workspaceUuid,
    repositoryUuid,
    repository: spec.repository,
    accountId: spec.accountId,
    input: spec.input,
    createdAt: now.toISOString(),
    ...(spec.batchId ? { batchId: spec.batchId } : {}),
  };
  const pointer: ActiveJobPointer = { jobId: job.id, kind: job.kind, createdAt: job.createdAt };

  for (let attempt = 0; attempt < 3; attempt++) {
    if (await store.create(slot, pointer, { ttlSeconds: Math.ceil((JOB_LIFETIME_MS * 2) / 1000) })) {
      try {
        await saveJob(store, job);
        await platform.enqueue({ type: 'job', jobId: job.id }, { concurrencyKey: `repo-${workspaceUuid}-${repositoryUuid}` });
      } catch (err) {
        await store.delete(slot);
        throw err;
      }
      return job;
    }
    const held = await store.get<ActiveJobPointer>(slot);
    if (!held) continue;
    const holder = await loadJob(store, held.jobId);
    if (holder && !isFinished(holder.status) && !isStale(holder, now)) throw failures.jobRunning(JOB_TITLES[holder.kind]);
    if (!holder && now.getTime() - Date.parse(held.createdAt) < ORPHAN_SLOT_MS) {
      throw failures.jobRunning(JOB_TITLES[held.kind]);
    }
    // The holder finished, died or never got its record: the slot is free.
    await store.delete(slot);
  }
  throw new ResolverFailure('job-running', 'Another action started on this repository at the same moment.', 'Wait for it to finish, then try again.');
}

/** Frees the slot if this job still holds it. */
export async function releaseSlot(store: RecordStore, job: JobRecord): Promise<void> {
  const slot = keys.activeJob(job.workspaceUuid, job.repositoryUuid);
  const held = await store.get<ActiveJobPointer>(slot);
  if (held?.jobId === job.id) await store.delete(slot);
}
