export { DEFAULT_VALOHAI_HOST, normaliseValohaiHost, parseValohaiHost } from './host';
export { DEFAULT_VALOHAI_TIMEOUT_MS, isRetryableValohaiError, normaliseHost, ValohaiClient, type ValohaiClientOptions } from './client';
export {
  parseDrfError,
  ValohaiAuthError,
  ValohaiError,
  ValohaiNetworkError,
  ValohaiNotFoundError,
  ValohaiRateLimitError,
  ValohaiRepositoryWriteError,
  ValohaiValidationError,
} from './errors';
export type { FetchResult, Project, ValohaiCommit, ValohaiRepository, ValohaiUser } from './types';
export {
  describeVerdict,
  judgeRepositoryWrite,
  KEY_MADE_IN_VALOHAI,
  REPOSITORY_WRITE_FIELDS,
  type RepositoryField,
  type RepositoryWriteMetadata,
  type RepositoryWriteVerdict,
} from './repository-write';
