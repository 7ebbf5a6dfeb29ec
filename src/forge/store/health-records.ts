/**
 * What the app keeps about connections looking after themselves: each connection's bounded check
 * history (with the keys it wants a person to see and the repositories that need an admin), the
 * workspace's policy, and the scheduled checks' own bookkeeping. Read by the pages, written by the
 * checks, pushes and rotations. Nothing here holds a secret.
 */
import {
  daysUntil,
  DEFAULT_HEALTH_POLICY,
  TOKEN_EXPIRY_WARNING_DAYS,
  type HealthChange,
  type HealthFinding,
  type TokenLifetime,
  HEALTH_HISTORY_LENGTH,
  HEALTH_POLICY_LIMITS,
  type AutomationView,
  type HealthEntry,
  type HealthPolicyView,
  type HealthView,
  type KeyNotice,
  type NeedsAdminEntry,
} from '../contract';
import { keys } from './keys';
import type { RecordStore } from '../platform/ports';
import type { WorkspaceSummary } from './records';

/** One connection's checks. */
export interface HealthRecord {
  /** Oldest first, at most HEALTH_HISTORY_LENGTH. */
  entries: HealthEntry[];
  /** From the latest check that could read the keys: unused, unneeded and stray keys. */
  keyNotices: KeyNotice[];
  /** Repositories that lack the key where the connection's account may not add it. */
  needsAdmin: NeedsAdminEntry[];
  /** What checks, pushes and admins changed, newest last, at most CHANGES_KEPT. */
  changes: HealthChange[];
}

const CHANGES_KEPT = 50;

/** The scheduled checks of one workspace. */
export interface AutomationState {
  lastRunAt: string | null;
  lastRunChecked: number;
  lastRunDeferred: number;
  /** Automatic rotations started on `day` (YYYY-MM-DD, UTC). */
  rotations: { day: string; count: number };
}

const EMPTY_AUTOMATION: AutomationState = { lastRunAt: null, lastRunChecked: 0, lastRunDeferred: 0, rotations: { day: '', count: 0 } };

/** How often each connection is checked by the schedule. */
export const CHECK_INTERVAL_MS = 24 * 3_600_000;
/** How often the scheduled trigger runs (manifest `interval: hour`). */
export const SCHEDULE_INTERVAL_MS = 3_600_000;


export async function loadHealth(store: RecordStore, workspaceUuid: string, repositoryUuid: string): Promise<HealthRecord> {
  const stored = await store.get<Partial<HealthRecord>>(keys.health(workspaceUuid, repositoryUuid));
  return {
    entries: Array.isArray(stored?.entries) ? stored.entries : [],
    keyNotices: Array.isArray(stored?.keyNotices) ? stored.keyNotices : [],
    needsAdmin: Array.isArray(stored?.needsAdmin) ? stored.needsAdmin : [],
    changes: Array.isArray(stored?.changes) ? stored.changes : [],
  };
}

/**
 * Adds one check to the connection's history (keeping the newest HEALTH_HISTORY_LENGTH) and, when
 * given, replaces what the latest check found about keys and admins.
 */
export async function recordHealth(
  store: RecordStore,
  workspaceUuid: string,
  repositoryUuid: string,
  entry: HealthEntry,
  found: Partial<Pick<HealthRecord, 'keyNotices' | 'needsAdmin'>> = {},
): Promise<HealthRecord> {
  const current = await loadHealth(store, workspaceUuid, repositoryUuid);
  const next: HealthRecord = {
    entries: [...current.entries, entry].slice(-HEALTH_HISTORY_LENGTH),
    keyNotices: found.keyNotices ?? current.keyNotices,
    needsAdmin: found.needsAdmin ?? current.needsAdmin,
    changes: [...current.changes, ...entry.changes].slice(-CHANGES_KEPT),
  };
  await store.set(keys.health(workspaceUuid, repositoryUuid), next);
  return next;
}

