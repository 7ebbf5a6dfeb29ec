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
export { countRequests, hooked, noteRateLimited, noteRefusal, type BitbucketHooks } from './hooks';
export { BITBUCKET_CLOUD_API_ROOT, BITBUCKET_TOKEN_SCOPES } from './account';
export {
  accountWorkspaceRole,
  firstRepositoryPage,
  getWorkspaceMembership,
  listRepositoryPage,
  listWorkspaceRepositories,
  tokenAdministersWorkspace,
  type RepositoryListing,
  type WorkspaceMembership,
  type WorkspaceRepositoryPage,
  type WorkspaceRole,
} from './workspace';
export {
  accountPermissionsIn,
  accountRepositoryPermission,
  callerRepositoryPermission,
  isMissingScopeError,
  PERMISSION_BATCH,
  probeAccessKeyScopes,
  type PermissionRead,
  type ScopeProbe,
} from './permissions';
