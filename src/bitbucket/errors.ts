/**
 * Typed Bitbucket failures. Every message says what happened and the fix; none carries a token, an
 * Authorization header or a key body: of a server's text, only what passes an allow-list is quoted.
 */
import { hasControlCharacter } from '../http/inert';
import { describeNetworkCode, isRetryableNetworkCode } from '../http/network';
import { isRetryableStatus, parseRetryAfter } from '../http/retry';

import { API_TOKEN_URL, BITBUCKET_TOKEN_SCOPES } from './account';

export { API_TOKEN_URL };
/** The scopes named when Bitbucket refuses a request for the token's lack of one. */
export const REQUIRED_SCOPES = BITBUCKET_TOKEN_SCOPES;
const STATUS_PAGE = 'https://bitbucket.status.atlassian.com';

export type BitbucketErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'wrong_auth_mechanism'
  | 'not_found'
  | 'rate_limited'
  | 'bad_request'
  | 'already_present'
  | 'account_key'
  | 'retired_api'
  | 'server_error'
  | 'unexpected_status'
  | 'redirect'
  | 'network'
  | 'malformed_response';

export interface BitbucketErrorFields {
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  code: BitbucketErrorCode;
  /** Bitbucket's own words (scrubbed), when it gave any. */
  bitbucketMessage?: string;
  retryable?: boolean;
  /** Bitbucket's Retry-After, when it sent one. */
  retryAfterSeconds?: number;
}

export class BitbucketError extends Error {
  override readonly name: string = 'BitbucketError';
  readonly status: number;
  readonly code: BitbucketErrorCode;
  readonly bitbucketMessage: string | undefined;
  /** Whether repeating the same request may succeed (read by the retry policy). */
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, fields: BitbucketErrorFields) {
    super(message);
    this.status = fields.status;
    this.code = fields.code;
    this.bitbucketMessage = fields.bitbucketMessage;
    this.retryable = fields.retryable ?? false;
    this.retryAfterSeconds = fields.retryAfterSeconds;
  }
}

/** 401: the email/API token pair is wrong, expired or revoked. */
export class BitbucketAuthError extends BitbucketError {
  override readonly name: string = 'BitbucketAuthError';
}

/** 403: the account lacks access to the repository, the token lacks scopes, or the credential kind is refused. */
export class BitbucketForbiddenError extends BitbucketError {
  override readonly name: string = 'BitbucketForbiddenError';
}

export class BitbucketNotFoundError extends BitbucketError {
  override readonly name: string = 'BitbucketNotFoundError';
}

/** 404 for a branch of a repository that exists: the fetch reference is mistyped, or the branch is gone. */
export class BranchNotFoundError extends BitbucketNotFoundError {
  override readonly name: string = 'BranchNotFoundError';

  constructor(
    readonly branch: string,
    readonly repository: string,
  ) {
    super(
      `Branch "${branch}" does not exist in ${repository} (404). Check the ref: it must be the name of an existing branch of ${repository}, ` +
        'such as main, spelled exactly (names are case-sensitive).',
      { status: 404, code: 'not_found' },
    );
  }
}

/** 429 that did not clear within the retries. */
export class BitbucketRateLimitError extends BitbucketError {
  override readonly name: string = 'BitbucketRateLimitError';
}

/** 400 other than "already added". */
export class BitbucketBadRequestError extends BitbucketError {
  override readonly name: string = 'BitbucketBadRequestError';
}

/**
 * 410: Bitbucket retired an endpoint this app calls. Repeating cannot help; only a newer app version
 * that uses the endpoint's replacement can.
 */
export class BitbucketRetiredApiError extends BitbucketError {
  override readonly name: string = 'BitbucketRetiredApiError';
}

/** The access key is already on the repository: for an add, that means "present", not failure. */
export class AccessKeyAlreadyPresentError extends BitbucketError {
  override readonly name: string = 'AccessKeyAlreadyPresentError';
}

export class BitbucketNetworkError extends BitbucketError {
  override readonly name: string = 'BitbucketNetworkError';
  /** `ECONNRESET`, `ETIMEDOUT`, `ECONNREFUSED`, ... */
  readonly networkCode: string;

  constructor(message: string, networkCode: string) {
    super(message, { status: 0, code: 'network', retryable: isRetryableNetworkCode(networkCode) });
    this.networkCode = networkCode;
  }
}

