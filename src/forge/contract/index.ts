/**
 * The resolver API between the two settings pages (static/settings) and the Forge backend.
 *
 * One file on purpose: the pages import its types, the resolvers import its types and validators,
 * and the preview server answers the same calls, so a change here is a compile error everywhere it
 * matters. It has no imports with side effects and does no I/O, so it bundles into the browser too.
 *
 * Rules every resolver follows:
 * - Payloads never name a workspace, repository or account: those come from the resolver's trusted
 *   context (`req.context.workspaceId`, `extension.repository.uuid`, `accountId`).
 * - Every reply is a `Reply<T>` envelope, never a thrown error: Forge turns a thrown error into an
 *   opaque message, and the pages must show the fix.
 * - Long work (connect, rotate, disconnect, verify) is an action: it returns `{ jobId }` at once and
 *   runs on the `connection-jobs` queue; the page polls `getJob` about once a second. A resolver call
 *   has a hard 25 s limit, a queue consumer 900 s.
 * - No reply ever carries a secret: stored tokens and private keys are write-only from the page.
 */
import type { AuditedKey, AuditFindingCode, KeyType, ProgressEvent, Target, Warning, WorkflowResult } from '../../connect/types';
import { branchOfRef, fetchRefProblem, REF_MAX_LENGTH } from '../../git/index';

// The fetch-reference rules live with git's (the CLI uses them too, and never imports the Forge app).
export { branchOfRef, isValidRef } from '../../git/index';

// ---------------------------------------------------------------------------------------------
// Module keys (must match manifest.yml) and resolver names
// ---------------------------------------------------------------------------------------------

/** The two Custom UI modules; the page picks its view from `context.moduleKey`. */
export const MODULE_KEYS = {
  repository: 'valohai-repo-settings',
  workspace: 'valohai-workspace-settings',
} as const;

export const RESOLVERS = [
  'getWorkspaceSettings',
  'saveValohaiToken',
  'saveBitbucketToken',
  'clearCredentials',
  'getRepositoryPage',
  'previewConnect',
  'startConnect',
  'startManualConnect',
  'verifyManual',
  'startRotate',
  'startDisconnect',
  'startVerify',
  'getJob',
  // Trust settings (who may connect, which other workspaces may receive the key).
  'saveTrustSettings',
  // Connections that look after themselves: the workspace's policy, and removing a key no connection needs.
  'saveHealthPolicy',
  'removeUnneededKey',
  // Fleet: the workspace's access-key audit and bulk actions (workspace admins only).
  'startAudit',
  'getAudit',
  'exportAudit',
  'planBatch',
  'startBatch',
  'getBatch',
  'cancelBatch',
] as const;

export type ResolverName = (typeof RESOLVERS)[number];

// ---------------------------------------------------------------------------------------------
// Constants the pages and resolvers share
// ---------------------------------------------------------------------------------------------

export const DEFAULT_VALOHAI_HOST = 'https://app.valohai.com';

/**
 * Scopes to tick when creating the Atlassian API token that manages access keys
 * (https://id.atlassian.com/manage-profile/security/api-tokens, "Create API token with scopes",
 * app Bitbucket). Access keys are `api-token` only in Bitbucket's spec, hence a user token at all.
 */
export const BITBUCKET_TOKEN_SCOPES = [
  'read:repository:bitbucket',
  'admin:repository:bitbucket',
  'write:ssh-key:bitbucket',
  'delete:ssh-key:bitbucket',
] as const;

export const ATLASSIAN_API_TOKENS_URL = 'https://id.atlassian.com/manage-profile/security/api-tokens';

/** A repository's access keys page on Bitbucket, where a key is added or removed by hand. */
export function accessKeysUrl(workspace: string, slug: string): string {
  return `https://bitbucket.org/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/admin/access-keys/`;
}

/** A commit's page on Bitbucket. */
export function commitUrl(workspace: string, slug: string, sha: string): string {
  return `https://bitbucket.org/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/commits/${encodeURIComponent(sha)}`;
}

/** Where a Valohai user makes a personal token, on their own installation's host. */
export function valohaiTokensUrl(host: string): string {
  return `${host.replace(/\/+$/, '')}/auth/tokens/`;
}

/** Key age thresholds: a warning suggests rotating, an alert says rotate now. */
export const KEY_AGE_WARNING_DAYS = 180;
export const KEY_AGE_ALERT_DAYS = 365;

export type KeyAgeLevel = 'ok' | 'warning' | 'alert';

export function keyAgeLevel(days: number): KeyAgeLevel {
  if (days >= KEY_AGE_ALERT_DAYS) return 'alert';
  if (days >= KEY_AGE_WARNING_DAYS) return 'warning';
  return 'ok';
}

// ---------------------------------------------------------------------------------------------
// Reply envelope and errors
// ---------------------------------------------------------------------------------------------

export type ResolverErrorCode =
  | 'invalid-payload'
  | 'not-admin'
  | 'not-set-up'
  | 'invalid-token'
  | 'missing-scopes'
  | 'not-connected'
  | 'already-connected'
  /** The Valohai project chosen is connected to another repository (named in the message). */
  | 'project-in-use'
  | 'job-running'
  | 'not-found'
  | 'valohai-error'
  | 'host-not-allowed'
  | 'bitbucket-error'
  | 'rate-limited'
  | 'internal';

/** What went wrong and what the user does about it; shown as a SectionMessage. Never a secret. */
export interface ResolverError {
  code: ResolverErrorCode;
  /** What happened, e.g. "Valohai refused the token (401)." */
  message: string;
  /** The exact next step, e.g. "Create a new token at https://app.valohai.com/auth/tokens/ and save it here." */
  fix: string;
  /**
   * True when the same request may well succeed a little later (a server's passing fault, a busy
   * lock, a rate limit): only then do the pages offer to try again.
   */
  temporary?: boolean;
  /** The payload field the error is about, when it is about one: the form shows it on that field. */
  field?: string;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ResolverError };

// ---------------------------------------------------------------------------------------------
// Workspace settings page
// ---------------------------------------------------------------------------------------------

