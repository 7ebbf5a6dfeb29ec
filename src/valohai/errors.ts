/**
 * Typed Valohai failures, built from Django REST Framework error bodies. These objects are made here
 * from plain values only: no axios error, request config or response is attached (axios keeps the
 * request body in `config.data`, and for the repository call that body holds a private key).
 */
import { describeNetworkCode, isRetryableNetworkCode } from '../http/network';
import { excerpt, redact } from '../http/redact';
import { isRetryableStatus, parseRetryAfter } from '../http/retry';
import { repositoryWriteRefusal, type RepositoryWriteVerdict } from './repository-write';

export interface ValohaiErrorFields {
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  /** Valohai's own `code` when it sent one, else ours: unauthorized, forbidden, not_found, invalid, rate_limited, server_error, network, malformed_response, redirect, ambiguous, unexpected_status. */
  code: string;
  /** Field name → messages, from a 400 (`non_field_errors` included as is). */
  fields?: Record<string, string[]>;
  /** Valohai's own words (scrubbed), when it gave any. */
  valohaiMessage?: string;
  retryable?: boolean;
  retryAfterSeconds?: number;
}

export class ValohaiError extends Error {
  override readonly name: string = 'ValohaiError';
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string[]> | undefined;
  readonly valohaiMessage: string | undefined;
  /** Whether repeating the same request may succeed (read by the retry policy). */
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, fields: ValohaiErrorFields) {
    super(message);
    this.status = fields.status;
    this.code = fields.code;
    this.fields = fields.fields;
    this.valohaiMessage = fields.valohaiMessage;
    this.retryable = fields.retryable ?? false;
    this.retryAfterSeconds = fields.retryAfterSeconds;
  }
}

/** 401 (token wrong, expired or revoked) or 403 (token's user lacks access). */
export class ValohaiAuthError extends ValohaiError {
  override readonly name: string = 'ValohaiAuthError';
}

export class ValohaiNotFoundError extends ValohaiError {
  override readonly name: string = 'ValohaiNotFoundError';
}

/** 400/422 with the field messages in `fields`. */
export class ValohaiValidationError extends ValohaiError {
  override readonly name: string = 'ValohaiValidationError';
}

export class ValohaiNetworkError extends ValohaiError {
  override readonly name: string = 'ValohaiNetworkError';
  /** `ECONNRESET`, `ETIMEDOUT`, `ECONNREFUSED`, ... */
  readonly networkCode: string;

  constructor(message: string, networkCode: string) {
    super(message, { status: 0, code: 'network', retryable: isRetryableNetworkCode(networkCode) });
    this.networkCode = networkCode;
  }
}

export class ValohaiRateLimitError extends ValohaiError {
  override readonly name: string = 'ValohaiRateLimitError';
}

/**
 * The repository settings preflight failed: Valohai does not list the fields the app writes as
 * writable. Nothing was sent; `verdict` says what Valohai offers.
 */
export class ValohaiRepositoryWriteError extends ValohaiError {
  override readonly name: string = 'ValohaiRepositoryWriteError';
  readonly verdict: RepositoryWriteVerdict;

  constructor(host: string, status: number, verdict: RepositoryWriteVerdict) {
    super(repositoryWriteRefusal(host, verdict), { status, code: 'repository_write_unsupported' });
    this.verdict = verdict;
  }
}

/** What the failing request was doing, for messages. */
export interface CallContext {
  /** A clause after "while", e.g. "saving the repository settings of repository 12". */
  action: string;
  /** The whole message for a 404, when the caller knows what a 404 means here. */
  notFound?: string;
  /** Appended to a 400's message: what to check. */
  invalidHint?: string;
  /** Whether the call may be repeated blindly (reads, PATCH, the fetch POST). */
  idempotent: boolean;
  /** Values that must never appear in a message even if the server echoes them. */
  secrets: readonly string[];
}

interface DrfError {
  message?: string;
  code?: string;
  fields?: Record<string, string[]>;
}

function messagesOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (typeof value === 'object' && value !== null) {
    const { message, detail } = value as { message?: unknown; detail?: unknown };
    if (typeof message === 'string') return [message];
    if (typeof detail === 'string') return [detail];
  }
  return [];
}

function collectFields(value: unknown, prefix: string, out: Record<string, string[]>): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.message === 'string') {
      out[prefix] = [...(out[prefix] ?? []), o.message];
      return;
    }
    for (const [k, v] of Object.entries(o)) collectFields(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  const msgs = messagesOf(value);
  if (msgs.length) out[prefix] = [...(out[prefix] ?? []), ...msgs];
}

/**
 * The DRF error shapes: `{"detail": ...}` (maybe with `code`), `{"non_field_errors": [...]}`,
 * `{field: ["msg" | {message, code}]}` (nested for nested serializers), a bare list, or non-JSON text
 * (an HTML 500 page), returned unshortened and unscrubbed.
 */
export function parseDrfError(text: string): DrfError {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Not JSON (an HTML error page, a proxy's text): kept whole, the caller scrubs then shortens it.
    return text.trim() ? { message: text } : {};
  }
  if (typeof body === 'string' || Array.isArray(body)) {
    const message = messagesOf(body).join(' ');
    return message ? { message } : {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const o = body as Record<string, unknown>;
  const out: DrfError = {};
  if (typeof o.code === 'string') out.code = o.code;
  const detail = messagesOf(o.detail);
  const fields: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'detail' || k === 'code') continue;
    collectFields(v, k, fields);
  }
  if (Object.keys(fields).length) out.fields = fields;
  const fieldText = Object.entries(fields)
    .map(([k, msgs]) => (k === 'non_field_errors' ? msgs.join(' ') : `${k}: ${msgs.join(' ')}`))
    .join('; ');
  const message = [...detail, fieldText].filter(Boolean).join(' ');
  if (message) out.message = message;
  if (!out.code && typeof o.detail === 'object' && o.detail !== null && typeof (o.detail as { code?: unknown }).code === 'string') {
    out.code = (o.detail as { code: string }).code;
  }
  return out;
}

