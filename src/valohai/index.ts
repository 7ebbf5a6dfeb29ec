export { DEFAULT_VALOHAI_TIMEOUT_MS, isRetryableValohaiError, normaliseHost, ValohaiClient, type ValohaiClientOptions } from './client.js';
export {
  parseDrfError,
  ValohaiAuthError,
  ValohaiError,
  ValohaiNetworkError,
  ValohaiNotFoundError,
  ValohaiRateLimitError,
  ValohaiValidationError,
} from './errors.js';
export type { FetchResult, Project, ValohaiCommit, ValohaiRepository, ValohaiUser } from './types.js';
