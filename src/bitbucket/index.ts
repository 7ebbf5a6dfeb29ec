export { BitbucketClient, isRetryableBitbucketError, type BitbucketClientOptions } from './client.js';
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
  REQUIRED_SCOPES,
  type BitbucketErrorCode,
} from './errors.js';
export { normaliseSshUrl } from './map.js';
export {
  createFetchTransport,
  DEFAULT_BITBUCKET_TIMEOUT_MS,
  type BitbucketMethod,
  type BitbucketRequest,
  type BitbucketResponse,
  type BitbucketTransport,
  type FetchTransportOptions,
} from './transport.js';
export type { AccessKey, BitbucketUser, Repository, RepositoryPermission } from './types.js';
