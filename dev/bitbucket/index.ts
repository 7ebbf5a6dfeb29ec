export { startBitbucketEmulator, createBitbucketRouter, API_BASE, DEFAULT_RATE_LIMIT_PER_HOUR } from './emulator.js';
export type { BitbucketEmulator, BitbucketEmulatorOptions, RequestLogEntry } from './emulator.js';
export { BitbucketState, AccessKeyConflictError, UnknownRepositoryError, InvalidBranchNameError } from './state.js';
export type { AccessKeyEntry, PushCommitInput, RepoRecord, UserRecord, WorkspaceRecord } from './state.js';
export { AccessKeyFormatError, parseAccessKey } from './access-key-format.js';
export { BITBUCKET_ROUTES, type RouteRequirement } from './route-table.js';
export { RateLimiter } from './rate-limit.js';
export { DUPLICATE_KEY_MESSAGE, RATE_LIMIT_MESSAGE, WRONG_MECHANISM_MESSAGE } from './errors.js';
