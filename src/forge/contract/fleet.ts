/** Fleet: the workspace page's work over every repository (workspace admins only), the audit and bulk actions. */
import type { AuditedKey, AuditFindingCode, KeyType } from '../../connect/types';

export type FleetFindingCode = AuditFindingCode;

/** One access key as the audit found it: the same fields the CLI's `audit` reports. */
export type FleetAuditKey = AuditedKey;

export interface StartAuditPayload {
  /** A key unused this long is `unused`; omitted: the workspace policy's unusedDays. */
  unusedDays?: number;
}

export interface GetAuditPayload {
  /** From 1; default 1. */
  page?: number;
  /** Keys per page, at most FLEET_PAGE_SIZE_MAX; default 50 (0: progress only). */
  pageSize?: number;
  /** Only keys with this finding. */
  finding?: FleetFindingCode;
}

export const FLEET_PAGE_SIZE_MAX = 200;

export interface FleetAuditView {
  id: string;
  /** 'waiting': the token's hour has no room for the next batch (or a 429's back-off lasts); it resumes by itself at `resumesAt`. */
  status: 'running' | 'waiting' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** A sentence for the page, e.g. "212 of 500 repositories read, 31 access keys found; resumes at about 14:05 UTC when the stored token's hour has room." */
  progress: string;
  repositoriesRead: number;
  /** Null until the listing says how many there are. */
  repositoriesTotal: number | null;
  keysFound: number;
  unreadable: { repository: string; error: string }[];
  /** Requests made: with the stored token, and as the app (the listing). */
  requests: { token: number; app: number };
  resumesAt: string | null;
  /** Keys per finding, over every key read so far. */
  findings: Record<string, number>;
  unusedDays: number;
  error?: string;
  /** The page of keys asked for, by repository then key id. */
  keys: FleetAuditKey[];
  page: number;
  pageSize: number;
  /** Keys matching the filter, over all pages. */
  matchingKeys: number;
}

export interface ExportAuditPayload {
  format: 'csv' | 'json';
}

export interface FleetAuditExport {
  format: 'csv' | 'json';
  filename: string;
  /** False while the audit is still running: the text holds what was read so far. */
  complete: boolean;
  text: string;
}

// --- Bulk actions ------------------------------------------------------------------------------

export type BatchAction = 'rotate' | 'verify' | 'disconnect' | 'connect';

/** At most this many repositories are named in one bulk action. */
export const BATCH_MAX_REPOSITORIES = 500;

/**
 * How a bulk connect chooses each repository's Valohai project: the one existing project named like the
 * repository (its slug), or a new project of that name under `owner`.
 */
export type BatchConnectChoice = ({ project: 'existing'; owner?: undefined } | { project: 'new'; owner: string }) & {
  /** Omitted: each repository's main branch. */
  ref?: string;
  /** Omitted: true. */
  submodules?: boolean;
};

/**
 * What a bulk action acts on: repositories by full name (`workspace/slug`, each matched against the
 * workspace's own listing and connection records; a name of another workspace, or of no repository,
 * refuses the whole request), or, for rotate only, every connection whose key is at least
 * `olderThanDays` old. Exactly one of the two.
 */
export interface PlanBatchPayload {
  action: BatchAction;
  repositories?: string[];
  olderThanDays?: number;
  /** Rotate: the new keys' type, omitted: each keeps its own. Connect: omitted, rsa (RSA 4096, as the single connect form recommends). */
  keyType?: KeyType;
  /** Connect only. */
  connect?: BatchConnectChoice;
}

export interface StartBatchPayload extends PlanBatchPayload {
  /** Disconnect only: the workspace's slug, typed by the admin. */
  confirm?: string;
}

export interface BatchPlanEntry {
  repository: string;
  /** Repositories the key is on (or goes on): what the request estimate counts. */
  targets: number;
  /** Stored-token requests this repository's job is expected to take. */
  requests: number;
  /** Connect: the Valohai project it would get, `owner/name` (new) or the existing one's name. */
  project?: string;
  /**
   * Every repository the item touches. Rotate, verify, disconnect: as the connection records them (a
   * rotation goes no further: an item whose `.gitmodules` named more since is refused when it runs).
   * Connect: the repository and each submodule repository its `.gitmodules` names, as discovered now.
   */
  repositories?: string[];
  /** Connect: its submodules were not read for the plan (too many repositories, or the read failed); they are when it runs. */
  submodulesUnread?: boolean;
}

export interface BatchSkip {
  repository: string;
  reason: string;
}

export interface BatchPlan {
  action: BatchAction;
  /** The new keys' type: connect's (chosen, or rsa), rotate's when chosen; null: each keeps its own, or no key is made. */
  keyType: KeyType | null;
  act: BatchPlanEntry[];
  skip: BatchSkip[];
  /** Stored-token requests in all, and where the per-repository figure comes from. */
  requests: { total: number; perTarget: number; source: string };
  /** What automatic work may spend of the token user's hour (its share, what the app's ledger has left of it, when more is free), as it stands now. */
  budget: { perHour: number; leftThisHour: number; refillsAt: string | null };
  /** Hours the batch waits for the token's hour beyond this one (0: it fits now). */
  extraHours: number;
  /** A sentence for the page, e.g. "12 repositories, about 96 stored-token requests: fits in what automatic work may still spend of the token's hour (540 of 600 left), …" */
  duration: string;
}

export type BatchItemStatus = 'queued' | 'running' | 'done' | 'failed' | 'skipped';

export interface BatchItemView {
  repository: string;
  status: BatchItemStatus;
  /** The repository's job, once started (its steps: getJob on the repository's page). */
  jobId: string | null;
  /** Skipped: why. */
  reason?: string;
  /** Failed: the job's error, with its fix. */
  error?: string;
  /** Stored-token requests its job made, once it ended. */
  requests?: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface BatchView {
  id: string;
  action: BatchAction;
  /** 'waiting': the token's hour has no room for the next repository (or a 429's back-off lasts); it resumes by itself at `resumesAt`. */
  status: 'running' | 'waiting' | 'cancelling' | 'done' | 'cancelled';
  startedAt: string;
  finishedAt: string | null;
  /** A sentence for the page, e.g. "31 of 50 done, 1 failed, 3 running; resumes at about 14:05 UTC when the stored token's hour has room." */
  progress: string;
  counts: Record<BatchItemStatus, number>;
  total: number;
  /** Every repository that failed, with its job's error. */
  failed: { repository: string; error: string }[];
  resumesAt: string | null;
  /** Stored-token requests the batch's jobs made, as they recorded. */
  requests: { token: number };
  /** The page of repositories asked for, in the order they run. */
  items: BatchItemView[];
  page: number;
  pageSize: number;
  /** Repositories matching the filter, over all pages. */
  matchingItems: number;
}

export interface GetBatchPayload {
  page?: number;
  /** Repositories per page, at most FLEET_PAGE_SIZE_MAX; default 50 (0: progress only). */
  pageSize?: number;
  status?: BatchItemStatus;
}
