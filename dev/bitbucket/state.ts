/**
 * The live state behind the Bitbucket emulator: workspaces, users, credentials, permissions,
 * repositories (real bare git repos on disk) and their access keys. The SSH git host and the Valohai
 * emulator read it through `GitRepoDirectory`, so a key removed through the API stops working at once.
 */
import type { AccessKeyRecord, GitRepoDirectory } from '../contracts';
import type { RepoPermission, WorkspaceRole } from '../seed/seed-types';
import { tryGit } from '../seed/git-cli';
import { writeCommits, type TreeChange } from '../seed/git-writer';
import { branchTip } from './git-reader';
import { AccessKeyFormatError, parseAccessKey } from './access-key-format';
import { ACCOUNT_KEY_MESSAGE, DUPLICATE_KEY_MESSAGE } from './errors';
import { normaliseKeyText } from '../ssh-host/public-key';

export interface WorkspaceRecord {
  slug: string;
  uuid: string;
  name: string;
  createdOn: Date;
}

export interface UserRecord {
  email: string;
  accountId: string;
  uuid: string;
  displayName: string;
  nickname: string;
  /** Account SSH keys as `type base64`. */
  sshKeys: string[];
  createdOn: Date;
}

export interface ApiTokenRecord {
  user: UserRecord;
  token: string;
  scopes: ReadonlySet<string>;
}

export interface AccessTokenRecord {
  token: string;
  kind: 'repository' | 'workspace';
  workspace: WorkspaceRecord;
  repo?: RepoRecord;
  scopes: ReadonlySet<string>;
}

export interface RepoRecord {
  workspace: WorkspaceRecord;
  slug: string;
  uuid: string;
  name: string;
  isPrivate: boolean;
  /** The branch HEAD names; the repository has no main branch yet while that ref is missing. */
  mainBranch: string;
  description: string;
  /** Absolute path of the bare git repository. */
  path: string;
  createdOn: Date;
}

export interface AccessKeyEntry {
  id: number;
  repo: RepoRecord;
  /** `type base64`. */
  key: string;
  comment: string;
  label: string;
  createdOn: Date;
  lastUsed: Date | null;
}

export type AccessKeyConflict = 'duplicate' | 'account-key' | 'key-changed';

export class AccessKeyConflictError extends Error {
  constructor(
    readonly conflict: AccessKeyConflict,
    message: string,
  ) {
    super(message);
    this.name = 'AccessKeyConflictError';
  }
}

export class UnknownRepositoryError extends Error {
  constructor(readonly workspace: string, readonly slug: string) {
    super(`No repository "${workspace}/${slug}" in the emulator state. Add it to the seed first.`);
    this.name = 'UnknownRepositoryError';
  }
}

export class InvalidBranchNameError extends Error {
  constructor(readonly branch: string) {
    super(`"${branch}" is not a valid git branch name (see git check-ref-format). Pick a name without "..", spaces or control characters.`);
    this.name = 'InvalidBranchNameError';
  }
}

export interface PushCommitInput {
  branch: string;
  message: string;
  /** Text content per path, or null to delete the file. */
  files?: Record<string, string | null>;
  /** Gitlink commit id per path, or null to remove the gitlink. Write `.gitmodules` yourself in `files`. */
  gitlinks?: Record<string, string | null>;
  /** Where a new branch starts; defaults to the main branch. Ignored when `branch` exists. */
  from?: string;
}

const RANK: Record<RepoPermission, number> = { read: 1, write: 2, admin: 3 };

