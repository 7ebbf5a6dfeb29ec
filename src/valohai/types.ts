/** What the Valohai client returns: Valohai's JSON reduced to the fields the workflows use. */

export interface ValohaiUser {
  id?: number | string;
  username: string;
  email?: string;
}

export interface ValohaiRepository {
  id: number;
  url: string;
  ref: string;
}

export interface Project {
  /** A UUID. */
  id: string;
  name: string;
  /** The owner's username (an organization, or a user). */
  owner?: string;
  repository: ValohaiRepository | null;
}

export interface ValohaiCommit {
  /** The git commit SHA. */
  identifier: string;
  ref?: string;
  refNames?: string[];
  commitTime?: string;
}

export interface FetchResult {
  /** Commits new to Valohai with this fetch. */
  commits: ValohaiCommit[];
  /** Non-empty means the fetch failed (Valohai reports key and URL problems here with a 2xx). */
  errors: string[];
}
