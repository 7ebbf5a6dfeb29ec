/**
 * Failures as the pages show them: what happened and the fix, never a secret and never a stack trace.
 * Client errors (Bitbucket, Valohai) already carry scrubbed messages; anything unknown becomes a
 * generic 'internal' reply and only its class name is logged.
 */
import {
  BitbucketAuthError,
  BitbucketError,
  BitbucketForbiddenError,
  BitbucketNotFoundError,
  BranchNotFoundError,
  BitbucketRateLimitError,
  BitbucketRetiredApiError,
  aboutTime,
  TokenRequestHeldError,
} from '../bitbucket/index';
import { EmptyRepositoryError, NotAuthorisedError, ProjectInUseError, ProjectMovedError, RequestBudgetError, SubmoduleRepositoryError } from '../connect/index';
import { InvalidPathSegmentError } from '../http/path';
import { inert } from '../http/inert';
import { redact } from '../http/redact';
import { ValohaiAuthError, ValohaiError, ValohaiRateLimitError } from '../valohai/index';
import { InvalidPayloadError, type ResolverError, type ResolverErrorCode } from './contract';
import { InvalidContextIdError } from './store/keys';
import { LockBusyError } from './store/lock';
import { VALOHAI_HOSTS_COMMAND } from './platform/valohai-hosts';

export const WORKSPACE_SETTINGS_HINT = 'Workspace settings › Valohai';

/** A refusal the backend decides itself, with the fix for the page. */
export class ResolverFailure extends Error {
  override readonly name = 'ResolverFailure';
  constructor(
    readonly code: ResolverErrorCode,
    message: string,
    readonly fix: string,
    readonly temporary = false,
  ) {
    super(message);
  }

  toResolverError(): ResolverError {
    return { code: this.code, message: this.message, fix: this.fix, ...(this.temporary ? { temporary: true } : {}) };
  }
}

export const failures = {
  valohaiHostNotAllowed: (host: string, allowed: readonly string[]) =>
    new ResolverFailure(
      'host-not-allowed',
      `This app may not call Valohai at ${host}: as deployed, it may call only ${allowed.join(', ') || 'no Valohai host'}. Nothing was saved.`,
      `Whoever deploys the app adds the host and deploys again: ${VALOHAI_HOSTS_COMMAND} ${new URL(host).hostname}, then npm run build, forge deploy and forge install --upgrade.`,
    ),
  notAdmin: (what: string) =>
    new ResolverFailure('not-admin', `Only ${what} admins can do this.`, `Ask an admin of this ${what} to do it, or to make you an admin.`),
  noAccess: (what: string) =>
    new ResolverFailure('not-admin', `You have no access to this ${what}.`, `Ask an admin of this ${what} for access.`),
  noRepository: () =>
    new ResolverFailure(
      'invalid-payload',
      'This call needs a repository, and the page was not opened from one.',
      'Open the Valohai page from the repository settings.',
    ),
  valohaiNotSetUp: () =>
    new ResolverFailure(
      'not-set-up',
      'No Valohai token is stored for this workspace.',
      `A workspace admin stores one on ${WORKSPACE_SETTINGS_HINT}.`,
    ),
  bitbucketNotSetUp: () =>
    new ResolverFailure(
      'not-set-up',
      'No working Bitbucket API token is stored for this workspace, so access keys cannot be added automatically.',
      `Connect by hand (the page shows the key to paste), or have a workspace admin store an API token on ${WORKSPACE_SETTINGS_HINT}.`,
    ),
  notConnected: () =>
    new ResolverFailure('not-connected', 'This repository is not connected to Valohai.', 'Connect it first.'),
  alreadyConnected: (state: string) =>
    new ResolverFailure(
      'already-connected',
      state === 'manual'
        ? 'A key for connecting by hand is already waiting on this repository.'
        : 'This repository is already connected to Valohai.',
      state === 'manual' ? 'Verify it, or cancel it before starting again.' : 'Rotate or verify the connection, or disconnect it first.',
    ),
  jobRunning: (title: string) =>
    new ResolverFailure(
      'job-running',
      `${title} is already under way on this repository.`,
      'Wait for it to finish; the page shows its progress. Then try again.',
      true,
    ),
  jobNotFound: () =>
    new ResolverFailure('not-found', 'No such job on this repository.', 'Reload the page to see the repository as it is now.'),
};

/** The stored Valohai token is refused: the fix is a new token, by a workspace admin. */
export function valohaiTokenRefused(): ResolverError {
  return {
    code: 'invalid-token',
    message: 'Valohai refused the stored token (401): it was revoked, expired or belongs to a removed user.',
    fix: `A workspace admin creates a new token in Valohai and saves it on ${WORKSPACE_SETTINGS_HINT}.`,
  };
}

export function bitbucketTokenRefused(): ResolverError {
  return {
    code: 'invalid-token',
    message: 'Bitbucket refused the stored API token: it was revoked, expired, or is not an Atlassian API token.',
    fix: `Connect by hand, or have a workspace admin save a new API token on ${WORKSPACE_SETTINGS_HINT}.`,
  };
}

/** Whether Bitbucket refused the credential itself (not the request): then automatic mode cannot work. */
export function isCredentialRefused(err: unknown): boolean {
  return err instanceof BitbucketAuthError || (err instanceof BitbucketForbiddenError && err.code === 'wrong_auth_mechanism');
}

