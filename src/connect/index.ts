export * from './types.js';
export * from './ports.js';
export { connect, rotate, AccessCheckError, type ConnectInput } from './install.js';
export { disconnect, type DisconnectInput } from './disconnect.js';
export { status, KEY_AGE_ALERT_DAYS, KEY_AGE_WARNING_DAYS, type StatusResult } from './status.js';
export { sync, type SyncResult } from './sync.js';
export { discover, type Plan } from './discover.js';
export { accessKeyLabel, isLabelFor } from './label.js';