export interface ValohaiCredentialSummary {
  configured: boolean;
  /** The stored host, or DEFAULT_VALOHAI_HOST when nothing is stored. */
  host: string;
  /** Whose token it is (from `GET /api/v0/users/me/`); null when unknown or not configured. */
  username: string | null;
  /** Set when the stored token no longer works, with the fix. */
  problem?: ResolverError;
  /** When and until when the stored token works (see TokenLifetime); absent when nothing is stored. */
  lifetime?: TokenLifetime;
}

export interface BitbucketCredentialSummary {
  configured: boolean;
  email: string | null;
  /** The Atlassian account's display name, when the token can tell it. */
  accountName: string | null;
  /** Scopes of BITBUCKET_TOKEN_SCOPES the stored token lacks: empty when it has them all. */
  missingScopes: string[];
  /**
   * Whether the token's Atlassian account is an admin of this workspace. false: keys go only on the
   * repositories it administers, so connecting others fails; null: the token could not tell
   * (it lacks read:workspace:bitbucket), and connect finds out per repository.
   */
  workspaceAdmin?: boolean | null;
  problem?: ResolverError;
  lifetime?: TokenLifetime;
}

/**
 * A stored token's life: when it was stored (always recorded) and the expiry date the admin gave when
 * storing it (Atlassian API tokens expire at most a year after they are made; Valohai tokens may too).
 * `expiresInDays` counts from today (negative: expired); `level` is 'warning' within
 * TOKEN_EXPIRY_WARNING_DAYS of the date and 'expired' from it on.
 */
export interface TokenLifetime {
  savedAt: string;
  /** `YYYY-MM-DD`, or null when the admin gave none. */
  expiresOn: string | null;
  expiresInDays: number | null;
  level: 'ok' | 'warning' | 'expired';
}

/** Warn this many days before a stored token's expiry date, on the workspace page and on every repository page. */
export const TOKEN_EXPIRY_WARNING_DAYS = 30;
/** An Atlassian API token expires at most this many days after it is made. */
export const MAX_TOKEN_LIFETIME_DAYS = 366;

/**
 * What is plainly not an Atlassian API token, recognised by its shape before anything is sent: the
 * reason, naming what it is and what to paste instead; undefined when it may be one.
 */
export function bitbucketTokenMistake(token: string): string | undefined {
  // Private and public SSH keys are named by tokenProblem, for either token field.
  if (token.startsWith('ATCTT')) {
    return 'is a repository, project or workspace access token, which cannot manage access keys. Create an Atlassian API token with scopes instead';
  }
  if (token.startsWith('ATBB')) return 'is a Bitbucket app password, which Bitbucket is retiring. Create an Atlassian API token with scopes instead';
  if (/^[0-9a-f]{40}$/.test(token)) return 'looks like a Valohai token (40 hexadecimal characters); it belongs in the Valohai field above. Paste an Atlassian API token here';
  return undefined;
}

/** How a repository stands, as listed on the workspace page. */
export type RepositoryConnectionState = 'not-connected' | 'connected' | 'running' | 'manual' | 'moved-away';

export interface WorkspaceRepository {
  fullName: string;
  name: string;
  state: RepositoryConnectionState;
  /** Valohai project name when connected. */
  projectName: string | null;
  keyAgeDays: number | null;
  /** The repository's own Valohai settings page, when the resolver can build its address. */
  settingsUrl: string | null;
  /** The latest check's verdict for a connected repository; null when never checked or not connected. */
  health: ConnectionHealth | null;
  /** When Valohai's fetch last verified against Bitbucket's head (connect, rotate, Verify, a push or a check); null: never. */
  lastVerifiedAt: string | null;
}

export interface WorkspaceSettings {
  workspace: { slug: string; name: string };
  /** Whether the caller may change credentials (a workspace admin). Forms are read-only otherwise. */
  canAdminister: boolean;
  valohai: ValohaiCredentialSummary;
  bitbucket: BitbucketCredentialSummary;
  repositories: WorkspaceRepository[];
  /** True when the list stopped early (very large workspace); the page says so. */
  repositoriesTruncated: boolean;
  trust: TrustSettingsView;
  /** How connections look after themselves (only workspace admins change it). */
  policy: HealthPolicyView;
  /** The scheduled checks: when they last ran and what holds them up. */
  automation: AutomationView;
  /** Keys the latest checks found unused, no longer needed, or labelled like the app's but recorded by no connection. */
  keyNotices: KeyNotice[];
  /**
   * Valohai owners the stored Valohai token may create projects under (`org` or `org:team`), for a bulk
   * connect to new projects. Workspace admins only; empty when no token is stored or Valohai did not say.
   */
  valohaiOwners: string[];
}

// --- Trust settings -------------------------------------------------------------------------

/**
 * Who may connect repositories of the workspace ('workspace-admins', the default, or
 * 'repository-admins' too), and the other workspaces whose repositories may receive the key as
 * submodules (by slug). Only workspace admins change them.
 */
export interface TrustSettingsView {
  connectors: 'workspace-admins' | 'repository-admins';
  otherWorkspaces: string[];
  /**
   * Valohai owners (`org` or `org:team`, as in `ownershipOptions`) under which repository admins may
   * create projects. Empty (the default): they connect existing projects only. Workspace admins may
   * create under any owner the Valohai token can use.
   */
  projectOwners: string[];
}

/** `projectOwners` omitted: none. */
export type SaveTrustSettingsPayload = Omit<TrustSettingsView, 'projectOwners'> & { projectOwners?: string[] };

/** At most this many project owners may be allowed for repository admins. */
export const MAX_PROJECT_OWNERS = 50;

/** At most this many other workspaces may be allowed. */
export const MAX_OTHER_WORKSPACES = 20;
const WORKSPACE_SLUG = /^[a-z0-9][a-z0-9_.-]{0,61}$/i;
/** A Valohai owner value: an organisation or user name, optionally `:team`. */
const VALOHAI_OWNER = /^[A-Za-z0-9_.@+-]{1,150}(:[A-Za-z0-9_.@+ -]{1,150})?$/;

export interface SaveValohaiTokenPayload {
  /** Omitted: DEFAULT_VALOHAI_HOST. Normalised to `scheme://host[:port]`, no trailing slash. */
  host?: string;
  token: string;
  /** `YYYY-MM-DD`: the token's expiry date, if it has one. */
  expiresOn?: string;
}

