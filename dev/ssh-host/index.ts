export { startSshGitHost, type SshGitHost, type SshGitHostOptions } from './ssh-git-host.js';
export { parseGitCommand, type GitCommand, type GitService } from './git-command.js';
export { ACCESS_KEY_READ_ONLY, INVALID_COMMAND, KEY_NOT_ON_REPOSITORY, repositoryNotFound } from './messages.js';
export { blobToKeyText, normaliseKeyText, sha256Fingerprint } from './public-key.js';
