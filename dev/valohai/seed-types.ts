/** What a Valohai emulator starts with. Everything not given is generated (UUIDs, integer ids). */

export interface ValohaiSeedUser {
  username: string;
  email: string;
  /** API tokens (`Authorization: Token <token>`). */
  tokens: string[];
  /**
   * What `GET /projects/ownership_options/` answers for this user. Default: each organization the
   * user is a member of, then `organization:team` for each of its teams the user is in, then the
   * user's own name.
   */
  ownershipOptions?: string[];
}

export interface ValohaiSeedOrganization {
  name: string;
  /** Usernames of the members. */
  members: string[];
  teams?: { name: string; members: string[] }[];
}

export interface ValohaiSeedRepository {
  /** Integer id; generated when absent. */
  id?: number;
  /** `git@bitbucket.org:ws/repo.git`; empty while the repository is not configured. */
  url?: string;
  /** Fetch reference (a branch name); empty means the remote's default branch. */
  ref?: string;
  /** An unencrypted SSH private key (OpenSSH or PEM). */
  sshPrivateKey?: string;
}

export interface ValohaiSeedProject {
  /** UUID; generated when absent. */
  id?: string;
  name: string;
  description?: string;
  /** A username or organization name, optionally `organization:team`. */
  owner: string;
  /**
   * The project's repository settings. Absent: an unconfigured repository (id set, URL empty), as a
   * new project gets. `null`: no repository at all.
   */
  repository?: ValohaiSeedRepository | null;
}

export interface ValohaiSeed {
  users: ValohaiSeedUser[];
  organizations?: ValohaiSeedOrganization[];
  projects?: ValohaiSeedProject[];
}