export interface SaveBitbucketTokenPayload {
  email: string;
  token: string;
  /** `YYYY-MM-DD`: the expiry date chosen when the API token was made (at most a year ahead). */
  expiresOn?: string;
}

export type CredentialKind = 'valohai' | 'bitbucket';

export interface ClearCredentialsPayload {
  which: CredentialKind | 'all';
}


// --- Connections that look after themselves ---------------------------------------------------

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

// saveValohaiToken → Reply<ValohaiCredentialSummary> (the token is checked before it is stored;
// a refused token is an `invalid-token` error and nothing is stored).
// saveBitbucketToken → Reply<BitbucketCredentialSummary> (stored even with missing scopes, which
// the summary lists, so that the admin can fix the token without retyping the email).
// clearCredentials → Reply<WorkspaceSettings>.

// ---------------------------------------------------------------------------------------------
// Repository settings page
// ---------------------------------------------------------------------------------------------

/**
 * - not-set-up: no Valohai token in the workspace; the page links to the workspace settings page.
 * - ready: can connect (automatically with a Bitbucket token, else by the manual path).
 * - running: a job is under way (`activeJob`).
 * - connected: a verified or at least configured connection exists (`connection`).
 * - manual: a key was generated for the manual path and waits for the admin to add it (`manual`).
 */
export type RepositoryPageState = 'not-set-up' | 'ready' | 'running' | 'connected' | 'manual';

export interface RepositoryInfo {
  fullName: string;
  /** null on an empty repository (no commits yet). */
  mainBranch: string | null;
  /** `git@bitbucket.org:ws/repo.git`, the form Valohai wants. */
  sshUrl: string;
  /** The repository's "Access keys" settings page on bitbucket.org. */
  accessKeysUrl: string;
}

export interface SetupStatus {
  valohai: boolean;
  /** false: no usable Bitbucket token, so connecting takes the manual path. */
  bitbucket: boolean;
  /** The stored token's account is known not to administer the workspace: connect may be refused per repository. */
  bitbucketNotAdmin?: boolean;
  /** The workspace's Valohai settings page, when the resolver can build its address. */
  workspaceSettingsUrl: string | null;
  /** Stored tokens within TOKEN_EXPIRY_WARNING_DAYS of their expiry date, or refused: said on every repository page. */
  tokenNotices?: { message: string; fix: string }[];
}

export interface ValohaiProjectOption {
  id: string;
  name: string;
  /** Organisation or `org:team` owning it, as Valohai shows it. */
  owner: string | null;
  /** The repository URL the project fetches from now, if any: connecting replaces it. */
  repositoryUrl: string | null;
  /**
   * `workspace/slug` of the repository of this workspace the project is connected to, when that is
   * another one: connecting it here is refused unless a workspace admin confirms moving it.
   */
  inUseBy: string | null;
}

export interface OwnershipOption {
  /** The `owner` value for `POST /api/v0/projects/`. */
  value: string;
  label: string;
}

export interface ReadyDetails {
  projects: ValohaiProjectOption[];
  ownershipOptions: OwnershipOption[];
  /** Default fetch reference: the main branch, or 'main' on an empty repository. */
  defaultRef: string;
  /**
   * Set when this admin may not connect in this workspace (only workspace admins connect): what to
   * tell them, in place of the form. The lists are empty then.
   */
  refusal?: { message: string; fix: string };
}

export interface AccessKeyStatus {
  /** `workspace/slug`. */
  repository: string;
  /**
   * 'present' or 'missing' as Bitbucket lists the repository's keys right now; 'unchecked' when no API
   * token is stored (a connection made by hand), since only a token can list access keys.
   */
  state: 'present' | 'missing' | 'unchecked';
  /** Bitbucket access key id when present; for an unchecked key, the id recorded when it was added, if any. */
  id: number | null;
  /** ISO time of the key's last use on that repository; null if never used or unknown. */
  lastUsed: string | null;
  accessKeysUrl: string;
}

export interface ConnectionStatus {
  project: { id: string; name: string; url: string | null };
  ref: string;
  keyType: KeyType;
  /** `SHA256:...` as OpenSSH prints it. */
  fingerprint: string;
  /** ISO time the key was created. */
  createdAt: string;
  keyAgeDays: number;
  accessKeys: AccessKeyStatus[];
  /** Newest commit Valohai has of this repository, and the Bitbucket head of `ref`. */
  valohaiCommit: { identifier: string; commitTime: string | null } | null;
  bitbucketHead: string | null;
  /** ISO time of the last successful verification. */
  verifiedAt: string | null;
  lastPushFetch: { at: string; commits: number; errors: string[] } | null;
  /**
   * Set when Valohai's project now fetches another repository (it was moved, here or in Valohai): this
   * connection's key is no longer used, and Disconnect removes its access keys without touching Valohai.
   */
  movedAway: { fetches: string } | null;
  /** Whether Valohai has Bitbucket's head, read from the last fetch the app asked for. */
  sync: SyncState;
  /** Set when Bitbucket's rate limit stopped the page's reads: when it is expected to read again (ISO time). */
  rateLimitedUntil?: string;
  warnings: Warning[];
  /** The connection's checks: the latest, a timeline, what was repaired, what needs an admin. */
  health: HealthView;
}

/**
 * 'in-sync': Valohai's last fetch worked and it has Bitbucket's head. 'behind': the last fetch worked,
 * and Bitbucket's head moved since (the next push or Verify fetches it). 'failing': Valohai cannot fetch
 * (its errors). 'moved': the project fetches another repository. 'unknown': no fetch checked yet.
 */
export type SyncState =
  | { state: 'in-sync' }
  | { state: 'behind' }
  | { state: 'failing'; at: string | null; errors: string[] }
  | { state: 'moved' }
  | { state: 'unknown' };

export interface ManualTarget extends Target {
  accessKeysUrl: string;
}

/** A repository's key as the last Verify of a key added by hand found it: fetched with, refused, or not reached. */
export type ManualKeyState = 'present' | 'missing' | 'not-reached';

export interface ManualCheck {
  at: string;
  targets: { repository: string; state: ManualKeyState }[];
}

