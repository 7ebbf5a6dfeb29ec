export { startValohaiEmulator, type RequestLogEntry, type ValohaiEmulator, type ValohaiEmulatorOptions } from './emulator.js';
export { API_BASE, createValohaiRouter } from './routes.js';
export { DuplicateRepositoryIdError, ValohaiState, UnknownValohaiUserError } from './state.js';
export type { CommitView, FetchRecord, ProjectView, RepositoryView } from './state.js';
export { checkPrivateKey, SshPrivateKeyError, type CheckedPrivateKey, type PrivateKeyProblem } from './private-key.js';
export { redactRequestBody, REDACTED } from './redact.js';
export { sshClientFiles, hostKeyOf } from './ssh-client-config.js';
export { demoValohaiCredentials, demoValohaiSeed } from './demo-seed.js';
export type { ValohaiSeed, ValohaiSeedOrganization, ValohaiSeedProject, ValohaiSeedRepository, ValohaiSeedUser } from './seed-types.js';
