/** Why a repository URL was refused. Stable codes: callers and tests branch on them. */
export type InvalidRepoUrlReason =
  | 'empty'
  | 'too-long'
  | 'control-characters'
  | 'unsupported-scheme'
  | 'local-path'
  | 'bad-host'
  | 'bad-port'
  | 'query-or-fragment'
  | 'not-a-bitbucket-repository'
  | 'bad-workspace-or-slug';

/**
 * A string that is not a usable repository URL. `url` is the input with any password replaced by
 * `***` (and cut short when huge), so the error can be shown or logged as it is.
 */
export class InvalidRepoUrlError extends Error {
  override readonly name = 'InvalidRepoUrlError';

  constructor(
    readonly reason: InvalidRepoUrlReason,
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}

/** What is wrong on a `.gitmodules` line. Stable codes: callers and tests branch on them. */
export type GitmodulesSyntaxReason =
  | 'nul-byte'
  | 'bad-section-header'
  | 'invalid-key'
  | 'unexpected-character'
  | 'unterminated-quote'
  | 'bad-escape'
  | 'missing-value';

/**
 * `.gitmodules` text that git itself would refuse ("bad config line N"). `line` is 1-based; the
 * message names it and says how to fix the line. Values are never quoted: a URL may hold a password.
 */
export class GitmodulesSyntaxError extends Error {
  override readonly name = 'GitmodulesSyntaxError';

  constructor(
    readonly reason: GitmodulesSyntaxReason,
    readonly line: number,
    message: string,
  ) {
    super(`.gitmodules line ${line}: ${message}`);
  }
}

/** `.gitmodules` larger than the parser accepts; real ones are a few hundred bytes. */
export class GitmodulesTooLargeError extends Error {
  override readonly name = 'GitmodulesTooLargeError';

  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `.gitmodules is ${bytes} bytes, more than the ${limit} bytes accepted. ` +
        'A .gitmodules file lists submodules in a few lines each: check that the file committed under that name is the right one.',
    );
  }
}

/**
 * A relative submodule URL that climbs above the superproject URL (`../` more often than the URL has
 * components). git refuses it too ("cannot strip one component off url").
 */
export class RelativeUrlError extends Error {
  override readonly name = 'RelativeUrlError';

  constructor(
    readonly superprojectUrl: string,
    readonly submoduleUrl: string,
    message: string,
  ) {
    super(message);
  }
}
