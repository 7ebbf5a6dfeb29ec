/** The repository settings page: the connection, the manual path and the jobs that change them. */
import type { KeyType, OtherConnectionKey, ProgressEvent, RecordedKeyType, Target, Warning, WorkflowResult } from '../../connect/types';
import type { HealthView } from './health';

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
  /** null on an empty repository (no commits yet), or when the app could not read the repository just now. */
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

/**
 * A connection of this repository that the app does not record: most likely one made with the CLI,
 * which keeps its own records. Valohai's project fetches this repository, and (once its keys are
 * listed) access keys labelled for the project are on it. Connect refuses to replace it; Adopt does.
 */
export interface OtherConnection {
  project: { id: string; name: string; url: string | null };
  /** The fetch reference Valohai's settings name, when set. */
  ref: string | null;
  /**
   * Its access keys as the stored API token listed them (the connect preview, or a connect that
   * refused), the repository's own first: null while not listed (a page load lists no keys), empty when
   * none labelled for the project is on the repository.
   */
  keys: OtherConnectionKey[] | null;
}

export type { OtherConnectionKey };

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
  /**
   * Valohai's project fetches this repository, yet the app records no connection of it: read from the
   * project list the page loads anyway (no request of the stored token), so its keys are not known yet.
   */
  otherConnection?: OtherConnection;
}

export interface AccessKeyStatus {
  /** `workspace/slug`. */
  repository: string;
  /**
   * 'present' or 'missing' as Bitbucket listed the repository's keys when the app last looked
   * (`keysSeenAt`); 'unchecked' when it never has (no API token is stored, or a connection made by hand).
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
  keyType: RecordedKeyType;
  /** Who made the key pair: the app, or Valohai (the app was given its public half only). */
  keySource: 'app' | 'valohai';
  /** `SHA256:...` as OpenSSH prints it. */
  fingerprint: string;
  /** ISO time the key was created. */
  createdAt: string;
  keyAgeDays: number;
  accessKeys: AccessKeyStatus[];
  /**
   * When the app last listed the keys (the last connect, rotate, Verify or check): the page is read
   * from storage and spends none of the token's hour; Verify lists them again.
   */
  keysSeenAt?: string | null;
  /**
   * The commit Valohai's last fetch found for `ref` (what `sync` is read from), and when that fetch
   * was; null when no fetch was checked against the head. Beside it, Bitbucket's head of `ref`.
   */
  valohaiCommit: { identifier: string; fetchedAt: string | null } | null;
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
  keyType: RecordedKeyType;
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
  /**
   * After a disconnect done without an API token: the access keys the admin still removes by hand,
   * kept until they say it is done (the app cannot see Bitbucket's keys to tell). Admins only.
   */
  leftByHand?: LeftByHandView;
}

export interface LeftByHandView {
  /** When the connection was disconnected. */
  at: string;
  projectName: string;
  label: string;
  fingerprint: string;
  repositories: { repository: string; accessKeysUrl: string }[];
}

export interface PreviewConnectPayload {
  /** Omitted: the main branch. */
  ref?: string;
  submodules: boolean;
  /**
   * The Valohai project chosen: when it fetches this repository already, the preview lists the keys on
   * each repository with the stored token (one request each) to find the connection that holds it.
   */
  projectId?: string;
}

/** What connect would touch, read before anything changes. */
export interface ConnectPreview {
  ref: string;
  headCommit: string | null;
  sshUrl: string;
  targets: ManualTarget[];
  warnings: Warning[];
  /** The connection the chosen project has here already, made outside the app (see PreviewConnectPayload.projectId). */
  otherConnection?: OtherConnection;
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
  /**
   * The public half of a key made in Valohai (Settings › Repository › Generate SSH Key): the app puts it
   * on the repositories and never writes a key to Valohai; `keyType` is then ignored.
   */
  publicKey?: string;
  /**
   * Take over the connection of this repository and project made outside the app (with the CLI): the
   * app's own new key replaces the one Valohai holds for it, and its access keys stay on Bitbucket.
   * Without it, such a connection stops connect before anything changes. An existing project only, with
   * a key the app makes.
   */
  adopt?: boolean;
};

/** Same choices as a connect; the job stops once the key pair exists and the page shows `manual`. */
export type StartManualConnectPayload = StartConnectPayload;

export interface StartRotatePayload {
  /** Omitted: keep the current key type. */
  keyType?: KeyType;
  /** A connection whose key Valohai made: the public half of the new key generated there (required then). */
  publicKey?: string;
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
