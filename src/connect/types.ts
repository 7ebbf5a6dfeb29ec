/**
 * The shapes the workflows (connect, status, rotate, disconnect, sync) take and return. The Forge
 * resolvers, the CLI and the preview all speak these; nothing here does I/O.
 */

export type KeyType = 'rsa' | 'ed25519';

/** The type of a connection's key: one the app makes, or an ECDSA key Valohai made. */
export type RecordedKeyType = KeyType | 'ecdsa';

/** The type a new key of the app's is made with to follow a recorded one: none for a type the app does not make. */
export function appKeyType(type: RecordedKeyType | undefined): KeyType | undefined {
  return type === 'rsa' || type === 'ed25519' ? type : undefined;
}

/** One repository the connection's key must be on: the superproject or a Bitbucket submodule repo. */
export interface Target {
  workspace: string;
  slug: string;
  /** Lower-case `workspace/slug`, for comparisons. */
  key: string;
  /** How it was reached: 'superproject', or the submodule path chain, e.g. 'libs/training > store'. */
  via: string;
}

export type WarningCode =
  | 'https-submodule'
  | 'foreign-host'
  | 'missing-url'
  | 'invalid-url'
  | 'gitmodules-unreadable'
  | 'submodule-depth'
  | 'key-age-warning'
  | 'key-age-alert'
  | 'orphan-key'
  | 'not-fetched'
  /** A key labelled like this app's that the connection did not record: reported, never used. */
  | 'lookalike-key'
  /** A connection this record does not name (the app's, or the CLI's elsewhere) that connect took over, or would. */
  | 'other-connection'
  /** A repository that became a target after the connection was made (a submodule added since). */
  | 'new-target'
  /** Discovery stopped at one of its caps (submodules per level, in total). */
  | 'submodule-cap'
  /** A target the person acting may not give the key to (shown by the preview; connect refuses it). */
  | 'not-authorised'
  /** The connection's Valohai project now fetches another repository. */
  | 'project-moved'
  /** Disconnect left the key in Valohai's settings (no token, or a key made in Valohai): the admin removes it there. */
  | 'valohai-key-left'
  /** Bitbucket's request limit was reached: what is shown is what the app stored, and when it works again. */
  | 'rate-limited';

export interface Warning {
  code: WarningCode;
  message: string;
  repository?: string;
}

export type StepStatus = 'running' | 'done' | 'failed' | 'undone' | 'skipped';

/** One visible step of a workflow, reported as it happens (CLI progress lines, Forge job records). */
export interface ProgressEvent {
  /** Stable id, e.g. 'read-repository', 'add-key:acme/datasets', 'valohai-fetch'. */
  step: string;
  status: StepStatus;
  /** Human sentence, e.g. "Adding the access key to acme/datasets". Never holds a secret. */
  message: string;
  /**
   * How many steps the workflow expects in all, one per step id (skipped ones included), as known when
   * the event was sent: it may grow once discovery has found the repositories. Absent: not known yet.
   */
  planned?: number;
}

export type ProgressSink = (event: ProgressEvent) => void;

export interface AccessKeyOutcome {
  /** `workspace/slug`. */
  repository: string;
  id: number | null;
  /** 'planned' and 'remove-planned': what a dry run would add and remove. */
  status: 'added' | 'present' | 'deleted' | 'absent' | 'failed' | 'planned' | 'remove-planned';
}

/**
 * One access key of another connection of the repository and project (labelled for the project, and
 * recorded where this run keeps no record: in the app, or with the CLI elsewhere), as connect found it.
 */
export interface OtherConnectionKey {
  label: string;
  fingerprint: string;
  /** Who its label says made it: a claim, not proof. */
  maker: 'app' | 'cli';
  /**
   * Bitbucket saw it used on the repository after every key this run's record names (or, with no
   * record, it was ever used): Valohai's last fetch may have used it.
   */
  live: boolean;
  /** Its last use on the repository, as Bitbucket says; null if never. */
  lastUsed: string | null;
  /** Each repository of the connection that holds it (the repository first), with the key's id there. */
  repositories: { repository: string; id: number; lastUsed: string | null }[];
}

/** The `--json` object of connect/rotate/disconnect, and the result stored on a Forge job. */
export interface WorkflowResult {
  repository: string;
  sshUrl: string;
  ref: string;
  headCommit: string | null;
  keyType: RecordedKeyType | null;
  fingerprint: string | null;
  /** 'valohai' when the connection's key was made in Valohai and the app was given its public half only. */
  keySource?: 'valohai';
  /**
   * A key made in Valohai whose repository settings the app could not confirm it may write: the values
   * to enter there by hand (Settings › Repository), exactly.
   */
  valohaiSettings?: { url: string; ref: string; written: boolean };
  /** The public half (an authorized_keys line), for guided manual mode; never the private half. */
  publicKey?: string;
  accessKeys: AccessKeyOutcome[];
  warnings: Warning[];
  valohai: { projectId: string; repositoryId: number | null; fetchedCommit: string | null };
  verified: boolean;
  /** 'done' (0), 'failed' (1), 'unverified' (3): the CLI's exit status follows from it. */
  outcome: 'done' | 'failed' | 'unverified';
  /** What went wrong, with the fix, when outcome is not 'done'. */
  error?: string;
  /** Precisely what could not be undone, if anything ("key 12 on acme/datasets"). */
  leftovers?: string[];
  /**
   * Another connection of the repository and project that connect or rotate found (input.others): the
   * one it refused to replace (outcome 'failed'), or took over (a warning 'other-connection' says so).
   */
  otherConnection?: OtherConnectionKey[];
}

/** A result with nothing known yet: the starting point every workflow fills in as it goes. */
export function emptyResult(repository: string, projectId: string, ref = ''): WorkflowResult {
  return {
    repository,
    sshUrl: '',
    ref,
    headCommit: null,
    keyType: null,
    fingerprint: null,
    accessKeys: [],
    warnings: [],
    valohai: { projectId, repositoryId: null, fetchedCommit: null },
    verified: false,
    outcome: 'failed',
  };
}

/** What an access-key audit (CLI or app) finds about a key that needs a look. */
export type AuditFindingCode = 'unused' | 'weak' | 'shared' | 'lookalike';

export interface AuditedKey {
  repository: string;
  id: number;
  label: string;
  type: string;
  /** Key size; null where the key could not be read. */
  bits: number | null;
  fingerprint: string;
  createdOn: string | null;
  ageDays: number | null;
  lastUsed: string | null;
  /** The recorded connection whose key this is (its current key, or one it retired that is still here). */
  connection: {
    repository: string;
    projectId: string;
    projectName: string;
    current: boolean;
    /** Who made the key: the app or CLI ('app'), or Valohai's Generate SSH Key ('valohai'). */
    keySource: 'app' | 'valohai';
  } | null;
  /**
   * Labelled for a Valohai project, recorded by no connection here, and seen used by Bitbucket after the
   * keys recorded here for that project (or, with none here, within the unused period): in use by another
   * connection, made where its label says (the app, or the CLI elsewhere). Not a stray, not a finding.
   */
  inUseBy?: 'app' | 'cli';
  findings: AuditFindingCode[];
}
