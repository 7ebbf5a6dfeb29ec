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
  BranchNotFoundError,
  BitbucketRateLimitError,
  BitbucketRetiredApiError,
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
export {
  aboutTime,
  addSpend,
  allowance,
  BACKOFF_MINUTES,
  backoffUntil,
  emptyHour,
  fitsAt,
  mergeHours,
  spentInHour,
  TOKEN_REQUESTS_PER_HOUR,
  timedOut,
  TokenHourSpentError,
  TokenMeter,
  TokenRequestHeldError,
  UNATTENDED_SHARE,
  type HourSpent,
  type Spender,
  type TokenHour,
  type TokenHourStore,
} from './token-hour';
export { countRequests, hooked, meterRequests, noteRefusal, type BitbucketHooks, type MeterOptions } from './hooks';
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
  countAccessKeys,
  callerRepositoryPermission,
  isMissingScopeError,
  PERMISSION_BATCH,
  probeAccessKeyScopes,
  type PermissionRead,
  type ScopeProbe,
} from './permissions';
