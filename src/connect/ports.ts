/**
 * The ports the workflows run over. The real Bitbucket and Valohai clients satisfy them structurally;
 * the Forge app, the CLI, the preview and the tests wire their own implementations of the rest.
 */
import type { LabelMaker } from './label';
import type { Authority } from './trust';
import type { KeyType, RecordedKeyType } from './types';

export interface RepositoryInfo {
  uuid: string;
  slug: string;
  fullName: string;
  workspace: string;
  mainBranch: string | null;
  sshUrl: string;
  /** False for a public repository, which git fetches over https without credentials; unknown is private. */
  isPrivate?: boolean;
}

export interface AccessKeyInfo {
  id: number;
  /** `type base64`, comment stripped. */
  key: string;
  label: string;
  createdOn?: string;
  lastUsed: string | null;
}

export interface BitbucketApi {
  getRepository(workspace: string, repo: string): Promise<RepositoryInfo>;
  getBranchHead(workspace: string, repo: string, branch: string): Promise<string>;
  getFileAtCommit(workspace: string, repo: string, commit: string, path: string): Promise<string | undefined>;
  listAccessKeys(workspace: string, repo: string): Promise<AccessKeyInfo[]>;
  addAccessKey(workspace: string, repo: string, key: { key: string; label: string }): Promise<AccessKeyInfo>;
  deleteAccessKey(workspace: string, repo: string, id: number): Promise<'deleted' | 'absent'>;
}

export interface ValohaiProjectInfo {
  id: string;
  name: string;
  owner?: string;
  repository: { id: number; url: string; ref: string } | null;
}

export interface ValohaiCommitInfo {
  identifier: string;
  ref?: string;
  commitTime?: string;
}

export interface ValohaiApi {
  findProject(idOrOwnerSlashName: string): Promise<ValohaiProjectInfo>;
  /**
   * The preflight of setRepository: throws, naming what Valohai offers, unless Valohai's repository
   * settings take the fields the app writes. Reads only; workflows call it before any Bitbucket change.
   */
  checkRepositoryWrite(repositoryId: number): Promise<void>;
  setRepository(repositoryId: number, settings: { url: string; ref: string; sshPrivateKey: string }): Promise<void>;
  /**
   * For a key made in Valohai: whether its repository settings take the URL and fetch reference. Reads
   * only; false (not an error) when they do not, and the admin enters them in Valohai instead.
   */
  repositoryLocationWritable(repositoryId: number): Promise<boolean>;
  /** The URL and fetch reference only: never a key. Called only where repositoryLocationWritable said yes. */
  setRepositoryLocation(repositoryId: number, settings: { url: string; ref: string }): Promise<void>;
  clearRepositoryKey(repositoryId: number): Promise<void>;
  fetchRepository(projectId: string): Promise<{ commits: ValohaiCommitInfo[]; errors: string[] }>;
  listCommits(projectId: string, limit?: number): Promise<ValohaiCommitInfo[]>;
}

export interface GeneratedKey {
  type: KeyType;
  bits: number;
  /** Lives only in memory, on its way to Valohai. */
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

export type KeyGenerator = (opts: { type: KeyType; comment: string }) => Promise<GeneratedKey>;

export interface Clock {
  now(): Date;
}

/** What is remembered about a connection. Never a private key. */
export interface ConnectionRecord {
  /** `workspace/slug` of the superproject. */
  repository: string;
  projectId: string;
  projectName: string;
  fingerprint: string;
  /** `type base64` of the current public key. */
  publicKey: string;
  keyType: RecordedKeyType;
  label: string;
  createdAt: string;
  ref: string;
  /**
   * Whether the key goes on submodule repositories: the choice made when a person connected. Absent on
   * records made before it was kept (they were made with submodules). Check, repair and rotate honour it.
   */
  submodules?: boolean;
  /**
   * The repositories a person chose and was authorised for (connect, or an interactive rotate): work
   * that nobody started may put the key back on these and on no other.
   */
  targets: { repository: string; keyId: number | null }[];
  /**
   * Public keys (`type base64`) this app made for the connection that are no longer current but may
   * still be on a repository: removed wherever found once the current key is verified. A key is the
   * connection's only if it is `publicKey` or listed here.
   */
  retired?: string[];
  lastSync?: { at: string; commits: string[]; errors: string[] };
  /**
   * Where the key pair was made: 'valohai' when Valohai generated it (Settings › Repository › Generate
   * SSH Key) and the app was given its public half only, so the app never wrote a key to Valohai and a
   * new key needs a person to make one there. Absent: the app (or the CLI) made it.
   */
  keySource?: 'valohai';
}

export interface ConnectionStore {
  get(repository: string, projectId: string): Promise<ConnectionRecord | undefined>;
  put(record: ConnectionRecord): Promise<void>;
  delete(repository: string, projectId: string): Promise<void>;
}

/** Serialises workflows on one repository: two runs at once end in one consistent connection. */
export interface Lock {
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface WorkflowDeps {
  bitbucket: BitbucketApi;
  valohai: ValohaiApi;
  generateKey: KeyGenerator;
  clock?: Clock;
  store?: ConnectionStore;
  lock?: Lock;
  /** Decides which targets the person acting may give the key to; checked before anything changes. */
  authority: Authority;
  /** Parallel Bitbucket requests at most (default 8). */
  concurrency?: number;
  /** Requests the Bitbucket credentials may still make this hour, when known: a plan that needs more is refused. */
  budget?: RequestBudget;
  /** Who labels the keys this run adds (label.ts): the app (the default) or the CLI. */
  labelMaker?: LabelMaker;
}

export interface RequestBudget {
  /** Requests left in the current window, or undefined when unknown. */
  remaining(): number | undefined;
  /** When `needed` requests fit (null: never, or unknown). */
  fitsAt?(needed: number): Date | null;
}
