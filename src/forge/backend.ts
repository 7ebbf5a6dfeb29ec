/**
 * The whole backend over one platform: the resolvers, the queue consumer and the push trigger. Forge
 * (handlers.ts), the local preview and the tests all start from here.
 */
import { errorName } from './errors';
import { runHealthCheck } from './health/check';
import { runAuditStep } from './fleet/audit';
import { runBatchStep, tellBatch } from './fleet/batch-run';
import { runJob, type JobEndListener } from './jobs/runner';
import type { ForgePlatform, QueueMessage } from './platform/ports';
import { handlePush, runSync } from './health/push';
import { createResolvers, type Resolvers } from './resolvers';
import { automaticRotationEnded, runSchedule, type ScheduleRun } from './health/schedule';

export interface Backend {
  resolvers: Resolvers;
  /** The `connection-jobs` consumer. Never throws: a retried job must not run twice. */
  consume(message: unknown): Promise<void>;
  /** The `avi:bitbucket:push:repository` trigger. */
  onPush(event: unknown): Promise<'ignored' | 'queued' | 'coalesced'>;
  /** The hourly scheduled trigger: plans the day's checks and automatic rotations. Never throws. */
  onSchedule(): Promise<ScheduleRun | undefined>;
}

function asMessage(value: unknown): QueueMessage | undefined {
  const m = value as Partial<Record<string, unknown>> | null;
  if (typeof m !== 'object' || m === null) return undefined;
  if (m.type === 'job' && typeof m.jobId === 'string') return { type: 'job', jobId: m.jobId };
  if (m.type === 'sync' && typeof m.workspaceUuid === 'string' && typeof m.repositoryUuid === 'string') {
    return { type: 'sync', workspaceUuid: m.workspaceUuid, repositoryUuid: m.repositoryUuid };
  }
  if (m.type === 'health' && typeof m.workspaceUuid === 'string' && typeof m.repositoryUuid === 'string') {
    return { type: 'health', workspaceUuid: m.workspaceUuid, repositoryUuid: m.repositoryUuid };
  }
  if (m.type === 'fleet-audit' && typeof m.workspaceUuid === 'string' && typeof m.auditId === 'string') {
    return { type: 'fleet-audit', workspaceUuid: m.workspaceUuid, auditId: m.auditId };
  }
  if (m.type === 'fleet-batch' && typeof m.workspaceUuid === 'string' && typeof m.batchId === 'string') {
    return { type: 'fleet-batch', workspaceUuid: m.workspaceUuid, batchId: m.batchId };
  }
  return undefined;
}

/** Told in this order when a job ends: its health record, then its bulk action's next step. */
const JOB_END: readonly JobEndListener[] = [automaticRotationEnded, tellBatch];

export function createBackend(platform: ForgePlatform): Backend {
  return {
    resolvers: createResolvers(platform),
    async consume(value) {
      const message = asMessage(value);
      if (!message) {
        platform.log.warn('queue message not understood; dropped');
        return;
      }
      try {
        if (message.type === 'job') await runJob(platform, message.jobId, JOB_END);
        else if (message.type === 'health') await runHealthCheck(platform, message.workspaceUuid, message.repositoryUuid, { trigger: 'schedule' });
        else if (message.type === 'fleet-audit') await runAuditStep(platform, message.workspaceUuid, message.auditId);
        else if (message.type === 'fleet-batch') await runBatchStep(platform, message.workspaceUuid, message.batchId);
        else if (message.type === 'sync') await runSync(platform, message.workspaceUuid, message.repositoryUuid);
      } catch (err) {
        platform.log.error('queue message failed', { type: message.type, error: errorName(err) });
      }
    },
    async onSchedule() {
      try {
        return await runSchedule(platform);
      } catch (err) {
        platform.log.error('scheduled trigger failed', { error: errorName(err) });
        return undefined;
      }
    },
    async onPush(event) {
      try {
        return await handlePush(platform, event);
      } catch (err) {
        platform.log.error('push trigger failed', { error: errorName(err) });
        return 'ignored';
      }
    },
  };
}
