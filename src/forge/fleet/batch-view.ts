/** What the workspace page shows of a bulk action: its progress in words and a page of its repositories. */
import { FLEET_PAGE_SIZE_MAX, type BatchItemView, type BatchView, type GetBatchPayload } from '../contract';
import type { ForgePlatform } from '../platform/ports';
import { allItems, type BatchItem, type BatchState } from './batch-records';

/** "14:05 UTC", with the date when it is not today. */
export function clockTime(at: Date, now: Date): string {
  const iso = at.toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

export function batchProgress(state: BatchState, now: Date): string {
  const c = state.counts;
  const rest: string[] = [];
  if (c.failed) rest.push(`${c.failed} failed`);
  if (c.running) rest.push(`${c.running} running`);
  if (c.skipped) rest.push(`${c.skipped} skipped`);
  const said = [`${c.done} of ${state.planned} done`, ...rest].join(', ');
  if (state.status === 'done') return `Done (${c.done} of ${state.planned})${rest.length ? `, ${rest.join(', ')}` : ''}.`;
  if (state.status === 'cancelled') return `Cancelled: ${said}.`;
  if (state.status === 'cancelling') return `Cancelling: ${said}; no more repositories start, running jobs finish.`;
  if (state.status === 'waiting' && state.waitUntil) return `${said}; resumes at about ${clockTime(new Date(state.waitUntil), now)} when the stored token's hour has room.`;
  return `${said}…`;
}

function itemView(item: BatchItem): BatchItemView {
  return {
    repository: item.repository,
    status: item.status,
    jobId: item.jobId,
    ...(item.reason !== undefined ? { reason: item.reason } : {}),
    ...(item.error !== undefined ? { error: item.error } : {}),
    ...(item.requests !== undefined ? { requests: item.requests } : {}),
    ...(item.startedAt ? { startedAt: item.startedAt } : {}),
    ...(item.finishedAt ? { finishedAt: item.finishedAt } : {}),
  };
}

export async function batchView(platform: ForgePlatform, ws: string, state: BatchState, payload: GetBatchPayload): Promise<BatchView> {
  const now = platform.clock.now();
  const pageSize = Math.min(payload.pageSize ?? 50, FLEET_PAGE_SIZE_MAX);
  const page = payload.page ?? 1;
  const items = await allItems(platform, ws, state);
  const chosen = payload.status ? items.filter((i) => i.status === payload.status) : items;
  return {
    id: state.id,
    action: state.action,
    status: state.status,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    progress: batchProgress(state, now),
    counts: state.counts,
    total: state.total,
    failed: items.filter((i) => i.status === 'failed').map((i) => ({ repository: i.repository, error: i.error ?? 'The job failed without saying why.' })),
    resumesAt: state.status === 'waiting' ? state.waitUntil : null,
    requests: state.requests,
    items: chosen.slice((page - 1) * pageSize, page * pageSize).map(itemView),
    page,
    pageSize,
    matchingItems: chosen.length,
  };
}