export interface ManualDetails {
  /** One authorized_keys line to paste; the private half never leaves the backend. */
  publicKey: string;
  fingerprint: string;
  keyType: KeyType;
  /** The label to give the key on Bitbucket, so rotation and disconnect can find it later. */
  label: string;
  targets: ManualTarget[];
  project: { id: string; name: string };
  ref: string;
  warnings: Warning[];
  /** What the last Verify found on each repository, when Bitbucket refused the key somewhere. */
  checked?: ManualCheck;
}

export type JobKind = 'connect' | 'manual-connect' | 'manual-verify' | 'manual-discard' | 'rotate' | 'disconnect' | 'verify';

/** Each job as the pages and the logs name it. */
export const JOB_TITLES: Record<JobKind, string> = {
  connect: 'Connecting to Valohai',
  'manual-connect': 'Preparing the key to add by hand',
  'manual-verify': 'Verifying the key added by hand',
  'manual-discard': 'Discarding the key for connecting by hand',
  rotate: 'Rotating the access key',
  disconnect: 'Disconnecting from Valohai',
  verify: 'Verifying the connection',
};

export interface RepositoryPage {
  state: RepositoryPageState;
  repository: RepositoryInfo;
  /** Whether the caller administers this repository; actions are disabled otherwise. */
  canAdminister: boolean;
  setup: SetupStatus;
  /** Present in state 'ready'. */
  ready?: ReadyDetails;
  /** Present in state 'connected' (and during a job on a connected repository). */
  connection?: ConnectionStatus;
  /** Present in state 'manual'. */
  manual?: ManualDetails;
  /** Present in state 'running'. */
  activeJob?: { jobId: string; kind: JobKind };
  /**
   * For callers who do not administer the repository, in place of the details above: enough to ask an
   * admin, nothing more (no project list, no key or submodule repository names, no job).
   */
  summary?: { projectName: string | null; movedAway: boolean };
}

export interface PreviewConnectPayload {
  /** Omitted: the main branch. */
  ref?: string;
  submodules: boolean;
}

/** What connect would touch, read before anything changes. */
export interface ConnectPreview {
  ref: string;
  headCommit: string | null;
  sshUrl: string;
  targets: ManualTarget[];
  warnings: Warning[];
}

export interface NewProject {
  name: string;
  /** One of the `ownershipOptions` values. */
  owner: string;
}

/** Exactly one of `projectId` and `newProject`. */
export type StartConnectPayload = (
  | { projectId: string; newProject?: undefined }
  | { projectId?: undefined; newProject: NewProject }
) & {
  ref: string;
  keyType: KeyType;
  submodules: boolean;
  /**
   * Connect a project that is connected to (or fetches) another repository, moving it here: workspace
   * admins only. Without it such a project is refused with 'project-in-use'.
   */
  moveProject?: boolean;
};

/** Same choices as a connect; the job stops once the key pair exists and the page shows `manual`. */
export type StartManualConnectPayload = StartConnectPayload;

export interface StartRotatePayload {
  /** Omitted: keep the current key type. */
  keyType?: KeyType;
}

/** For actions that take nothing: `{}` (or no payload at all). */
export type EmptyPayload = Record<string, never>;

export interface JobStarted {
  jobId: string;
}

export interface GetJobPayload {
  jobId: string;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'unverified';

export interface JobView {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** Steps in the order they happened; a step id appears once, with its latest status. */
  steps: ProgressEvent[];
  /** How many steps the job expects in all (never fewer than `steps`); absent until the job says. */
  plannedSteps?: number;
  /** Set once the job ends. */
  result?: WorkflowResult;
  /** What went wrong, with the fix, when status is 'failed' or 'unverified'. */
  error?: string;
  startedAt: string;
  finishedAt?: string;
}

// ---------------------------------------------------------------------------------------------
// Fleet: the workspace page's work over every repository (workspace admins only)
// ---------------------------------------------------------------------------------------------

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
  /** 'waiting': the request budget ran out; it resumes by itself at `resumesAt`. */
  status: 'running' | 'waiting' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** A sentence for the page, e.g. "212 of 500 repositories read, 31 access keys found; resumes at 14:05 UTC when the request budget refills." */
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
  /** Rotate: the new keys' type, omitted: each keeps its own. Connect: omitted, ed25519. */
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
   * Rotate, verify, disconnect: every repository the item touches, as the connection records them. A
   * rotation goes no further: an item whose `.gitmodules` named more since is refused when it runs.
   */
  repositories?: string[];
}

export interface BatchSkip {
  repository: string;
  reason: string;
}