export function strongerPermission(a: RepoPermission | undefined, b: RepoPermission | undefined): RepoPermission | undefined {
  if (!a) return b;
  if (!b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

export function permissionAtLeast(have: RepoPermission | undefined, need: RepoPermission): boolean {
  return have !== undefined && RANK[have] >= RANK[need];
}

const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Branch names git's check-ref-format accepted: the answer depends on the name alone. */
const checkedBranchNames = new Set<string>();

async function validBranchName(branch: string): Promise<boolean> {
  if (checkedBranchNames.has(branch)) return true;
  const valid = (await tryGit(['check-ref-format', `refs/heads/${branch}`])) !== undefined;
  if (valid && checkedBranchNames.size < 10_000) checkedBranchNames.add(branch);
  return valid;
}

export interface BitbucketStateOptions {
  /** Directory that holds the bare repositories. */
  root: string;
  clock?: () => Date;
}

export class BitbucketState implements GitRepoDirectory {
  readonly root: string;
  clock: () => Date;
  readonly workspaces: WorkspaceRecord[] = [];
  readonly repos: RepoRecord[] = [];
  readonly users: UserRecord[] = [];
  readonly apiTokens: ApiTokenRecord[] = [];
  readonly accessTokens: AccessTokenRecord[] = [];
  readonly memberships: { workspace: WorkspaceRecord; user: UserRecord; role: WorkspaceRole }[] = [];
  readonly repoPermissions: { repo: RepoRecord; user: UserRecord; permission: RepoPermission }[] = [];
  private keys: AccessKeyEntry[] = [];
  private nextKeyId = 1;
  private pushQueues = new Map<RepoRecord, Promise<unknown>>();

  constructor(options: BitbucketStateOptions) {
    this.root = options.root;
    this.clock = options.clock ?? (() => new Date());
  }

  // Lookups: by slug (case-insensitive) or by `{uuid}`, as the API's path parameters allow.

  findWorkspace(ref: string): WorkspaceRecord | undefined {
    return this.workspaces.find((w) => sameId(w.slug, ref) || sameId(w.uuid, ref));
  }

  findRepo(workspace: WorkspaceRecord | string, ref: string): RepoRecord | undefined {
    const ws = typeof workspace === 'string' ? this.findWorkspace(workspace) : workspace;
    if (!ws) return undefined;
    return this.repos.find((r) => r.workspace === ws && (sameId(r.slug, ref) || sameId(r.uuid, ref)));
  }

  findUser(email: string): UserRecord | undefined {
    return this.users.find((u) => sameId(u.email, email));
  }

  workspaceRole(user: UserRecord, workspace: WorkspaceRecord): WorkspaceRole | undefined {
    return this.memberships.find((m) => m.user === user && m.workspace === workspace)?.role;
  }

  /** Permission granted to the user: explicit, or admin for workspace owners. */
  grantedPermission(user: UserRecord, repo: RepoRecord): RepoPermission | undefined {
    const explicit = this.repoPermissions.find((p) => p.user === user && p.repo === repo)?.permission;
    return this.workspaceRole(user, repo.workspace) === 'owner' ? 'admin' : explicit;
  }

  /** What the user can do: the granted permission, and at least read on public repositories. */
  effectivePermission(user: UserRecord, repo: RepoRecord): RepoPermission | undefined {
    const granted = this.grantedPermission(user, repo);
    return repo.isPrivate ? granted : strongerPermission(granted, 'read');
  }

  /**
   * Makes `key` (an authorized_keys line) an SSH key of the account with `email`, as adding it in the
   * account's settings would: from then on it cannot become an access key.
   */
  registerAccountSshKey(email: string, key: string): void {
    const user = this.findUser(email);
    if (!user) throw new Error(`No user "${email}" in the emulator state. Add the user to the seed first.`);
    const { normalized } = parseAccessKey(key);
    if (!user.sshKeys.includes(normalized)) user.sshKeys.push(normalized);
  }

  // Access keys.

  listAccessKeys(repo: RepoRecord): AccessKeyEntry[] {
    return this.keys.filter((k) => k.repo === repo).sort((a, b) => a.id - b.id);
  }

  getAccessKey(repo: RepoRecord, id: number): AccessKeyEntry | undefined {
    return this.keys.find((k) => k.repo === repo && k.id === id);
  }

  /** Adds an access key; throws AccessKeyFormatError or AccessKeyConflictError as Bitbucket would answer 400. */
  addAccessKey(repo: RepoRecord, input: { key: unknown; label?: unknown }): AccessKeyEntry {
    const parsed = parseAccessKey(input.key);
    if (this.users.some((u) => u.sshKeys.includes(parsed.normalized))) {
      throw new AccessKeyConflictError('account-key', ACCOUNT_KEY_MESSAGE);
    }
    if (this.keys.some((k) => k.repo === repo && k.key === parsed.normalized)) {
      throw new AccessKeyConflictError('duplicate', DUPLICATE_KEY_MESSAGE);
    }
    if (input.label !== undefined && typeof input.label !== 'string') {
      throw new AccessKeyFormatError('invalid', 'The "label" field must be a string.', 'label');
    }
    const entry: AccessKeyEntry = {
      id: this.nextKeyId++,
      repo,
      key: parsed.normalized,
      comment: parsed.comment,
      label: input.label ?? '',
      createdOn: this.clock(),
      lastUsed: null,
    };
    this.keys.push(entry);
    return entry;
  }

  /** Changes label and/or comment; a `key` that differs from the stored one is refused. */
  updateAccessKey(entry: AccessKeyEntry, input: { key?: unknown; label?: unknown; comment?: unknown }): AccessKeyEntry {
    let keyComment: string | undefined;
    if (input.key !== undefined) {
      const parsed = parseAccessKey(input.key);
      if (parsed.normalized !== entry.key) {
        throw new AccessKeyConflictError(
          'key-changed',
          'The key of an access key cannot be changed. Delete this access key and add the new key instead.',
        );
      }
      keyComment = parsed.comment || undefined;
    }
    if (input.label !== undefined && typeof input.label !== 'string') {
      throw new AccessKeyFormatError('invalid', 'The "label" field must be a string.', 'label');
    }
    if (input.comment !== undefined && typeof input.comment !== 'string') {
      throw new AccessKeyFormatError('invalid', 'The "comment" field must be a string.', 'comment');
    }
    if (input.label !== undefined) entry.label = input.label;
    const comment = input.comment ?? keyComment;
    if (comment !== undefined) entry.comment = comment;
    return entry;
  }

  deleteAccessKey(entry: AccessKeyEntry): void {
    this.keys = this.keys.filter((k) => k !== entry);
  }

  // GitRepoDirectory.

  bareRepoPath(workspace: string, slug: string): string | undefined {
    return this.findRepo(workspace, slug)?.path;
  }

  accessKeys(workspace: string, slug: string): AccessKeyRecord[] {
    const repo = this.findRepo(workspace, slug);
    return repo ? this.listAccessKeys(repo).map((k) => ({ id: k.id, key: k.key })) : [];
  }

  /** One pass over the access keys rather than a lookup per repository: the SSH host asks on every authentication. */
  repositoriesWithKey(keyText: string): string[] {
    const holding = new Set(this.keys.filter((k) => normaliseKeyText(k.key) === keyText).map((k) => k.repo));
    return holding.size === 0 ? [] : this.repos.filter((r) => holding.has(r)).map((r) => `${r.workspace.slug}/${r.slug}`);
  }

  markKeyUsed(workspace: string, slug: string, keyId: number, when: Date): void {
    const repo = this.findRepo(workspace, slug);
    const entry = repo && this.getAccessKey(repo, keyId);
    if (entry) entry.lastUsed = when;
  }

  // Git history at run time.

  /**
   * Adds one commit to `branch` (created from `from` or the main branch when missing) and returns its
   * id. Pushes to one repository run one after another.
   */
  pushCommit(workspace: string, slug: string, input: PushCommitInput): Promise<string> {
    const repo = this.findRepo(workspace, slug);
    if (!repo) return Promise.reject(new UnknownRepositoryError(workspace, slug));
    const previous = this.pushQueues.get(repo) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.writePush(repo, input));
    this.pushQueues.set(repo, next);
    return next;
  }

  private async writePush(repo: RepoRecord, input: PushCommitInput): Promise<string> {
    // As the API reads tips: from the ref files, remembered while they stay the same.
    const tip = (branch: string) => branchTip(repo.path, branch);
    if (!(await validBranchName(input.branch))) throw new InvalidBranchNameError(input.branch);
    const parent = (await tip(input.branch)) ?? (await tip(input.from ?? repo.mainBranch));
    const changes: TreeChange[] = [];
    for (const [path, content] of Object.entries(input.files ?? {})) {
      changes.push(content === null ? { kind: 'delete', path } : { kind: 'file', path, content });
    }
    for (const [path, sha] of Object.entries(input.gitlinks ?? {})) {
      changes.push(sha === null ? { kind: 'delete', path } : { kind: 'gitlink', path, sha });
    }
    const [sha] = await writeCommits(repo.path, [
      { branch: input.branch, parent, message: input.message, date: this.clock(), changes },
    ]);
    return sha as string;
  }
}
