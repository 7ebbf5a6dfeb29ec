/**
 * The stored token's hour, as fleet work (the audit, bulk actions) spends it. Bitbucket allows about
 * 1,000 requests an hour to the token's user, for every page load, job and check of the workspace, so
 * fleet work takes a share and spreads itself over hours rather than running into 429s. Two sources,
 * the stricter wins: the app's own count of what fleet work spent since the window opened, and what
 * Bitbucket's answers say is left (X-RateLimit headers, read by RateBudget). A 429 closes the window
 * until Bitbucket's Retry-After, or the hour's end.
 */
import { countRequests, hooked, noteRateLimited, RateBudget, type BitbucketTransport } from '../../bitbucket/index';
import { bareUuid, keys } from '../store/keys';
import type { ForgePlatform, RecordStore } from '../platform/ports';
import type { JobEnd } from '../jobs/runner';
import { errorName } from '../errors';

/** Stored-token requests fleet work may spend in an hour, leaving the rest to people and the scheduled checks. */
export const FLEET_REQUESTS_PER_HOUR = 600;
/** Below this many requests left (by Bitbucket's headers), fleet work waits: people's actions come first. */
export const FLEET_HEADROOM = 50;
export const HOUR_MS = 3_600_000;

interface FleetBudgetRecord {
  windowStart: string;
  spent: number;
  /** Set by a 429 or by headers saying the hour is nearly spent: nothing before this. */
  closedUntil?: string | null;
}

export interface BudgetState {
  /** Requests fleet work may still make now. */
  left: number;
  /** When more become available, when `left` is 0. */
  refillsAt: Date | null;
  /** When the current window ends and the whole share is back (a closed window: when it reopens). */
  windowEndsAt: Date;
}

function open(record: FleetBudgetRecord | undefined, now: Date): FleetBudgetRecord {
  if (!record || now.getTime() - Date.parse(record.windowStart) >= HOUR_MS) return { windowStart: now.toISOString(), spent: 0, closedUntil: null };
  return record;
}

export async function fleetBudget(store: RecordStore, ws: string, now: Date, share = FLEET_REQUESTS_PER_HOUR): Promise<BudgetState> {
  const record = await store.get<FleetBudgetRecord>(keys.fleetBudget(ws));
  const closed = record?.closedUntil ? Date.parse(record.closedUntil) : Number.NaN;
  if (!Number.isNaN(closed) && closed > now.getTime()) return { left: 0, refillsAt: new Date(closed), windowEndsAt: new Date(closed) };
  const current = open(record, now);
  const left = Math.max(0, share - current.spent);
  const windowEndsAt = new Date(Date.parse(current.windowStart) + HOUR_MS);
  return { left, refillsAt: left > 0 ? null : windowEndsAt, windowEndsAt };
}

/**
 * Adds what a step spent. `close`: Bitbucket said stop, until a time (a 429's Retry-After) or, when its
 * headers said the hour is nearly spent, until this window's end and a minute (Bitbucket's hour rolls,
 * so by then the window's requests have left it).
 */
export async function recordSpent(store: RecordStore, ws: string, now: Date, spent: number, close?: Date | 'window-end'): Promise<void> {
  const current = open(await store.get<FleetBudgetRecord>(keys.fleetBudget(ws)), now);
  const next: FleetBudgetRecord = { ...current, spent: current.spent + spent };
  if (close === 'window-end') next.closedUntil = new Date(Date.parse(current.windowStart) + HOUR_MS + 60_000).toISOString();
  else if (close) next.closedUntil = close.toISOString();
  await store.set(keys.fleetBudget(ws), next, { ttlSeconds: 2 * 3600 });
}

/** The token's transport, counted: requests sent, what Bitbucket says is left, and any 429's wait. */
export class MeteredToken {
  readonly transport: BitbucketTransport;
  sent = 0;
  /** Set by a 429: when Bitbucket lets the token in again. */
  limitedUntil: Date | null = null;
  private readonly budget = new RateBudget();

  constructor(inner: BitbucketTransport, now: () => Date) {
    this.transport = hooked(
      inner,
      countRequests(() => this.sent++),
      this.budget,
      noteRateLimited(now, (until) => {
        this.limitedUntil = until;
      }),
    );
  }

  /** Requests Bitbucket says are left this hour, when its answers said. */
  remaining(): number | undefined {
    return this.budget.remaining();
  }
}

/**
 * Told by the job runner: a job whose answers said the stored token's hour is nearly spent, or that met
 * a 429, closes the fleet budget: bulk actions and the audit wait, people's own actions go on.
 */
export async function noteRateLimit(platform: ForgePlatform, { job, run }: JobEnd): Promise<void> {
  if (!run) return;
  const low = run.remaining !== undefined && run.remaining < FLEET_HEADROOM;
  if (!run.rateLimitedUntil && !low) return;
  await recordSpent(platform.store, bareUuid(job.workspaceUuid, 'workspace'), platform.clock.now(), 0, run.rateLimitedUntil ?? 'window-end').catch((err: unknown) =>
    platform.log.warn('rate limit not noted', { jobId: job.id, error: errorName(err) }),
  );
}
