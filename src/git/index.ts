export { parseRepoUrl, bitbucketSshUrl, toSshUrl, BITBUCKET_HOST } from './repo-url.js';
export type { ParsedRepoUrl, RepoUrlProtocol } from './repo-url.js';
export { parseGitmodules, DEFAULT_GITMODULES_MAX_BYTES } from './gitmodules.js';
export type { Submodule, ParseGitmodulesOptions } from './gitmodules.js';
export { resolveSubmoduleUrl, isRelativeSubmoduleUrl } from './relative-url.js';
export { submoduleTargets } from './submodule-targets.js';
export type { SubmoduleTarget, SubmoduleTargets, SubmoduleWarning, SubmoduleWarningCode } from './submodule-targets.js';
export { redactUrl } from './redact-url.js';
export {
  InvalidRepoUrlError,
  GitmodulesSyntaxError,
  GitmodulesTooLargeError,
  RelativeUrlError,
} from './errors.js';
export type { InvalidRepoUrlReason, GitmodulesSyntaxReason } from './errors.js';