/** A change made outside a check (an admin removing a key, a push adding one): kept with the others. */
export async function recordChanges(
  store: RecordStore,
  workspaceUuid: string,
  repositoryUuid: string,
  changes: HealthChange[],
  found: Partial<Pick<HealthRecord, 'keyNotices' | 'needsAdmin'>> = {},
): Promise<HealthRecord> {
  const current = await loadHealth(store, workspaceUuid, repositoryUuid);
  const next: HealthRecord = {
    ...current,
    keyNotices: found.keyNotices ?? current.keyNotices,
    needsAdmin: found.needsAdmin ?? current.needsAdmin,
    changes: [...current.changes, ...changes].slice(-CHANGES_KEPT),
  };
  await store.set(keys.health(workspaceUuid, repositoryUuid), next);
  return next;
}

/** A connection's history goes with it. */
export function forgetHealth(store: RecordStore, workspaceUuid: string, repositoryUuid: string): Promise<void> {
  return store.delete(keys.health(workspaceUuid, repositoryUuid));
}

function inRange(value: unknown, limits: { min: number; max: number }, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= limits.min && value <= limits.max ? value : fallback;
}

export async function loadPolicy(store: RecordStore, workspaceUuid: string): Promise<HealthPolicyView> {
  const stored = await store.get<Partial<HealthPolicyView>>(keys.policy(workspaceUuid));
  const d = DEFAULT_HEALTH_POLICY;
  const rotate = (stored?.autoRotate ?? {}) as Partial<HealthPolicyView['autoRotate']>;
  return {
    drift: stored?.drift === 'alert' ? 'alert' : d.drift,
    unneededKeys: stored?.unneededKeys === 'remove' ? 'remove' : d.unneededKeys,
    autoRotate: {
      enabled: rotate.enabled === true,
      everyDays: inRange(rotate.everyDays, HEALTH_POLICY_LIMITS.everyDays, d.autoRotate.everyDays),
      perDay: inRange(rotate.perDay, HEALTH_POLICY_LIMITS.perDay, d.autoRotate.perDay),
    },
    unusedDays: inRange(stored?.unusedDays, HEALTH_POLICY_LIMITS.unusedDays, d.unusedDays),
  };
}

export async function savePolicy(store: RecordStore, workspaceUuid: string, policy: HealthPolicyView): Promise<HealthPolicyView> {
  await store.set(keys.policy(workspaceUuid), policy);
  return loadPolicy(store, workspaceUuid);
}

export async function loadAutomation(store: RecordStore, workspaceUuid: string): Promise<AutomationState> {
  return { ...EMPTY_AUTOMATION, ...((await store.get<Partial<AutomationState>>(keys.automation(workspaceUuid))) ?? {}) };
}

export async function saveAutomation(store: RecordStore, workspaceUuid: string, state: AutomationState): Promise<void> {
  await store.set(keys.automation(workspaceUuid), state);
}

/** `YYYY-MM-DD` of a time, in UTC: the day automatic rotations are counted by. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The workspace page's view of the scheduled checks. */
export function automationView(state: AutomationState, now: Date, paused: { reason: string; fix: string } | undefined): AutomationView {
  const next = state.lastRunAt ? new Date(Date.parse(state.lastRunAt) + SCHEDULE_INTERVAL_MS) : null;
  return {
    lastRunAt: state.lastRunAt,
    nextRunAt: paused ? null : next && next > now ? next.toISOString() : next ? now.toISOString() : null,
    lastRunChecked: state.lastRunChecked,
    lastRunDeferred: state.lastRunDeferred,
    ...(paused ? { paused } : {}),
    rotationsToday: state.rotations.day === utcDay(now) ? state.rotations.count : 0,
  };
}

/**
 * A connection's health as its page shows it. `keyCreatedAt` is the current key's creation time, for
 * when automatic rotation is due.
 */
