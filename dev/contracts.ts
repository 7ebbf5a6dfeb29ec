/**
 * What the local stand-ins need from each other. The Bitbucket emulator owns repositories and access
 * keys; the SSH git host and the Valohai emulator read them through these interfaces, live, so that a
 * key deleted through the API stops working on the next SSH connection.
 */

export interface RepoRef {
  workspace: string;
  /** Repository slug. */
  slug: string;
}

export interface AccessKeyRecord {
  id: number;
  /** `type base64`, comment stripped: the form Bitbucket echoes back. */
  key: string;
}

export interface GitRepoDirectory {
  /**
   * Absolute path of the bare git repository behind `workspace/slug` (slugs compared
   * case-insensitively), or undefined when there is no such repository.
   */
  bareRepoPath(workspace: string, slug: string): string | undefined;
  /** The access keys on that repository at this moment (empty when none or no such repo). */
  accessKeys(workspace: string, slug: string): AccessKeyRecord[];
  /** Records that the SSH host served a fetch authenticated with this access key (sets `last_used`). */
  markKeyUsed(workspace: string, slug: string, keyId: number, when: Date): void;
  /**
   * `workspace/slug` of every repository holding this key (`type base64`) as an access key right now, in
   * the directory's order. Optional: a directory that answers it in one pass spares the host asking
   * every repository for its keys on each authentication.
   */
  repositoriesWithKey?(keyText: string): string[];
}

/** Where Valohai's emulator reaches "bitbucket.org" over SSH: the local SSH git host. */
export interface SshGitEndpoint {
  host: string;
  port: number;
  /** A known_hosts line for `[host]:port`, so clients check the host key strictly. */
  knownHostsLine: string;
  /** The host name that git URLs use (bitbucket.org), mapped to host:port through an ssh config. */
  aliasHost: string;
}
