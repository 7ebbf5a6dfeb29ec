/**
 * Bitbucket's error replies: the JSON envelope `{"type": "error", "error": {message, detail?, data?}}`,
 * and the plain-text 401 it sends when credentials are missing or wrong.
 */
import type { HttpReply } from '../http';

export interface ErrorExtras {
  detail?: string;
  data?: Record<string, unknown>;
  /** Messages per request field, as Bitbucket's validation errors carry them (`error.fields`). */
  fields?: Record<string, string[]>;
  headers?: Record<string, string>;
}

export function bbError(status: number, message: string, extras: ErrorExtras = {}): HttpReply {
  const error: { message: string; detail?: string; data?: Record<string, unknown>; fields?: Record<string, string[]> } = { message };
  if (extras.detail !== undefined) error.detail = extras.detail;
  if (extras.data !== undefined) error.data = extras.data;
  if (extras.fields !== undefined) error.fields = extras.fields;
  return { status, headers: extras.headers, body: { type: 'error', error } };
}

export function unauthorized(): HttpReply {
  return {
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="Bitbucket.org HTTP"' },
    body: 'Unauthorized: send Basic auth with your Atlassian account email and an API token (email:token).',
  };
}

export const WRONG_MECHANISM_MESSAGE = 'This API is not accessible by this authentication mechanism.';
export const RATE_LIMIT_MESSAGE = 'Rate limit for this resource has been exceeded';
export const DUPLICATE_KEY_MESSAGE = 'Someone has already added that access key to this repository.';

/**
 * What Bitbucket answers (404) for a private repository the caller cannot see, and for one that does
 * not exist: the two are not told apart, so that a 404 does not reveal that a private repository exists.
 */
export const NOT_VISIBLE_MESSAGE =
  'You may not have access to this repository or it no longer exists in this workspace. If you think this repository exists and you have access, make sure you are authenticated.';

export function notVisible(): HttpReply {
  return bbError(404, NOT_VISIBLE_MESSAGE);
}

/** What Bitbucket answers when the key sent as an access key is some account's SSH key. */
export const ACCOUNT_KEY_MESSAGE = 'Someone has already registered that SSH key.';

/**
 * A 400 about one field of the request, in either form Bitbucket uses: `bare`, the form known from its
 * access-key refusals, `{"key": [{"message": "..."}]}` (no `type`/`error` envelope); `envelope`, its
 * validation error `{"type": "error", "error": {"message": "Bad request", "fields": {"key": ["..."]}}}`,
 * which fits the spec's `error` schema where the spec declares one for the 400.
 */
export function fieldError(field: string, message: string, form: 'bare' | 'envelope'): HttpReply {
  if (form === 'envelope') return bbError(400, 'Bad request', { fields: { [field]: [message] } });
  return { status: 400, body: { [field]: [{ message }] } };
}

/** The change log entry that retired the endpoints answered with 410. */
export const RETIRED_CHANGE = 'CHANGE-2770';
export const RETIRED_ANNOUNCEMENT_URL = 'https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770';

/** 410 for an endpoint Bitbucket retired, with the body it sends. */
export function retired(): HttpReply {
  return bbError(410, `${RETIRED_CHANGE} - Functionality has been deprecated`, {
    detail: 'Please read the changelog entry for more details.',
    data: { announcement_url: RETIRED_ANNOUNCEMENT_URL },
  });
}

/**
 * The content type Bitbucket puts on a 204 (its default one; clients read the content type of every
 * answer, an empty one included).
 */
export const NO_CONTENT_TYPE = 'text/html; charset=utf-8';
