/**
 * Bitbucket's error replies: the JSON envelope `{"type": "error", "error": {message, detail?, data?}}`,
 * and the plain-text 401 it sends when credentials are missing or wrong.
 */
import type { HttpReply } from '../http';

export interface ErrorExtras {
  detail?: string;
  data?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function bbError(status: number, message: string, extras: ErrorExtras = {}): HttpReply {
  const error: { message: string; detail?: string; data?: Record<string, unknown> } = { message };
  if (extras.detail !== undefined) error.detail = extras.detail;
  if (extras.data !== undefined) error.data = extras.data;
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