export class BitbucketMalformedResponseError extends BitbucketError {
  override readonly name: string = 'BitbucketMalformedResponseError';
}

/** A network failure talking to `origin` (a host name); only the code of the cause is used. */
export function networkError(origin: string | undefined, networkCode: string): BitbucketNetworkError {
  return new BitbucketNetworkError(
    `Could not reach Bitbucket${origin ? ` at ${origin}` : ''}: ${describeNetworkCode(networkCode)} (${networkCode}). ` +
      'Check the network connection and any proxy or firewall between here and Bitbucket, then try again.',
    networkCode,
  );
}

/** What the failing request was doing, for messages. */
export interface RequestContext {
  /** A clause after "while", e.g. "reading repository acme/models". */
  action: string;
  /** `workspace/repo`, when the request is about one repository. */
  repository?: string;
  /** The whole message for a 404, when the caller knows better what a 404 means here. */
  notFound?: string;
  /** Whether a 2xx with unparseable JSON may be retried (the call is safe to repeat). */
  idempotent: boolean;
  /** Set on the deploy-key add, whose 400 "already added" means success. */
  addingAccessKey?: boolean;
}

/**
 * What Bitbucket is known to say, in our words: recognised anywhere in the body, shown as written here.
 * The phrases other code matches on ("already added that access key", "lack one or more required
 * privilege scopes") are kept.
 */
const KNOWN_MESSAGES: readonly [RegExp, string][] = [
  [/already added that access key/i, 'Someone has already added that access key to this repository.'],
  [/not accessible by this authentication mechanism/i, 'This API is not accessible by this authentication mechanism.'],
  [/lack one or more required privilege scopes/i, 'The credentials lack one or more required privilege scopes.'],
  [/rate limit for this resource has been exceeded/i, 'Rate limit for this resource has been exceeded.'],
  [/may not have access to this repository/i, 'You may not have access to this repository, or it no longer exists in this workspace.'],
  [/already registered that SSH key/i, 'Someone has already registered that SSH key.'],
  [/CHANGE-2770|functionality has been deprecated/i, 'Functionality has been deprecated (CHANGE-2770).'],
];

/** Longest server message shown as it is. */
const MAX_SHOWN = 160;

/**
 * Whether a server's sentence may be shown as it is: short, one line, no control or bidi characters,
 * and nothing shaped like a credential (a long run of token characters, an auth scheme, a URL with a
 * query or user). What fails is left out, not cleaned: showing less is the safe side.
 */
function showable(text: string): boolean {
  if (text.length === 0 || text.length > MAX_SHOWN) return false;
  if (hasControlCharacter(text)) return false;
  if (/[A-Za-z0-9+/=_.~-]{20,}/.test(text)) return false;
  if (/\b(?:basic|bearer|token|authorization|password|secret)\b\s*[:=]?\s*\S{8,}/i.test(text)) return false;
  if (/[a-z][a-z0-9+.-]*:\/\/\S*[@?]/i.test(text)) return false;
  return true;
}

function allowed(candidate: unknown): string | undefined {
  if (typeof candidate !== 'string') return undefined;
  const text = candidate.trim();
  return showable(text) ? text : undefined;
}

/** Messages Bitbucket gives for fields, in either form: `["text"]` or `[{"message": "text"}]`. */
function fieldMessages(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry: unknown) => {
    const text = typeof entry === 'object' && entry !== null ? (entry as { message?: unknown }).message : entry;
    const shown = allowed(text);
    return shown ? [shown] : [];
  });
}

/** The first showable field message of `{"<field>": [...], ...}`, prefixed with its field name. */
function firstFieldMessage(fields: unknown): string | undefined {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return undefined;
  for (const [field, value] of Object.entries(fields)) {
    const [message] = fieldMessages(value);
    if (message) return allowed(`${field}: ${message}`) ?? message;
  }
  return undefined;
}

/** Generic words a field error comes with, which say less than the field's own message. */
const GENERIC = /^(?:bad request|invalid request|validation error)\.?$/i;

/**
 * Bitbucket's words from a JSON error body, in each envelope it is known to use: `{"type": "error",
 * "error": {"message", "fields"?}}` (a generic message gives way to the first field's), a bare field
 * error `{"key": [{"message"}]}`, or a top-level `message`.
 */
