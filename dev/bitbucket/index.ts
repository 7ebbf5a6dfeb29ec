export { startBitbucketEmulator, createBitbucketRouter, API_BASE, DEFAULT_RATE_LIMIT_PER_HOUR } from './emulator';
export type { BitbucketEmulator, BitbucketEmulatorOptions, RequestLogEntry } from './emulator';
export { BitbucketState, AccessKeyConflictError, UnknownRepositoryError, InvalidBranchNameError } from './state';
export type { AccessKeyEntry, PushCommitInput, RepoRecord, UserRecord, WorkspaceRecord } from './state';
export { AccessKeyFormatError, parseAccessKey } from './access-key-format';
export { BITBUCKET_ROUTES, type RouteRequirement } from './route-table';
export { RateLimiter } from './rate-limit';
export { credentialIdOf } from './auth';
export {
  ACCOUNT_KEY_MESSAGE,
  DUPLICATE_KEY_MESSAGE,
  NO_CONTENT_TYPE,
  NOT_VISIBLE_MESSAGE,
  RATE_LIMIT_MESSAGE,
  RETIRED_CHANGE,
  WRONG_MECHANISM_MESSAGE,
} from './errors';
