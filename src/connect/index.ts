export * from './types';
export * from './ports';
export { connect, rotate, AccessCheckError, type ConnectInput } from './install';
export { disconnect, type DisconnectInput } from './disconnect';
export { status, KEY_AGE_ALERT_DAYS, KEY_AGE_WARNING_DAYS, type StatusResult } from './status';
export { sync, type SyncResult } from './sync';
export { discover, type Plan } from './discover';
export { accessKeyLabel, isLabelFor } from './label';
export { authorise, ownCredentials, NotAuthorisedError, type Authority, type RefusalReason, type TargetVerdict } from './trust';
