/**
 * What the backend stores, by key (see keys.ts). None of these records ever holds a token or a
 * private key: secrets live in the SecretStore only, and private keys nowhere.
 */
import type { ConnectionRecord, KeyType, ProgressEvent, Warning, WorkflowResult } from '../../connect/index';
import type {
  JobKind,
  JobStatus,
  ManualCheck,
  ManualTarget,
  ResolverError,
  StartConnectPayload,
  StartRotatePayload,
} from '../contract';

/** The non-secret half of the workspace's credentials, for the workspace page. */
export interface WorkspaceSummary {
  valohai?: { host: string; username: string | null; savedAt: string; expiresOn?: string | null; problem?: ResolverError };
  bitbucket?: {
    email: string;
    accountName: string | null;
    /** The token's Atlassian account; absent on records stored before it was kept. */
    accountId?: string | null;
    missingScopes: string[];
    /** Whether the token's account is an admin of this workspace; null when the token could not say. */
    workspaceAdmin?: boolean | null;
    savedAt: string;
    /** `YYYY-MM-DD` the admin gave as the token's expiry; null or absent when none was given. */
    expiresOn?: string | null;
    problem?: ResolverError;
  };
}

/** Secret values, only ever in the SecretStore. */
export interface ValohaiSecret {
  host: string;
  token: string;
}

export interface BitbucketSecret {
  email: string;
  token: string;
}

/**
 * One repository's connection, keyed by its UUID (a rename keeps it). `record` is what the engine
 * remembers (ConnectionStore); the rest is what the pages show.
 */
export interface LastFetch {
  at: string;
  /** Valohai fetched without errors (and, where `head` is set, lists that commit). */
  ok: boolean;
  /** Bitbucket's head of the fetch reference at the time, when the fetch was checked against it. */
  head: string | null;
  /** The commit Valohai was seen to have, when checked. */
  fetched: string | null;
  errors: string[];
}

export interface StoredConnection {
  workspaceUuid: string;
  repositoryUuid: string;
  /**
   * 'automatic': keys were added with the stored API token. 'manual': the admin pastes the key.
   * 'manual-pending' waits for that paste; 'connected' fetched and verified at least once (or was set
   * up by the engine).
   */
  mode: 'automatic' | 'manual';
  state: 'manual-pending' | 'connected';
  submodules: boolean;
  projectOwner: string | null;
  /** The public key line to paste, comment included (manual mode). */
  publicKeyLine: string | null;
  /** Repositories the key must be on, with their access-key pages (manual mode). */
  manualTargets: ManualTarget[];
  warnings: Warning[];
  verifiedAt: string | null;
  lastPushFetch: { at: string; commits: number; errors: string[] } | null;
  /**
   * Valohai's last fetch on the app's request (connect, rotate, verify or a push): the page's sync state
   * is read from it, never from the newest commit Valohai ever stored. Absent on records made before it.
   */
  lastFetch?: LastFetch | null;
  /**
   * Set when a workspace admin moved this connection's Valohai project to another repository of the
   * workspace: `to` is that repository, `fetches` its SSH URL. The keys stay until this one disconnects.
   */
  movedAway?: { to: string; fetches: string; at: string } | null;
  /** Manual mode: what the last Verify that Bitbucket refused found on each repository. */
  manualCheck?: ManualCheck | null;
  /**
   * The Atlassian account that made the connection. Automatic work (drift repair, a new submodule
   * repository's key, automatic rotation) acts for this account, and only where it may itself: checked
   * with Bitbucket's permission API each time. Absent on records made before it was kept: then nothing
   * is added automatically, and the page says an admin is needed.
   */
  connectedBy?: string | null;
  /**
   * `sha256:` of `.gitmodules` at the fetch reference's head as the last push found it (`sha256:` of
   * nothing when there was none). A push that changes it runs a check before Valohai fetches, so a new
   * submodule repository gets the key first; absent: unknown, and the next push checks.
   */
  gitmodulesHash?: string | null;
  /**
   * Recorded targets the latest full check found Valohai no longer fetches (a submodule removed from
   * `.gitmodules`). They stay in `record.targets`, so disconnect still removes the key there, and the
   * connection's current key on them may be removed on its own (one click, or the policy).
   */
  unneededTargets?: string[];
  /**
   * The connection's keys as the app last listed them with the stored token (a connect, rotate, Verify or
   * check): the page shows these, with their time, and spends none of the token's hour to load.
   */
  keysSeen?: KeysSeen | null;
  record: ConnectionRecord;
}

export interface KeysSeen {
  at: string;
  keys: { repository: string; present: boolean; id: number | null; lastUsed: string | null }[];
}

export type JobInput =
  | { kind: 'connect'; choices: StartConnectPayload }
  /**
   * `authorised`: lower-case `workspace/slug` of each repository the caller was found to administer when
   * the job was started (the job has no caller to ask); absent in a job queued before the check, which
   * then refuses every repository.
   */
  | { kind: 'manual-connect'; choices: StartConnectPayload; authorised?: string[] }
  /** `automatic`: started by the workspace's key-age policy, not by a person (its outcome joins the connection's health). */
  | { kind: 'rotate'; choices: StartRotatePayload; automatic?: boolean }
  | { kind: 'disconnect' | 'verify' | 'manual-verify' | 'manual-discard' };

export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** In the order they happened; a step id once, with its latest status. */
  steps: ProgressEvent[];
  /** How many steps the workflow expects in all, from its latest progress event that said. */
  plannedSteps?: number;
  workspaceUuid: string;
  repositoryUuid: string;
  /** `workspace/slug` when the job was started. */
  repository: string;
  /** Who started it (Atlassian account id). */
  accountId: string;
  input: JobInput;
  createdAt: string;
  startedAt?: string;
  /**
   * When the latest attempt began, when the one before it died mid-run (Forge redelivered the event
   * after a timeout): the job's lifetime counts from here.
   */
  resumedAt?: string;
  /** How many runs the job has had (absent: one). */
  attempts?: number;
  finishedAt?: string;
  result?: WorkflowResult;
  error?: string;
  /** The bulk action that started it: told when the job ends. */
  batchId?: string;
  /** Requests the job made, recorded when it ends (a bulk action counts them against its budget). */
  requests?: { bitbucketToken: number; bitbucketApp: number; valohai: number };
  /**
   * Set on a job that did not finish and whose stored-token request was refused by the token's hour
   * (Bitbucket's 429, or the app's ledger): when unattended work may send again. A bulk action runs its
   * repository again from then.
   */
  tokenHourUntil?: string;
}

/** Points at the job that holds a repository's one job slot. */
export interface ActiveJobPointer {
  jobId: string;
  kind: JobKind;
  createdAt: string;
}

export interface PushState {
  lastPushAt: string;
}

export interface PushQueuedMarker {
  queuedAt: string;
}

export function keyTypeOfLine(line: string): KeyType {
  return line.trim().startsWith('ssh-ed25519') ? 'ed25519' : 'rsa';
}
