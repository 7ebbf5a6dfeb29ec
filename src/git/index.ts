export { parseRepoUrl, bitbucketSshUrl, toSshUrl, BITBUCKET_HOST } from './repo-url';
export type { ParsedRepoUrl, RepoUrlProtocol } from './repo-url';
export { parseGitmodules, DEFAULT_GITMODULES_MAX_BYTES } from './gitmodules';
export type { Submodule, ParseGitmodulesOptions } from './gitmodules';
export { resolveSubmoduleUrl, isRelativeSubmoduleUrl } from './relative-url';
export { submoduleTargets } from './submodule-targets';
export type { SubmoduleTarget, SubmoduleTargets, SubmoduleWarning, SubmoduleWarningCode } from './submodule-targets';
export { redactUrl } from './redact-url';
export { branchOfRef, fetchRefProblem, isValidRef, REF_MAX_LENGTH } from './ref';
export {
  InvalidRepoUrlError,
  GitmodulesSyntaxError,
  GitmodulesTooLargeError,
  RelativeUrlError,
} from './errors';
export type { InvalidRepoUrlReason, GitmodulesSyntaxReason } from './errors';
