/**
 * The declarative description of a Bitbucket Cloud world: workspaces, users, credentials, permissions
 * and repositories with their git history. `buildSeed()` turns one into real bare git repositories
 * plus the live state the emulators share. Users are referred to by email everywhere, the way Basic
 * auth names them.
 */

export type RepoPermission = 'admin' | 'write' | 'read';

/** Workspace membership roles; owners administer every repository of the workspace. */
export type WorkspaceRole = 'owner' | 'collaborator' | 'member';

export interface SeedUser {
  email: string;
  /** Atlassian account id, e.g. `712020:5e0d1c1a-...`. */
  accountId: string;
  /** `{...}` with braces; derived from the email when absent. */
  uuid?: string;
  displayName: string;
  nickname: string;
  /** The user's own account SSH keys (authorized_keys lines); these can never become access keys. */
  sshKeys?: string[];
}

export interface SeedApiToken {
  /** Email of the owning user: Basic auth is `email:token`. */
  email: string;
  token: string;
  /** Atlassian scopes, e.g. `read:repository:bitbucket`. */
  scopes: string[];
}

/**
 * A repository or workspace access token (Bearer). It reaches the repositories it is bound to with the
 * access its scopes give, and is refused on API-token-only routes such as access keys.
 */
export interface SeedAccessToken {
  token: string;
  kind: 'repository' | 'workspace';
  workspace: string;
  /** Repository slug, for `kind: 'repository'`. */
  repo?: string;
  scopes: string[];
}

export interface SeedMembership {
  workspace: string;
  email: string;
  role: WorkspaceRole;
}

export interface SeedRepoPermission {
  workspace: string;
  repo: string;
  email: string;
  permission: RepoPermission;
}

/** Where a submodule's gitlink points: the tip of a branch of a seeded repo, or a fixed commit id. */
export type SeedSubmoduleTarget = { repo: string; branch?: string } | { sha: string };

export interface SeedSubmodule {
  /** Path of the gitlink in the superproject. */
  path: string;
  /** The `url` line written to `.gitmodules`, verbatim. */
  url: string;
  /** Section name; defaults to `path`. */
  name?: string;
  branch?: string;
  /** `repo` is `workspace/slug` of a seeded repository. */
  target: SeedSubmoduleTarget;
}

export interface SeedCommit {
  message: string;
  /** Files changed by this commit: text content, or null to delete. Paths may be nested (`a/b/c.txt`). */
  files?: Record<string, string | null>;
  /**
   * Submodules added or moved by this commit. `.gitmodules` is regenerated from every submodule the
   * branch has so far, unless this commit writes `.gitmodules` itself in `files`.
   */
  submodules?: SeedSubmodule[];
  /** ISO date; defaults to a fixed date that advances one minute per commit. */
  date?: string;
}

export interface SeedBranch {
  name: string;
  /** Branch to start from (its tip after its own commits); defaults to the main branch. */
  from?: string;
  commits: SeedCommit[];
}

export interface SeedAccessKey {
  /** authorized_keys line. */
  key: string;
  label: string;
}

export interface SeedRepo {
  slug: string;
  uuid?: string;
  name?: string;
  /** Defaults to true. */
  isPrivate?: boolean;
  /** Defaults to `main`. */
  mainBranch?: string;
  description?: string;
  /** Commits on the main branch, oldest first. None means an empty repository. */
  commits?: SeedCommit[];
  branches?: SeedBranch[];
  /** Access keys present from the start. */
  accessKeys?: SeedAccessKey[];
}

export interface SeedWorkspace {
  slug: string;
  uuid?: string;
  name?: string;
  repos: SeedRepo[];
}

export interface Seed {
  workspaces: SeedWorkspace[];
  users: SeedUser[];
  apiTokens?: SeedApiToken[];
  accessTokens?: SeedAccessToken[];
  memberships?: SeedMembership[];
  repoPermissions?: SeedRepoPermission[];
}