/** A text from a server or a repository as a page may show it: no secret, and controls made visible. */
export function cleanText(text: string, secrets: readonly string[]): string {
  return inert(redact(text, secrets), { keepLines: true });
}

/**
 * Any thrown value as the error a page shows. Messages of the project's own error classes are
 * scrubbed once more against `secrets`, in case a server echoed one, and their control and bidi
 * characters (from a repository's names or a server's words) are made visible.
 */
export function toResolverError(err: unknown, secrets: readonly string[] = []): ResolverError {
  const clean = (text: string) => cleanText(text, secrets);
  if (err instanceof ResolverFailure) return err.toResolverError();
  if (err instanceof InvalidPayloadError) return err.toResolverError();
  if (err instanceof InvalidContextIdError || err instanceof InvalidPathSegmentError) {
    return { code: 'invalid-payload', message: clean(err.message), fix: 'Reload the page from Bitbucket and try again.' };
  }
  if (err instanceof EmptyRepositoryError) {
    return { code: 'bitbucket-error', message: `${err.repository} has no commits yet.`, fix: 'Push a first commit, then try again.' };
  }
  if (err instanceof SubmoduleRepositoryError) {
    return { code: 'bitbucket-error', message: clean(err.message), fix: 'Check the submodule URL in .gitmodules, or connect without submodules.' };
  }
  if (err instanceof NotAuthorisedError) return { code: 'not-admin', message: clean(err.summary), fix: err.fix };
  if (err instanceof RequestBudgetError) return { code: 'rate-limited', message: err.summary, fix: err.fix };
  if (err instanceof ProjectInUseError) return { code: 'project-in-use', message: clean(err.summary), fix: err.fix };
  if (err instanceof ProjectMovedError) return { code: 'not-connected', message: clean(err.summary), fix: err.fix };
  if (err instanceof LockBusyError) {
    return { code: 'job-running', message: err.message, fix: 'Wait for the other run to finish, then try again.', temporary: true };
  }
  if (err instanceof ValohaiAuthError) return valohaiTokenRefused();
  if (err instanceof BitbucketRetiredApiError) {
    return {
      code: 'bitbucket-error',
      message: clean(err.message),
      fix: 'Ask whoever manages apps in this workspace to update Valohai access for Bitbucket to its latest version; trying again will not help.',
    };
  }
  if (err instanceof BranchNotFoundError) {
    return {
      code: 'not-found',
      message: clean(`${err.repository} has no branch "${err.branch}": give an existing branch's exact name (case-sensitive), such as main.`),
      fix: 'Check the fetch reference: the name of an existing branch, spelled exactly (names are case-sensitive), such as main.',
      field: 'ref',
    };
  }
  if (err instanceof BitbucketNotFoundError) {
    return {
      code: 'bitbucket-error',
      message: clean(err.message),
      fix: 'Check the repository name; if it is right, ask an admin of that repository for access for the account that asked: yours, or for access keys the stored API token\'s account.',
    };
  }
  if (err instanceof TokenRequestHeldError) {
    return {
      code: 'rate-limited',
      message: clean(err.message),
      fix: `Try again after ${aboutTime(err.until)}. Until then the pages show what the app stored, and a token of another account can be saved.`,
      temporary: true,
    };
  }
  if (err instanceof ValohaiError) return serviceRefusal(VALOHAI, err, clean);
  if (err instanceof BitbucketError) return serviceRefusal(BITBUCKET, err, clean);
  return {
    code: 'internal',
    message: 'The app failed unexpectedly while answering.',
    fix: 'Try again. If it keeps failing, see the app logs (forge logs) for the error name.',
    temporary: true,
  };
}

/** A server's fault that usually passes: no answer, a 5xx, or one the client itself would retry. */
function passing(err: BitbucketError | ValohaiError): boolean {
  return err.retryable || err.status === 0 || err.status >= 500;
}

/** What a page says to do about a service's error, by how it failed. */
interface ServiceFixes {
  code: 'valohai-error' | 'bitbucket-error';
  name: string;
  /** After a rate limit (429). */
  wait: string;
  /** After a failure that may pass: what to check when it does not. */
  persists: string;
}

const VALOHAI: ServiceFixes = { code: 'valohai-error', name: 'Valohai', wait: 'Wait a minute', persists: 'check Valohai is reachable' };
const BITBUCKET: ServiceFixes = { code: 'bitbucket-error', name: 'Bitbucket', wait: 'Wait a few minutes', persists: 'check the message above' };

function serviceRefusal(service: ServiceFixes, err: BitbucketError | ValohaiError, clean: (text: string) => string): ResolverError {
  const message = clean(err.message);
  if (err instanceof ValohaiRateLimitError || err instanceof BitbucketRateLimitError) {
    return { code: 'rate-limited', message, fix: `${service.wait}, then try again.`, temporary: true };
  }
  return passing(err)
    ? { code: service.code, message, fix: `Try again in a moment; if it persists, ${service.persists}.`, temporary: true }
    : { code: service.code, message, fix: `Correct what ${service.name} names above, then try again.` };
}

/** A thrown value's class name, the only thing about an unknown error that is safe to log. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