function scrubFields(fields: Record<string, string[]> | undefined, secrets: readonly string[]): Record<string, string[]> | undefined {
  if (!fields) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, msgs] of Object.entries(fields)) out[k] = msgs.map((m) => excerpt(redact(m, secrets), 300));
  return out;
}

/** The typed error for a non-2xx answer from `host`. */
export function errorForResponse(
  host: string,
  res: { status: number; headers: Record<string, string | undefined>; text: string },
  ctx: CallContext,
): ValohaiError {
  const { status } = res;
  const drf = parseDrfError(res.text);
  // Scrub before shortening: a cut could otherwise leave a piece of a secret that no longer matches.
  const valohaiMessage = drf.message ? excerpt(redact(drf.message, ctx.secrets), 500) || undefined : undefined;
  const fields = scrubFields(drf.fields, ctx.secrets);
  const said = valohaiMessage ? ` Valohai said: "${valohaiMessage}".` : '';
  const tokens = `${host}/auth/tokens/`;

  if (status === 401) {
    return new ValohaiAuthError(
      `Valohai did not accept the API token (401 while ${ctx.action}).${said} The token is wrong, expired or revoked: ` +
        `create a personal API token at ${tokens} and use that one.`,
      { status, code: drf.code ?? 'unauthorized', valohaiMessage },
    );
  }
  if (status === 403) {
    return new ValohaiAuthError(
      `Valohai refused this token while ${ctx.action} (403).${said} The token's user needs access to the project ` +
        `(membership of the organization or team that owns it). If the token belongs to someone else, create your own at ${tokens}.`,
      { status, code: drf.code ?? 'forbidden', valohaiMessage },
    );
  }
  if (status === 404) {
    return new ValohaiNotFoundError(ctx.notFound ?? `Valohai found nothing while ${ctx.action} (404).${said}`, {
      status,
      code: drf.code ?? 'not_found',
      valohaiMessage,
    });
  }
  if (status === 400 || status === 422) {
    const hint = ctx.invalidHint ? ` ${ctx.invalidHint}` : '';
    return new ValohaiValidationError(
      `Valohai rejected the request while ${ctx.action} (${status}): ${valohaiMessage ?? 'no reason given'}.${hint}`,
      { status, code: drf.code ?? 'invalid', fields, valohaiMessage },
    );
  }
  const retryAfterSeconds = parseRetryAfter(res.headers['retry-after']);
  if (status === 429) {
    const wait = retryAfterSeconds !== undefined ? ` Valohai asks to wait ${retryAfterSeconds} s.` : '';
    return new ValohaiRateLimitError(
      `Valohai's rate limit was reached while ${ctx.action} (429) and did not clear while retrying.${wait} Wait a minute, then try again.`,
      { status, code: drf.code ?? 'rate_limited', valohaiMessage, retryable: true, retryAfterSeconds },
    );
  }
  if (status >= 500) {
    return new ValohaiError(
      `Valohai (${host}) answered ${status} while ${ctx.action}: a problem on Valohai's side.${said} Try again in a few minutes; ` +
        'if it persists, contact Valohai support with the time of the failure.',
      { status, code: drf.code ?? 'server_error', valohaiMessage, retryable: isRetryableStatus(status), retryAfterSeconds },
    );
  }
  if (status >= 300 && status < 400) {
    const location = res.headers.location;
    const where = location ? ` to ${excerpt(redact(location, ctx.secrets), 200)}` : '';
    return new ValohaiError(
      `Valohai (${host}) redirected the request${where} while ${ctx.action} (${status}). ` +
        'Give the Valohai host exactly as it is served, e.g. https://app.valohai.com (https, no path).',
      { status, code: 'redirect' },
    );
  }
  return new ValohaiError(`Valohai answered an unexpected ${status} while ${ctx.action}.${said}`, {
    status,
    code: drf.code ?? 'unexpected_status',
    valohaiMessage,
  });
}

export function networkError(host: string, networkCode: string): ValohaiNetworkError {
  return new ValohaiNetworkError(
    `Could not reach Valohai at ${host}: ${describeNetworkCode(networkCode)} (${networkCode}). ` +
      'Check the Valohai host setting and the network (proxy, firewall, VPN for a self-hosted installation), then try again.',
    networkCode,
  );
}

/** A 2xx whose body cannot be used; `problem` absent means the JSON did not parse (retried when safe). */
export function malformedResponse(host: string, ctx: CallContext, status: number, problem?: string): ValohaiError {
  return new ValohaiError(
    `Valohai's answer while ${ctx.action} ${problem ?? 'was not valid JSON'} (status ${status}). ` +
      `This is usually a passing fault at ${host} or in a proxy in between: try again in a moment.`,
    { status, code: 'malformed_response', retryable: ctx.idempotent && problem === undefined },
  );
}

/** A `next` link that leaves the configured API root: not followed, and not a passing fault. */
export function foreignLink(host: string, ctx: CallContext, where: string): ValohaiError {
  return new ValohaiError(
    `Valohai's answer while ${ctx.action} pointed to its next page at ${where}, outside ${host}/api/v0/; it was not followed, ` +
      'so nothing was sent there. If that address is this same Valohai under another name, give it as the Valohai host; ' +
      "otherwise the server's proxy settings (forwarded host and protocol) need fixing.",
    { status: 200, code: 'malformed_response' },
  );
}
