export { startSshGitHost, type SshGitHost, type SshGitHostOptions } from './ssh-git-host';
export { parseGitCommand, type GitCommand, type GitService } from './git-command';
export { ACCESS_KEY_READ_ONLY, INVALID_COMMAND, KEY_NOT_ON_REPOSITORY, repositoryNotFound } from './messages';
export { blobToKeyText, normaliseKeyText, sha256Fingerprint } from './public-key';