export interface BatchPlan {
  action: BatchAction;
  act: BatchPlanEntry[];
  skip: BatchSkip[];
  /** Stored-token requests in all, and where the per-repository figure comes from. */
  requests: { total: number; perTarget: number; source: string };
  /** The fleet share of the stored token's hour (fleet/budget.ts) as it stands now. */
  budget: { perHour: number; leftThisHour: number; refillsAt: string | null };
  /** Hours the batch waits for the budget beyond this one (0: it fits now). */
  extraHours: number;
  /** A sentence for the page, e.g. "12 repositories, about 96 requests: fits in this hour's fleet budget (540 left)." */
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
  /** 'waiting': the fleet budget is spent; it resumes by itself at `resumesAt`. */
  status: 'running' | 'waiting' | 'cancelling' | 'done' | 'cancelled';
  startedAt: string;
  finishedAt: string | null;
  /** A sentence for the page, e.g. "31 of 50 done, 1 failed, 3 running; resumes at 14:05 UTC when the request budget refills." */
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

// ---------------------------------------------------------------------------------------------
// The whole API as one map: payload and reply value per resolver
// ---------------------------------------------------------------------------------------------

export interface ResolverApi {
  getWorkspaceSettings: { payload: EmptyPayload; value: WorkspaceSettings };
  saveValohaiToken: { payload: SaveValohaiTokenPayload; value: ValohaiCredentialSummary };
  saveBitbucketToken: { payload: SaveBitbucketTokenPayload; value: BitbucketCredentialSummary };
  clearCredentials: { payload: ClearCredentialsPayload; value: WorkspaceSettings };
  getRepositoryPage: { payload: EmptyPayload; value: RepositoryPage };
  previewConnect: { payload: PreviewConnectPayload; value: ConnectPreview };
  startConnect: { payload: StartConnectPayload; value: JobStarted };
  startManualConnect: { payload: StartManualConnectPayload; value: JobStarted };
  /** Checks the pasted key is in place (Valohai fetch) and finishes the manual connect. */
  verifyManual: { payload: EmptyPayload; value: JobStarted };
  startRotate: { payload: StartRotatePayload; value: JobStarted };
  startDisconnect: { payload: EmptyPayload; value: JobStarted };
  startVerify: { payload: EmptyPayload; value: JobStarted };
  getJob: { payload: GetJobPayload; value: JobView };
  saveTrustSettings: { payload: SaveTrustSettingsPayload; value: TrustSettingsView };
  saveHealthPolicy: { payload: SaveHealthPolicyPayload; value: HealthPolicyView };
  removeUnneededKey: { payload: RemoveUnneededKeyPayload; value: RemovedKey };
  // Fleet
  startAudit: { payload: StartAuditPayload; value: FleetAuditView };
  getAudit: { payload: GetAuditPayload; value: { audit: FleetAuditView | null } };
  exportAudit: { payload: ExportAuditPayload; value: FleetAuditExport };
  /** What a bulk action would do, read before anything changes. */
  planBatch: { payload: PlanBatchPayload; value: BatchPlan };
  startBatch: { payload: StartBatchPayload; value: BatchView };
  getBatch: { payload: GetBatchPayload; value: { batch: BatchView | null } };
  /** Starts no more repositories; running jobs finish. */
  cancelBatch: { payload: EmptyPayload; value: BatchView };
}

export type PayloadOf<K extends ResolverName> = ResolverApi[K]['payload'];
export type ValueOf<K extends ResolverName> = ResolverApi[K]['value'];

// ---------------------------------------------------------------------------------------------
// Runtime validation of payloads (the page is not trusted: anything can call a resolver)
// ---------------------------------------------------------------------------------------------

/** What the pages call the fields a person types, for errors about what was typed. */
export const FIELD_NAMES: Readonly<Record<string, string>> = {
  token: 'The token',
  email: 'The email address',
  host: 'The Valohai host',
  ref: 'The fetch reference',
  'newProject.name': 'The project name',
  'newProject.owner': 'The owner',
  expiresOn: 'The expiry date',
  'autoRotate.everyDays': 'The rotation interval',
  'autoRotate.perDay': 'The daily rotation limit',
  unusedDays: 'The unused-key age',
};

/**
 * A payload that does not match the contract. Names the field, never echoes its value. When the
 * field is one a person types (`FIELD_NAMES`) and a rule refused its value, the error is about what
 * they typed and names the field for the form to mark; otherwise the page and the app are out of step.
 */
export class InvalidPayloadError extends Error {
  override readonly name = 'InvalidPayloadError';
  constructor(
    readonly resolver: ResolverName,
    readonly field: string,
    readonly reason: string,
    /** The value broke one of `fieldRules` (as opposed to a missing or unknown field, a wrong type). */
    readonly typed = false,
  ) {
    super(`${resolver}: ${field} ${reason}.`);
  }

  /** The reply a resolver sends for this error. */
  toResolverError(): ResolverError {
    const name = FIELD_NAMES[this.field];
    if (this.typed && name) {
      return { code: 'invalid-payload', field: this.field, message: `${name} ${this.reason}.`, fix: 'Correct it, then send it again.' };
    }
    return {
      code: 'invalid-payload',
      message: `The request to ${this.resolver} was refused: ${this.field} ${this.reason}.`,
      fix: 'Reload the page and try again; if it keeps happening, the page and the app are out of step: redeploy the app.',
    };
  }
}

type Obj = Record<string, unknown>;

function objectWith(resolver: ResolverName, input: unknown, allowed: readonly string[]): Obj {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidPayloadError(resolver, 'payload', 'must be an object');
  }
  const obj = input as Obj;
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new InvalidPayloadError(resolver, key, 'is not a known field');
  }
  return obj;
}

// Control characters and DEL: never legitimate in any field here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a typed text (already trimmed) is refused, as the end of a sentence naming it; null: it is fine. */
function textProblem(value: string, max: number): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > max) return `must be at most ${max} characters`;
  if (CONTROL.test(value)) return 'must not contain control characters';
  return null;
}

/** Longest values the resolvers take. */
export const FIELD_LIMITS = { valohaiToken: 1000, bitbucketToken: 2000, email: 254, host: 300, projectName: 100, owner: 200, ref: REF_MAX_LENGTH } as const;

function tokenProblem(value: string, max: number): string | null {
  // Checked first: a private key is long and has spaces, and the useful thing to say is what it is.
  if (/-----BEGIN|PRIVATE KEY|^(ssh-(rsa|ed25519)|ecdsa-sha2-)\s/.test(value)) return 'is an SSH key, not an API token: paste the API token instead';
  const problem = textProblem(value, max);
  if (problem) return problem;
  if (/\s/.test(value)) return 'must not contain spaces';
  return null;
}

/**
 * The rules for what a person types, shared by the pages (which check before sending and mark the
 * field) and the validators below (which check again, since anything can call a resolver). Each takes
 * the trimmed value and returns why it is refused, to follow the field's name ("The token must not
 * contain spaces"), or null.
 */
export const fieldRules = {
  valohaiToken: (value: string) => tokenProblem(value, FIELD_LIMITS.valohaiToken),
  bitbucketToken: (value: string) => bitbucketTokenMistake(value) ?? tokenProblem(value, FIELD_LIMITS.bitbucketToken),
  email: (value: string) => textProblem(value, FIELD_LIMITS.email) ?? (EMAIL.test(value) ? null : 'must be an email address, e.g. you@example.com'),
  host: (value: string) =>
    textProblem(value, FIELD_LIMITS.host) ??
    (normaliseValohaiHost(value) === null ? 'must be an https:// address with no path, e.g. https://app.valohai.com' : null),
  projectName: (value: string) => textProblem(value, FIELD_LIMITS.projectName),
  owner: (value: string) => textProblem(value, FIELD_LIMITS.owner),
  ref: fetchRefProblem,
} as const;

