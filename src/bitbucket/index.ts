export { BitbucketClient, isRetryableBitbucketError, type BitbucketClientOptions } from './client';
export {
  AccessKeyAlreadyPresentError,
  API_TOKEN_URL,
  BitbucketAuthError,
  BitbucketBadRequestError,
  BitbucketError,
  BitbucketForbiddenError,
  BitbucketMalformedResponseError,
  BitbucketNetworkError,
  BitbucketNotFoundError,
  BitbucketRateLimitError,
  errorForResponse,
  REQUIRED_SCOPES,
  type BitbucketErrorCode,
} from './errors';
export { normaliseSshUrl } from './map';
export {
  createFetchTransport,
  DEFAULT_BITBUCKET_TIMEOUT_MS,
  type BitbucketMethod,
  type BitbucketRequest,
  type BitbucketResponse,
  type BitbucketTransport,
  type FetchTransportOptions,
} from './transport';
export type { AccessKey, BitbucketUser, Repository, RepositoryPermission } from './types';
export { RateBudget } from './rate-budget';
export { accountWorkspaceRole, type WorkspaceRole } from './workspace';
