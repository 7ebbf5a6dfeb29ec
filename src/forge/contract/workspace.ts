/** The workspace settings page: stored credentials, the repository list and the trust settings. */
import type { ResolverError } from './common';
import type { AutomationView, ConnectionHealth, HealthPolicyView, KeyNotice } from './health';

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
  /** The stored token's hour by the app's count (Bitbucket tells an API token nothing of it). */
  hour?: TokenHourView;
}

/**
 * The stored Bitbucket API token's rolling hour, as the app counts it: every request of every path
 * (pages, actions, checks, push handling, bulk work). Bitbucket allows its user about `limit`.
 */
export interface TokenHourView {
  spent: number;
  /** Of `spent`, what work with nobody at the keyboard sent (it may use at most 60% of the hour). */
  unattended: number;
  limit: number;
  /** Set when the hour is spent: when requests free up again (ISO). */
  resumesAt?: string;
  /** Set after Bitbucket answered 429: automatic work waits until then (ISO). */
  automaticWorkWaitsUntil?: string;
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

/** How a repository stands, as listed on the workspace page. */
export type RepositoryConnectionState = 'not-connected' | 'connected' | 'running' | 'manual' | 'moved-away';

export interface WorkspaceRepository {
  fullName: string;
  name: string;
  state: RepositoryConnectionState;
  /** Valohai project name when connected. */
  projectName: string | null;
  keyAgeDays: number | null;
  /** Who made the connection's key: the app ('app'), or Valohai's Generate SSH Key ('valohai'); absent when not connected. */
  keySource?: 'app' | 'valohai';
  /** The repository's own Valohai settings page, when the resolver can build its address. */
  settingsUrl: string | null;
  /** The latest check's verdict for a connected repository; null when never checked or not connected. */
  health: ConnectionHealth | null;
  /** When Valohai's fetch last verified against Bitbucket's head (connect, rotate, Verify, a push or a check); null: never. */
  lastVerifiedAt: string | null;
}

/** A read of the repository list that failed: the page keeps showing the list it has, with its time. */
export type RepositoriesProblem = ResolverError & { at: string };

/** How long the app uses a repository list it read before it reads the list again on a page load. */
export const REPOSITORY_LIST_FRESH_MINUTES = 10;

/** `getWorkspaceSettings`: `refreshRepositories` reads the repository list now rather than use the one kept. */
export interface WorkspaceSettingsPayload {
  refreshRepositories?: boolean;
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
  /**
   * When the repositories listed were read from Bitbucket: the app keeps the list for a few minutes
   * (REPOSITORY_LIST_FRESH_MINUTES) rather than read it on every load. Null when there is no list.
   */
  repositoriesListedAt: string | null;
  /** Why the latest read of the list failed (and when), when the list shown is older than it or empty. */
  repositoriesProblem: RepositoriesProblem | null;
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
  /**
   * True: store it even though it does less than the working stored token (a scope fewer, not a
   * workspace admin's where the stored one is, another account's). Without it such a save is refused
   * with `worse-token`, naming what would stop working, and the stored token stays.
   */
  confirmWorse?: boolean;
}

export type CredentialKind = 'valohai' | 'bitbucket';

export interface ClearCredentialsPayload {
  which: CredentialKind | 'all';
}

// saveValohaiToken → Reply<ValohaiCredentialSummary> (the token is checked before it is stored;
// a refused token is an `invalid-token` error and nothing is stored).
// saveBitbucketToken → Reply<BitbucketCredentialSummary> (stored even with missing scopes, which
// the summary lists, so that the admin can fix the token without retyping the email; but a token that
// does less than a working stored one is refused with `worse-token` unless `confirmWorse` is true).
// clearCredentials → Reply<WorkspaceSettings>.

/** One line of the set-up check: what was checked, how it stands, what was found and the fix. */
export interface SetupCheckLine {
  check: string;
  title: string;
  status: 'pass' | 'fail' | 'unknown' | 'info';
  found: string;
  fix?: string;
}

/** The set-up check's answer ("Check the set-up" on the workspace page). Nothing was changed. */
export interface SetupCheck {
  lines: SetupCheckLine[];
  /** Requests sent to Bitbucket and Valohai together. */
  requests: number;
  maxRequests: number;
  healthy: boolean;
  /** When it ran (ISO 8601). */
  checkedAt: string;
}
