/**
 * The whole backend over one platform: the resolvers, the queue consumer and the push trigger. Forge
 * (handlers.ts), the local preview and the tests all start from here.
 */
import { createHash } from 'node:crypto';
import { errorName } from './errors';
import { runHealthCheck } from './health/check';
import { runAuditStep } from './fleet/audit';
import { runBatchStep, tellBatch } from './fleet/batch-run';
import { runJob, type JobEndListener } from './jobs/runner';
import type { Delivery, ForgePlatform, QueueMessage } from './platform/ports';
import { keys } from './store/keys';
import { handlePush, runSync } from './health/push';
import { createResolvers, type Resolvers } from './resolvers';
import { automaticRotationEnded, runSchedule, type ScheduleRun } from './health/schedule';

export interface Backend {
  resolvers: Resolvers;
  /**
   * The `connection-jobs` consumer. Never throws. Forge delivers at least once: with `delivery` (what
   * Forge says of the event), a second delivery of the same attempt is dropped, and a redelivery after
   * an attempt that died (a timeout) takes over its work.
   */
  consume(message: unknown, delivery?: Delivery): Promise<void>;
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

/** How long a delivery's claim is kept: well past Forge's retries of one event. */
const DELIVERY_TTL_SECONDS = 7 * 86_400;

/**
 * Claims one attempt of a queue event: true for the first delivery of it to arrive, false for a
 * duplicate (Forge may deliver an event twice). A later attempt (a retry) is a claim of its own.
 */
async function claimDelivery(platform: ForgePlatform, delivery: Delivery): Promise<boolean> {
  return platform.store.create(keys.delivery(eventHash(delivery), delivery.retryCount), { at: platform.clock.now().toISOString() }, { ttlSeconds: DELIVERY_TTL_SECONDS });
}

const eventHash = (delivery: Delivery) => createHash('sha256').update(delivery.eventId).digest('hex');

/** Told in this order when a job ends: its health record, then its bulk action's next step. */
const JOB_END: readonly JobEndListener[] = [automaticRotationEnded, tellBatch];

export function createBackend(platform: ForgePlatform): Backend {
  return {
    resolvers: createResolvers(platform),
    async consume(value, delivery) {
      const message = asMessage(value);
      if (!message) {
        platform.log.warn('queue message not understood; dropped');
        return;
      }
      try {
        if (delivery && !(await claimDelivery(platform, delivery))) {
          platform.log.info('queue event delivered twice; this delivery dropped', { type: message.type, attempt: delivery.retryCount });
          return;
        }
        const resumed = (delivery?.retryCount ?? 0) > 0;
        if (message.type === 'job') await runJob(platform, message.jobId, JOB_END, { resumed });
        else if (message.type === 'health') {
          await runHealthCheck(platform, message.workspaceUuid, message.repositoryUuid, {
            trigger: 'schedule',
            ...(delivery ? { lockHolder: `check:${eventHash(delivery)}` } : {}),
          });
        }
        else if (message.type === 'fleet-audit') await runAuditStep(platform, message.workspaceUuid, message.auditId, resumed);
        else if (message.type === 'fleet-batch') await runBatchStep(platform, message.workspaceUuid, message.batchId, resumed);
        else if (message.type === 'sync') await runSync(platform, message.workspaceUuid, message.repositoryUuid, delivery ? `sync:${eventHash(delivery)}` : undefined);
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