/** A typed field: a string, trimmed, that passes its rule. */
function typed(resolver: ResolverName, obj: Obj, field: string, rule: (value: string) => string | null, name = field): string {
  const value = obj[field];
  if (typeof value !== 'string') throw new InvalidPayloadError(resolver, name, 'must be a string');
  const trimmed = value.trim();
  const problem = rule(trimmed);
  if (problem) throw new InvalidPayloadError(resolver, name, problem, true);
  return trimmed;
}

function text(resolver: ResolverName, obj: Obj, field: string, max: number): string {
  const value = obj[field];
  if (typeof value !== 'string') throw new InvalidPayloadError(resolver, field, 'must be a string');
  const trimmed = value.trim();
  const problem = textProblem(trimmed, max);
  if (problem) throw new InvalidPayloadError(resolver, field, problem);
  return trimmed;
}

function bool(resolver: ResolverName, obj: Obj, field: string): boolean {
  const value = obj[field];
  if (typeof value !== 'boolean') throw new InvalidPayloadError(resolver, field, 'must be true or false');
  return value;
}

function oneOf<T extends string>(resolver: ResolverName, obj: Obj, field: string, values: readonly T[]): T {
  const value = obj[field];
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new InvalidPayloadError(resolver, field, `must be one of ${values.join(', ')}`);
  }
  return value as T;
}

const KEY_TYPES: readonly KeyType[] = ['rsa', 'ed25519'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * A Valohai host as `scheme://host[:port]`. HTTPS, except plain HTTP to the local machine, which the
 * preview and tests use for their Valohai stand-in. (In Forge, a host other than app.valohai.com
 * also needs its own egress entry in manifest.yml.)
 */
export function normaliseValohaiHost(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) return null;
  if (url.username || url.password || url.search || url.hash) return null;
  if (url.pathname !== '/' && url.pathname !== '') return null;
  return url.origin;
}

function ref(resolver: ResolverName, obj: Obj, field: string): string {
  return branchOfRef(typed(resolver, obj, field, fieldRules.ref));
}

const FULL_NAME = /^[A-Za-z0-9_.-]{1,62}\/[A-Za-z0-9_.-]{1,128}$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A whole number within limits, as a setting a person types (the field is marked when it is refused). */
function days(resolver: ResolverName, obj: Obj, field: string, name: string, limits: { min: number; max: number }): number {
  const value = obj[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new InvalidPayloadError(resolver, name, `must be a whole number from ${limits.min} to ${limits.max}`, true);
  }
  return value;
}

/**
 * Why an expiry date typed as `YYYY-MM-DD` is refused, or null: it must be a real date, not before
 * `today` (the server's clock decides; the page checks with the browser's) and, for an Atlassian API
 * token, at most MAX_TOKEN_LIFETIME_DAYS ahead.
 */
export function expiryProblem(value: string, today: Date): string | null {
  const m = ISO_DATE.exec(value);
  if (!m) return 'must be a date such as 2027-06-30';
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (date.toISOString().slice(0, 10) !== value) return 'must be a date such as 2027-06-30';
  const day = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  if (date.getTime() < day) return 'is in the past: the token has expired, so make a new one';
  if (date.getTime() - day > MAX_TOKEN_LIFETIME_DAYS * 86_400_000) return 'is more than a year ahead, which no Atlassian API token allows: check the date';
  return null;
}

/** Whole days from `today` to the `YYYY-MM-DD` date (negative once it has passed). */
export function daysUntil(dateOnly: string, today: Date): number {
  const m = ISO_DATE.exec(dateOnly);
  if (!m) return Number.NaN;
  const date = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const day = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return Math.round((date - day) / 86_400_000);
}

/** `expiresOn`, when given, as a date of the right shape (its range is checked with the server's clock). */
function expiresOn(resolver: 'saveValohaiToken' | 'saveBitbucketToken', obj: Obj): { expiresOn?: string } {
  if (obj.expiresOn === undefined || obj.expiresOn === '' || obj.expiresOn === null) return {};
  const value = typed(resolver, obj, 'expiresOn', (v) => (ISO_DATE.test(v) ? null : 'must be a date such as 2027-06-30'));
  return { expiresOn: value };
}

function empty<K extends ResolverName>(resolver: K) {
  return (input: unknown): EmptyPayload => {
    objectWith(resolver, input, []);
    return {};
  };
}

function connectPayload(resolver: 'startConnect' | 'startManualConnect', input: unknown): StartConnectPayload {
  const obj = objectWith(resolver, input, ['projectId', 'newProject', 'ref', 'keyType', 'submodules', 'moveProject']);
  const common = {
    ref: ref(resolver, obj, 'ref'),
    keyType: oneOf(resolver, obj, 'keyType', KEY_TYPES),
    submodules: bool(resolver, obj, 'submodules'),
    ...(obj.moveProject !== undefined ? { moveProject: bool(resolver, obj, 'moveProject') } : {}),
  };
  const hasId = obj.projectId !== undefined;
  const hasNew = obj.newProject !== undefined;
  if (hasId === hasNew) {
    throw new InvalidPayloadError(resolver, 'projectId', 'or newProject must be given, not both');
  }
  if (hasId) {
    const projectId = text(resolver, obj, 'projectId', 36);
    if (!UUID.test(projectId)) throw new InvalidPayloadError(resolver, 'projectId', 'must be a Valohai project id (a UUID)');
    return { projectId, ...common };
  }
  const project = obj.newProject;
  if (typeof project !== 'object' || project === null || Array.isArray(project)) {
    throw new InvalidPayloadError(resolver, 'newProject', 'must be an object');
  }
  for (const key of Object.keys(project)) {
    if (key !== 'name' && key !== 'owner') throw new InvalidPayloadError(resolver, `newProject.${key}`, 'is not a known field');
  }
  const p = project as Obj;
  const name = typed(resolver, p, 'name', fieldRules.projectName, 'newProject.name');
  const owner = typed(resolver, p, 'owner', fieldRules.owner, 'newProject.owner');
  return { newProject: { name, owner }, ...common };
}

const FLEET_FINDINGS: readonly FleetFindingCode[] = ['unused', 'weak', 'shared', 'lookalike'];

