/**
 * A bulk action's records: the batch's state (one per workspace), one record per repository it names,
 * and the slot that lets one batch run at a time. batch.ts says how a batch goes.
 */
import type { KeyType } from '../../connect/index';
import type { BatchAction, BatchItemStatus, BatchView, StartConnectPayload } from '../contract';
import { keys } from '../store/keys';
import type { ForgePlatform } from '../platform/ports';

/** Repository jobs a batch keeps running at once: few, so people's own actions still get through. */
export const BATCH_CONCURRENCY = 3;

/** A step that has not cleared its lease this long after it began is taken for dead. */
export const BATCH_LEASE_MS = 2 * 60_000;

/** Batch records are kept this long after the last step. */
export const TTL_SECONDS = 14 * 86_400;

type BatchStatus = BatchView['status'];

export interface BatchItem {
  index: number;
  repository: string;
  repositoryUuid: string;
  status: BatchItemStatus;
  jobId: string | null;
  targets: number;
  /** Stored-token requests its job is planned to spend: held back from the ledger's room while it runs. */
  estimate: number;
  /** When the token's hour first stopped its job: it is run again until it has waited so long (batch-run.ts). */
  firstHourStopAt?: string;
  reason?: string;
  error?: string;
  requests?: number;
  startedAt?: string;
  finishedAt?: string;
  /** Connect: the job's choices, decided when the batch was planned. */
  connect?: StartConnectPayload;
}

export interface BatchState {
  id: string;
  action: BatchAction;
  status: BatchStatus;
  startedAt: string;
  /** The admin the batch's jobs act for. */
  startedBy: string;
  finishedAt: string | null;
  keyType: KeyType | null;
  total: number;
  /** Items planned to act on (the rest were skipped when it started). */
  planned: number;
  /** The next item to consider starting. */
  next: number;
  /** Items whose job is running. */
  running: number[];
  counts: Record<BatchItemStatus, number>;
  requests: { token: number };
  leaseUntil: string | null;
  /** The token's hour has no room for the next repository: nothing starts before this. */
  waitUntil: string | null;
  /** When the delayed step the batch last sent is due: another is sent only after it. */
  wakeDueAt: string | null;
  updatedAt: string;
}

export interface BatchSlot {
  batchId: string;
  createdAt: string;
}

export const finished = (status: BatchStatus) => status === 'done' || status === 'cancelled';

export const lower = (s: string) => s.toLowerCase();

export const emptyCounts = (): Record<BatchItemStatus, number> => ({ queued: 0, running: 0, done: 0, failed: 0, skipped: 0 });

export function loadBatch(platform: ForgePlatform, ws: string): Promise<BatchState | undefined> {
  return platform.store.get<BatchState>(keys.fleetBatch(ws));
}

export function saveBatch(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  return platform.store.set(keys.fleetBatch(ws), { ...state, updatedAt: platform.clock.now().toISOString() }, { ttlSeconds: TTL_SECONDS });
}

export function loadItem(platform: ForgePlatform, ws: string, batchId: string, index: number): Promise<BatchItem | undefined> {
  return platform.store.get<BatchItem>(keys.fleetBatchItem(ws, batchId, index));
}

export function saveItem(platform: ForgePlatform, ws: string, batchId: string, item: BatchItem): Promise<void> {
  return platform.store.set(keys.fleetBatchItem(ws, batchId, item.index), item, { ttlSeconds: TTL_SECONDS });
}

export async function allItems(platform: ForgePlatform, ws: string, state: BatchState): Promise<BatchItem[]> {
  const rows = await platform.store.query<BatchItem>(keys.fleetBatchItemPrefix(ws, state.id), { limit: state.total + 1 });
  return rows.map(({ value }) => value);
}