function messageOfJson(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return allowed(body);
  if (Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  if (typeof o.error === 'object' && o.error !== null) {
    const err = o.error as { message?: unknown; fields?: unknown };
    const message = allowed(err.message);
    const field = firstFieldMessage(err.fields);
    return message && !GENERIC.test(message) ? message : (field ?? message);
  }
  if (o.message !== undefined) return allowed(o.message);
  return firstFieldMessage(o);
}

/**
 * Bitbucket's words from an error body, as an allow-list: a known message in our words; else the
 * message of a known JSON envelope (see `messageOfJson`), an HTML page's title or a one-line text body,
 * when it is short plain text with nothing token-like in it; else nothing. `detail` and `data` are
 * never shown: they are where a server echoes what it was sent.
 */
export function bitbucketMessageOf(text: string): string | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  for (const [pattern, words] of KNOWN_MESSAGES) if (pattern.test(trimmed)) return words;
  try {
    return messageOfJson(JSON.parse(trimmed) as unknown);
  } catch {
    // not JSON: an HTML page by its title, or one line of text
  }
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(trimmed)?.[1];
  if (title !== undefined) return allowed(title.replace(/\s+/g, ' '));
  return /<[a-z!/]/i.test(trimmed) ? undefined : allowed(trimmed);
}

const ALREADY_ADDED = /already added that access key/i;
const ACCOUNT_KEY = /already registered that SSH key/i;
const WRONG_MECHANISM = /not accessible by this authentication mechanism/i;

/**
 * Whether an answer refuses the credentials themselves, whatever was asked: a 401, or a 403 for a kind of
 * token that can never do this (the answers that become `BitbucketAuthError` and `wrong_auth_mechanism`).
 */
export function refusesCredentials(res: { status: number; text: string }): boolean {
  return res.status === 401 || (res.status === 403 && WRONG_MECHANISM.test(res.text));
}

