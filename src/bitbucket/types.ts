/** What the Bitbucket client returns: Bitbucket's JSON reduced to the fields the workflows use. */

export interface Repository {
  /** `{uuid}` with braces, as Bitbucket writes it. */
  uuid: string;
  slug: string;
  name: string;
  /** `workspace/slug`. */
  fullName: string;
  /** Workspace slug. */
  workspace: string;
  isPrivate: boolean;
  /** Null on an empty repository. */
  mainBranch: string | null;
  /** `git@bitbucket.org:workspace/slug.git`: the form Valohai wants. */
  sshUrl: string;
  /** `https://bitbucket.org/workspace/slug.git`, without the account name Bitbucket puts in it. */
  httpsUrl: string;
  htmlUrl: string;
}

export interface AccessKey {
  id: number;
  /** `type base64`, comment stripped. */
  key: string;
  label: string;
  comment?: string;
  createdOn?: string;
  lastUsed: string | null;
  /** `workspace/slug` of the repository the key is on. */
  repository?: string;
}

export type RepositoryPermission = 'admin' | 'write' | 'read' | 'none';

export interface BitbucketUser {
  accountId: string;
  displayName: string;
  nickname?: string;
}
