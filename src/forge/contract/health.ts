/**
 * Connections that look after themselves: what the scheduled and push checks found and changed, the
 * workspace's policy for them, and the keys they want a person to know about.
 */

/**
 * A connection's state as its latest check found it. 'paused': automatic work stopped because a stored
 * token is refused or expired (the connection itself may be fine; the fix is a new token).
 */
export type ConnectionHealth = 'healthy' | 'degraded' | 'broken' | 'paused';

/** What starts a check. */
export type HealthTrigger = 'schedule' | 'push' | 'verify';

export type HealthFindingCode =
  /** The connection's key is not on a repository Valohai fetches (removed by hand, or a submodule added since). */
  | 'key-missing'
  /**
   * A repository that lacks the key and that automatic work may not give it: one the connection's account
   * may not administer, or a submodule new since a person last connected or rotated. An admin of it must.
   */
  | 'needs-admin'
  /** Automatic repairs and rotations stopped: the account that made the connection may no longer connect here. */
  | 'connector-lapsed'
  | 'repair-failed'
  | 'keys-unreadable'
  | 'fetch-failed'
  | 'head-not-fetched'
  | 'project-moved'
  | 'key-age-warning'
  | 'key-age-alert'
  /** An automatic rotation failed; the old key still works. */
  | 'auto-rotate-failed'
  /** The connection's key was not used on a repository for the workspace's unused-days. */
  | 'unused-key'
  /** The key is on a repository the connection no longer needs (a submodule removed, a rotation's leftover). */
  | 'unneeded-key'
  /** A key labelled like this app's that no connection recorded: reported, never touched. */
  | 'stray-key'
  | 'token-expiring'
  | 'token-refused'
  | 'rate-limited'
  | 'other';

export interface HealthFinding {
  severity: 'degraded' | 'broken';
  code: HealthFindingCode;
  /** `workspace/slug` the finding is about, if one. */
  repository?: string;
  message: string;
  /** What to do about it, when a person must act. */
  fix?: string;
}

/** What a check or a push changed by itself. */
export interface HealthChange {
  kind: 'key-restored' | 'key-added' | 'key-removed' | 'rotated';
  repository: string;
  at: string;
  /** E.g. the new key's fingerprint after a rotation, or why a key was added ("submodule vendor/x added"). */
  detail?: string;
}

/** One check of a connection, kept in a bounded history (HEALTH_HISTORY_LENGTH, newest last). */
export interface HealthEntry {
  at: string;
  trigger: HealthTrigger;
  health: ConnectionHealth;
  keyAgeDays: number | null;
  /** Bitbucket's head of the fetch reference when checked, and whether Valohai's commits include it. */
  head: string | null;
  headSeen: boolean | null;
  findings: HealthFinding[];
  changes: HealthChange[];
  /** Requests the check made: Bitbucket with the stored token, Bitbucket as the app, Valohai. */
  requests?: { bitbucketToken: number; bitbucketApp: number; valohai: number };
}

export const HEALTH_HISTORY_LENGTH = 30;

/** A repository that lacks the key and needs one of its admins. */
export interface NeedsAdminEntry {
  repository: string;
  reason: string;
  /** New in `.gitmodules` since a person last connected or rotated: only a person's own Rotate adds it. */
  newSubmodule?: boolean;
}

/**
 * Stands for a repository's name, on a repository page, where the viewer may not see that repository:
 * the entry then carries no label, fingerprint, key id or link for it either (pages/health-disclosure.ts).
 */
export const HIDDEN_REPOSITORY = 'a repository you cannot see';

/** A key the checks want a person to know about. */
export interface KeyNotice {
  kind: 'unused' | 'unneeded' | 'stray';
  /** `workspace/slug` the key is on, or HIDDEN_REPOSITORY. */
  repository: string;
  keyId: number;
  label: string;
  fingerprint: string;
  ageDays: number | null;
  lastUsed: string | null;
  /** The connection (its superproject, `workspace/slug`) that recorded the key; null for a stray key. */
  connection: string | null;
  /**
   * Whether one click may remove it: only a key a connection recorded and no longer needs. A key Valohai
   * still fetches with is never removable here (disconnect or rotate instead), a stray key never.
   */
  removable: boolean;
  /**
   * A stray key of another connection of the same Valohai project (one made with the CLI, whose records
   * the app cannot read) that Bitbucket saw used after this connection's key: in use, so never advised
   * away. Its label says who made it.
   */
  inUseBy?: 'app' | 'cli';
  /** When the check that found it ran. */
  seenAt: string;
}

export interface HealthView {
  latest: HealthEntry | null;
  /** The timeline, oldest first: one point per kept check. */
  history: { at: string; trigger: HealthTrigger; health: ConnectionHealth; keyAgeDays: number | null }[];
  /** When the next scheduled check is due; null while automatic work is paused. */
  nextCheckAt: string | null;
  /** Automatic work (checks, repairs, rotations) is paused, and why, with the fix. */
  paused?: { reason: string; fix: string };
  /** Repositories that lack the key and need one of their admins, with the reason. */
  needsAdmin: NeedsAdminEntry[];
  /** Changes made by checks and pushes, newest first (from the kept history). */
  recentChanges: HealthChange[];
  keyNotices: KeyNotice[];
  /** The workspace's automatic rotation, as it applies to this connection: when it is due, if on. */
  autoRotateDueAt: string | null;
}

/**
 * How connections look after themselves (a workspace setting).
 * - drift 'repair' (the default): a key removed by hand is put back, and a submodule repository added to
 *   `.gitmodules` gets the key (where the connection's account may administer it); 'alert': only said.
 * - unneededKeys 'offer' (the default): keys no longer needed are listed with a one-click removal;
 *   'remove': the check removes them.
 * - autoRotate: off by default; when on, a connection whose key is `everyDays` old is rotated
 *   (make-before-break), at most `perDay` connections a day in the workspace, never two at once for one.
 * - unusedDays: a connection key unused this long on a repository is listed.
 */
export interface HealthPolicyView {
  drift: 'repair' | 'alert';
  unneededKeys: 'offer' | 'remove';
  autoRotate: { enabled: boolean; everyDays: number; perDay: number };
  unusedDays: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicyView = {
  drift: 'repair',
  unneededKeys: 'offer',
  autoRotate: { enabled: false, everyDays: 180, perDay: 5 },
  unusedDays: 90,
};

export const HEALTH_POLICY_LIMITS = {
  everyDays: { min: 30, max: 730 },
  perDay: { min: 1, max: 50 },
  unusedDays: { min: 7, max: 730 },
} as const;

export type SaveHealthPolicyPayload = HealthPolicyView;

export interface AutomationView {
  /** When the scheduled check last ran in this workspace, and when the next is due. */
  lastRunAt: string | null;
  nextRunAt: string | null;
  /** How many connections the last run checked, and how many it left for the next (request budget). */
  lastRunChecked: number;
  lastRunDeferred: number;
  /** Set while a stored token is refused or expired: every connection's automatic work waits for a new one. */
  paused?: { reason: string; fix: string };
  /** Automatic rotations started today and the day's limit. */
  rotationsToday: number;
}

/**
 * Removes one key that a connection recorded and no longer needs. The key is named by where it is and
 * its id; the backend checks it against its own records and Bitbucket's list before removing it, so
 * the payload is a choice among what the page was shown, never an authority.
 */
export interface RemoveUnneededKeyPayload {
  repository: string;
  keyId: number;
}

export interface RemovedKey {
  repository: string;
  keyId: number;
}
