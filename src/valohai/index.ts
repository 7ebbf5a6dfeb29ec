export { DEFAULT_VALOHAI_HOST, normaliseValohaiHost, parseValohaiHost } from './host';
export { DEFAULT_VALOHAI_TIMEOUT_MS, isRetryableValohaiError, normaliseHost, ValohaiClient, type ValohaiClientOptions } from './client';
export {
  parseDrfError,
  ValohaiAuthError,
  ValohaiError,
  ValohaiNetworkError,
  ValohaiNotFoundError,
  ValohaiRateLimitError,
  ValohaiValidationError,
} from './errors';
export type { FetchResult, Project, ValohaiCommit, ValohaiRepository, ValohaiUser } from './types';