/** A whole number the page sends (not typed by a person): out of range is the page's mistake. */
function whole(resolver: ResolverName, obj: Obj, field: string, min: number, max: number): number {
  const value = obj[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidPayloadError(resolver, field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}


const BATCH_ACTIONS: readonly BatchAction[] = ['rotate', 'verify', 'disconnect', 'connect'];
const BATCH_ITEM_STATUSES: readonly BatchItemStatus[] = ['queued', 'running', 'done', 'failed', 'skipped'];
const BATCH_FIELDS = ['action', 'repositories', 'olderThanDays', 'keyType', 'connect'] as const;

/** The selection both batch resolvers take. Names are only shaped here; the backend matches them against the workspace. */
function batchPayload(resolver: 'planBatch' | 'startBatch', input: unknown): PlanBatchPayload {
  const obj = objectWith(resolver, input, BATCH_FIELDS);
  const action = oneOf(resolver, obj, 'action', BATCH_ACTIONS);
  const hasList = obj.repositories !== undefined;
  const hasAge = obj.olderThanDays !== undefined;
  if (hasList === hasAge) throw new InvalidPayloadError(resolver, 'repositories', 'or olderThanDays must be given, not both');
  const out: PlanBatchPayload = { action };
  if (hasList) {
    const list = obj.repositories;
    if (!Array.isArray(list) || list.length === 0 || list.length > BATCH_MAX_REPOSITORIES) {
      throw new InvalidPayloadError(resolver, 'repositories', `must be a list of 1 to ${BATCH_MAX_REPOSITORIES} repositories (workspace/repository)`);
    }
    const seen = new Set<string>();
    out.repositories = [];
    list.forEach((name, i) => {
      if (typeof name !== 'string' || !FULL_NAME.test(name.trim())) throw new InvalidPayloadError(resolver, `repositories[${i}]`, 'must be workspace/repository');
      const trimmed = name.trim();
      if (seen.has(trimmed.toLowerCase())) return;
      seen.add(trimmed.toLowerCase());
      out.repositories?.push(trimmed);
    });
  } else {
    if (action !== 'rotate') throw new InvalidPayloadError(resolver, 'olderThanDays', 'applies to rotate only');
    out.olderThanDays = whole(resolver, obj, 'olderThanDays', 0, 3650);
  }
  if (obj.keyType !== undefined) {
    if (action !== 'rotate' && action !== 'connect') throw new InvalidPayloadError(resolver, 'keyType', 'applies to rotate and connect only');
    out.keyType = oneOf(resolver, obj, 'keyType', KEY_TYPES);
  }
  if (action === 'connect') out.connect = batchConnectChoice(resolver, obj.connect);
  else if (obj.connect !== undefined) throw new InvalidPayloadError(resolver, 'connect', 'applies to connect only');
  return out;
}

function batchConnectChoice(resolver: 'planBatch' | 'startBatch', value: unknown): BatchConnectChoice {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidPayloadError(resolver, 'connect', 'must be an object');
  const c = value as Obj;
  for (const key of Object.keys(c)) {
    if (!['project', 'owner', 'ref', 'submodules'].includes(key)) throw new InvalidPayloadError(resolver, `connect.${key}`, 'is not a known field');
  }
  const project = oneOf(resolver, c, 'project', ['existing', 'new'] as const);
  const common = {
    ...(c.ref !== undefined ? { ref: ref(resolver, c, 'ref') } : {}),
    ...(c.submodules !== undefined ? { submodules: bool(resolver, c, 'submodules') } : {}),
  };
  if (project === 'existing') {
    if (c.owner !== undefined) throw new InvalidPayloadError(resolver, 'connect.owner', 'applies to new projects only');
    return { project, ...common };
  }
  return { project, owner: typed(resolver, c, 'owner', fieldRules.owner, 'connect.owner'), ...common };
}

/**
 * One validator per resolver: takes `req.payload` as received, returns the typed payload (strings
 * trimmed, host normalised) or throws InvalidPayloadError. Unknown fields are refused.
 */
export const validatePayload: { [K in ResolverName]: (input: unknown) => PayloadOf<K> } = {
  getWorkspaceSettings: empty('getWorkspaceSettings'),

  saveValohaiToken(input) {
    const obj = objectWith('saveValohaiToken', input, ['host', 'token', 'expiresOn']);
    const token = typed('saveValohaiToken', obj, 'token', fieldRules.valohaiToken);
    const expiry = expiresOn('saveValohaiToken', obj);
    if (obj.host === undefined || obj.host === '') return { token, ...expiry };
    const host = normaliseValohaiHost(typed('saveValohaiToken', obj, 'host', fieldRules.host)) as string;
    return { host, token, ...expiry };
  },

  saveBitbucketToken(input) {
    const obj = objectWith('saveBitbucketToken', input, ['email', 'token', 'expiresOn']);
    const email = typed('saveBitbucketToken', obj, 'email', fieldRules.email);
    const token = typed('saveBitbucketToken', obj, 'token', fieldRules.bitbucketToken);
    return { email, token, ...expiresOn('saveBitbucketToken', obj) };
  },

  clearCredentials(input) {
    const obj = objectWith('clearCredentials', input, ['which']);
    return { which: oneOf('clearCredentials', obj, 'which', ['valohai', 'bitbucket', 'all'] as const) };
  },

  getRepositoryPage: empty('getRepositoryPage'),

  previewConnect(input) {
    const obj = objectWith('previewConnect', input, ['ref', 'submodules']);
    const submodules = bool('previewConnect', obj, 'submodules');
    if (obj.ref === undefined || obj.ref === '') return { submodules };
    return { ref: ref('previewConnect', obj, 'ref'), submodules };
  },

  startConnect: (input) => connectPayload('startConnect', input),
  startManualConnect: (input) => connectPayload('startManualConnect', input),
  verifyManual: empty('verifyManual'),

  startRotate(input) {
    const obj = objectWith('startRotate', input, ['keyType']);
    if (obj.keyType === undefined) return {};
    return { keyType: oneOf('startRotate', obj, 'keyType', KEY_TYPES) };
  },

  startDisconnect: empty('startDisconnect'),
  startVerify: empty('startVerify'),

  getJob(input) {
    const obj = objectWith('getJob', input, ['jobId']);
    const jobId = text('getJob', obj, 'jobId', 100);
    if (!JOB_ID.test(jobId)) throw new InvalidPayloadError('getJob', 'jobId', 'is not a job id');
    return { jobId };
  },

  saveTrustSettings(input) {
    const obj = objectWith('saveTrustSettings', input, ['connectors', 'otherWorkspaces', 'projectOwners']);
    const connectors = oneOf('saveTrustSettings', obj, 'connectors', ['workspace-admins', 'repository-admins'] as const);
    const list = obj.otherWorkspaces;
    if (!Array.isArray(list) || list.length > MAX_OTHER_WORKSPACES) {
      throw new InvalidPayloadError('saveTrustSettings', 'otherWorkspaces', `must be a list of at most ${MAX_OTHER_WORKSPACES} workspace slugs`);
    }
    const otherWorkspaces = list.map((w, i) => {
      if (typeof w !== 'string' || !WORKSPACE_SLUG.test(w.trim())) {
        throw new InvalidPayloadError('saveTrustSettings', `otherWorkspaces[${i}]`, 'must be a workspace slug such as acme-research');
      }
      return w.trim().toLowerCase();
    });
    const owners = obj.projectOwners ?? [];
    if (!Array.isArray(owners) || owners.length > MAX_PROJECT_OWNERS) {
      throw new InvalidPayloadError('saveTrustSettings', 'projectOwners', `must be a list of at most ${MAX_PROJECT_OWNERS} Valohai owners`);
    }
    const projectOwners = owners.map((o, i) => {
      if (typeof o !== 'string' || !VALOHAI_OWNER.test(o.trim())) {
        throw new InvalidPayloadError('saveTrustSettings', `projectOwners[${i}]`, 'must be a Valohai organisation or org:team, as the owner list shows it');
      }
      return o.trim();
    });
    return { connectors, otherWorkspaces, projectOwners };
  },

  saveHealthPolicy(input) {
    const obj = objectWith('saveHealthPolicy', input, ['drift', 'unneededKeys', 'autoRotate', 'unusedDays']);
    const drift = oneOf('saveHealthPolicy', obj, 'drift', ['repair', 'alert'] as const);
    const unneededKeys = oneOf('saveHealthPolicy', obj, 'unneededKeys', ['offer', 'remove'] as const);
    const rotate = obj.autoRotate;
    if (typeof rotate !== 'object' || rotate === null || Array.isArray(rotate)) {
      throw new InvalidPayloadError('saveHealthPolicy', 'autoRotate', 'must be an object');
    }
    for (const key of Object.keys(rotate)) {
      if (!['enabled', 'everyDays', 'perDay'].includes(key)) throw new InvalidPayloadError('saveHealthPolicy', `autoRotate.${key}`, 'is not a known field');
    }
    const r = rotate as Obj;
    return {
      drift,
      unneededKeys,
      autoRotate: {
        enabled: bool('saveHealthPolicy', r, 'enabled'),
        everyDays: days('saveHealthPolicy', r, 'everyDays', 'autoRotate.everyDays', HEALTH_POLICY_LIMITS.everyDays),
        perDay: days('saveHealthPolicy', r, 'perDay', 'autoRotate.perDay', HEALTH_POLICY_LIMITS.perDay),
      },
      unusedDays: days('saveHealthPolicy', obj, 'unusedDays', 'unusedDays', HEALTH_POLICY_LIMITS.unusedDays),
    };
  },

  removeUnneededKey(input) {
    const obj = objectWith('removeUnneededKey', input, ['repository', 'keyId']);
    const repository = text('removeUnneededKey', obj, 'repository', 200);
    if (!FULL_NAME.test(repository)) throw new InvalidPayloadError('removeUnneededKey', 'repository', 'must be workspace/repository');
    const keyId = obj.keyId;
    if (typeof keyId !== 'number' || !Number.isSafeInteger(keyId) || keyId < 1) {
      throw new InvalidPayloadError('removeUnneededKey', 'keyId', 'must be an access key id (a positive whole number)');
    }
    return { repository, keyId };
  },

  // --- Fleet ---------------------------------------------------------------------------------

  startAudit(input) {
    const obj = objectWith('startAudit', input, ['unusedDays']);
    if (obj.unusedDays === undefined) return {};
    return { unusedDays: days('startAudit', obj, 'unusedDays', 'unusedDays', HEALTH_POLICY_LIMITS.unusedDays) };
  },

  getAudit(input) {
    const obj = objectWith('getAudit', input, ['page', 'pageSize', 'finding']);
    const out: GetAuditPayload = {};
    if (obj.page !== undefined) out.page = whole('getAudit', obj, 'page', 1, 100_000);
    if (obj.pageSize !== undefined) out.pageSize = whole('getAudit', obj, 'pageSize', 0, FLEET_PAGE_SIZE_MAX);
    if (obj.finding !== undefined) out.finding = oneOf('getAudit', obj, 'finding', FLEET_FINDINGS);
    return out;
  },

  exportAudit(input) {
    const obj = objectWith('exportAudit', input, ['format']);
    return { format: oneOf('exportAudit', obj, 'format', ['csv', 'json'] as const) };
  },

  planBatch: (input) => batchPayload('planBatch', input),

  startBatch(input) {
    const obj = objectWith('startBatch', input, [...BATCH_FIELDS, 'confirm']);
    const { confirm, ...rest } = obj;
    const payload: StartBatchPayload = batchPayload('startBatch', rest);
    if (confirm !== undefined) payload.confirm = text('startBatch', obj, 'confirm', 100);
    return payload;
  },

  getBatch(input) {
    const obj = objectWith('getBatch', input, ['page', 'pageSize', 'status']);
    const out: GetBatchPayload = {};
    if (obj.page !== undefined) out.page = whole('getBatch', obj, 'page', 1, 100_000);
    if (obj.pageSize !== undefined) out.pageSize = whole('getBatch', obj, 'pageSize', 0, FLEET_PAGE_SIZE_MAX);
    if (obj.status !== undefined) out.status = oneOf('getBatch', obj, 'status', BATCH_ITEM_STATUSES);
    return out;
  },

  cancelBatch: empty('cancelBatch'),
};