/** The typed error for a non-2xx answer. */
export function errorForResponse(
  res: { status: number; headers: Record<string, string>; text: string },
  ctx: RequestContext,
): BitbucketError {
  const { status } = res;
  const bitbucketMessage = bitbucketMessageOf(res.text);
  const said = bitbucketMessage ? ` Bitbucket said: "${bitbucketMessage}".` : '';
  const repo = ctx.repository ?? 'the repository';
  const scopes = REQUIRED_SCOPES.join(', ');

  if (status === 400) {
    if (ctx.addingAccessKey && ALREADY_ADDED.test(res.text)) {
      return new AccessKeyAlreadyPresentError(`The access key is already on ${repo}; nothing to add.`, {
        status,
        code: 'already_present',
        bitbucketMessage,
      });
    }
    if (ctx.addingAccessKey && ACCOUNT_KEY.test(res.text)) {
      return new BitbucketBadRequestError(
        `Bitbucket refused the key for ${repo} (400): it is already the SSH key of a Bitbucket account, and such a key cannot also be an access key. ` +
          'Use a new key made only for this connection (connect again to generate one), or remove the key from that account\'s SSH keys in Bitbucket first.',
        { status, code: 'account_key', bitbucketMessage },
      );
    }
    return new BitbucketBadRequestError(`Bitbucket refused the request while ${ctx.action} (400).${said}`, {
      status,
      code: 'bad_request',
      bitbucketMessage,
    });
  }
  if (status === 401) {
    return new BitbucketAuthError(
      'Bitbucket did not accept the credentials (401): the email and API token pair is wrong, or the token has expired or been revoked. ' +
        `Create an API token at ${API_TOKEN_URL} (scopes: ${scopes}) and use it with the email address of that same Atlassian account.`,
      { status, code: 'unauthorized', bitbucketMessage },
    );
  }
  if (status === 403) {
    if (WRONG_MECHANISM.test(res.text)) {
      return new BitbucketForbiddenError(
        `Bitbucket refused this kind of credential while ${ctx.action} (403): repository, project and workspace access tokens cannot manage access keys. ` +
          `Use an Atlassian API token with your account's email instead: create one at ${API_TOKEN_URL} with the scopes ${scopes}.`,
        { status, code: 'wrong_auth_mechanism', bitbucketMessage },
      );
    }
    return new BitbucketForbiddenError(
      `Bitbucket denied access to ${repo} while ${ctx.action} (403).${said} ` +
        `The token's account must be an administrator of ${repo}, and the API token needs the scopes ${scopes}; ` +
        `create a token with those scopes at ${API_TOKEN_URL}.`,
      { status, code: 'forbidden', bitbucketMessage },
    );
  }
  if (status === 404) {
    const message = ctx.notFound ?? (ctx.repository ? repositoryNotVisible(ctx.repository, ctx.action) : `Bitbucket found nothing there while ${ctx.action} (404).${said}`);
    return new BitbucketNotFoundError(message, { status, code: 'not_found', bitbucketMessage });
  }
  if (status === 410) {
    return new BitbucketRetiredApiError(
      `Bitbucket retired an API this app uses (410 while ${ctx.action}): update the app to its latest version, which uses the API that replaced it.${said}`,
      { status, code: 'retired_api', bitbucketMessage },
    );
  }
  if (status === 429) {
    const retryAfterSeconds = parseRetryAfter(res.headers['retry-after']);
    const wait = retryAfterSeconds !== undefined ? `Bitbucket asks to wait ${retryAfterSeconds} s. ` : '';
    return new BitbucketRateLimitError(
      `Bitbucket's rate limit was reached while ${ctx.action} (429) and did not clear while retrying. ` +
        'Bitbucket allows about 1,000 API calls per hour per user on repository endpoints, counted over a rolling hour. ' +
        `${wait}Wait a few minutes, then try again.`,
      { status, code: 'rate_limited', bitbucketMessage, retryable: true, retryAfterSeconds },
    );
  }
  if (status >= 500) {
    return new BitbucketError(
      `Bitbucket answered ${status} while ${ctx.action}: a problem on Bitbucket's side.${said} ` +
        `Try again in a few minutes; ${STATUS_PAGE} lists ongoing incidents.`,
      {
        status,
        code: 'server_error',
        bitbucketMessage,
        retryable: isRetryableStatus(status),
        retryAfterSeconds: parseRetryAfter(res.headers['retry-after']),
      },
    );
  }
  if (status >= 300 && status < 400) {
    return new BitbucketError(
      `Bitbucket redirected the request while ${ctx.action} (${status}); it was not followed, so the credentials went nowhere else. ` +
        'Give the Bitbucket API root exactly as it is served, e.g. https://api.bitbucket.org/2.0 (https, no trailing path).',
      { status, code: 'redirect' },
    );
  }
  return new BitbucketError(`Bitbucket answered an unexpected ${status} while ${ctx.action}.${said}`, {
    status,
    code: 'unexpected_status',
    bitbucketMessage,
  });
}

/**
 * A 404 about a repository: Bitbucket gives it both for a repository that does not exist and for a
 * private one the caller cannot see, and does not tell the two apart.
 */
export function repositoryNotVisible(repository: string, action: string): string {
  return (
    `${repository} is a Bitbucket repository you cannot see or that does not exist (404 while ${action}). ` +
    `Check the workspace and repository name as they appear in the repository's URL; if they are right, ask an admin of ${repository} for access, ` +
    'or check that the API token belongs to the account that has it.'
  );
}

/** A `next` link that leaves the configured API root: not followed, and not a passing fault. */
export function foreignLink(root: string, ctx: RequestContext, where: string): BitbucketMalformedResponseError {
  return new BitbucketMalformedResponseError(
    `Bitbucket's answer while ${ctx.action} pointed to its next page at ${where}, outside ${root}; it was not followed, ` +
      'so nothing was sent there. Check the Bitbucket API root setting (and any proxy in between).',
    { status: 200, code: 'malformed_response' },
  );
}

/**
 * A 2xx whose body cannot be used. `problem` absent means the JSON did not parse (often a truncated or
 * proxy-mangled answer: retried when the call is safe to repeat); given, it names what was missing,
 * which a repeat would not fix.
 */
export function malformedResponse(ctx: RequestContext, status: number, problem?: string): BitbucketMalformedResponseError {
  return new BitbucketMalformedResponseError(
    `Bitbucket's answer while ${ctx.action} ${problem ?? 'was not valid JSON'} (status ${status}). ` +
      'This is usually a passing fault at Bitbucket or in a proxy between here and Bitbucket: try again in a moment.',
    { status, code: 'malformed_response', retryable: ctx.idempotent && problem === undefined },
  );
}