export function healthView(
  record: HealthRecord,
  opts: { now: Date; policy: HealthPolicyView; keyCreatedAt: string | null; paused?: { reason: string; fix: string } },
): HealthView {
  const latest = record.entries.at(-1) ?? null;
  const lastScheduled = [...record.entries].reverse().find((e) => e.trigger === 'schedule');
  const nextCheck = lastScheduled ? new Date(Date.parse(lastScheduled.at) + CHECK_INTERVAL_MS) : opts.now;
  const rotateDue =
    opts.policy.autoRotate.enabled && opts.keyCreatedAt
      ? new Date(Date.parse(opts.keyCreatedAt) + opts.policy.autoRotate.everyDays * 86_400_000).toISOString()
      : null;
  return {
    latest,
    history: record.entries.map((e) => ({ at: e.at, trigger: e.trigger, health: e.health, keyAgeDays: e.keyAgeDays })),
    nextCheckAt: opts.paused ? null : (nextCheck > opts.now ? nextCheck : opts.now).toISOString(),
    ...(opts.paused ? { paused: opts.paused } : {}),
    needsAdmin: record.needsAdmin,
    recentChanges: [...record.changes].sort((a, b) => b.at.localeCompare(a.at)).slice(0, 20),
    keyNotices: record.keyNotices,
    autoRotateDueAt: rotateDue,
  };
}

/** A stored token's life as the pages show it. */
export function tokenLifetime(entry: { savedAt: string; expiresOn?: string | null }, now: Date): TokenLifetime {
  const expiresOn = entry.expiresOn ?? null;
  const days = expiresOn ? daysUntil(expiresOn, now) : Number.NaN;
  const expiresInDays = Number.isNaN(days) ? null : days;
  const level = expiresInDays === null ? 'ok' : expiresInDays < 0 ? 'expired' : expiresInDays <= TOKEN_EXPIRY_WARNING_DAYS ? 'warning' : 'ok';
  return { savedAt: entry.savedAt, expiresOn, expiresInDays, level };
}

/**
 * Why automatic work (scheduled checks, repairs, rotations) waits, from the stored tokens: one refused
 * (Bitbucket answered 401, or Valohai refused it) or past its expiry date. The connections themselves
 * are not broken for it: the fix is a new token, and the work goes on once one is stored.
 */
export function automationPause(summary: WorkspaceSummary, now: Date): { reason: string; fix: string } | undefined {
  const fix = 'Store a new token on the workspace\'s Valohai settings page; checks, repairs and rotations resume by themselves.';
  const bb = summary.bitbucket;
  if (bb?.problem) return { reason: `Bitbucket refuses the stored API token (${bb.problem.message})`.replace(/\.\)$/, ')'), fix };
  if (bb && tokenLifetime(bb, now).level === 'expired') return { reason: `The stored Bitbucket API token expired on ${bb.expiresOn}.`, fix };
  const vh = summary.valohai;
  if (vh?.problem) return { reason: `Valohai refuses the stored token (${vh.problem.message})`.replace(/\.\)$/, ')'), fix };
  if (vh && tokenLifetime(vh, now).level === 'expired') return { reason: `The stored Valohai token expired on ${vh.expiresOn}.`, fix };
  return undefined;
}

/** Findings about tokens that will stop working soon, for every page and check. */
export function tokenExpiryFindings(summary: WorkspaceSummary, now: Date): HealthFinding[] {
  const out: HealthFinding[] = [];
  const say = (what: string, entry: { savedAt: string; expiresOn?: string | null } | undefined) => {
    if (!entry) return;
    const life = tokenLifetime(entry, now);
    if (life.level === 'expired') {
      // Past its date the warning stays, saying what it is now: the work it warned about has stopped.
      out.push({
        severity: 'broken',
        code: 'token-expiring',
        message: `The stored ${what} expired on ${life.expiresOn}; checks, repairs, rotations and connecting wait for a new one.`,
        fix: 'Make a new token and store it on the workspace\'s Valohai settings page.',
      });
      return;
    }
    if (life.level !== 'warning' || life.expiresInDays === null) return;
    const when = life.expiresInDays === 0 ? 'today' : life.expiresInDays === 1 ? 'tomorrow' : `in ${life.expiresInDays} days (${life.expiresOn})`;
    out.push({
      severity: 'degraded',
      code: 'token-expiring',
      message: `The stored ${what} expires ${when}; then checks, repairs, rotations and connecting stop.`,
      fix: 'Make a new token and store it on the workspace\'s Valohai settings page before then.',
    });
  };
  say('Bitbucket API token', summary.bitbucket);
  say('Valohai token', summary.valohai);
  return out;
}
