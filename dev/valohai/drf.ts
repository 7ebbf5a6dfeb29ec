/**
 * The Django REST Framework conventions Valohai's API follows: token authentication, error bodies,
 * JSON body parsing and limit/offset pagination with absolute `next`/`previous` links.
 */
import type { HttpReply, HttpRequest } from '../http';
import type { UserRecord, ValohaiState } from './state';

export const NOT_FOUND: HttpReply = { status: 404, body: { detail: 'Not found.' } };

const unauthorized = (detail: string): HttpReply => ({ status: 401, headers: { 'www-authenticate': 'Token' }, body: { detail } });

/** The token's user, or the 401 DRF's TokenAuthentication answers. */
export function authenticate(state: ValohaiState, req: HttpRequest): UserRecord | HttpReply {
  const header = req.headers.authorization;
  const parts = typeof header === 'string' ? header.trim().split(/\s+/) : [];
  if (parts.length === 0 || parts[0]?.toLowerCase() !== 'token') return unauthorized('Authentication credentials were not provided.');
  if (parts.length === 1) return unauthorized('Invalid token header. No credentials provided.');
  if (parts.length > 2) return unauthorized('Invalid token header. Token string should not contain spaces.');
  return state.userByToken(parts[1] as string) ?? unauthorized('Invalid token.');
}

export const isReply = (value: unknown): value is HttpReply =>
  typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number';

export type FieldErrors = Record<string, string[]>;

export const badRequest = (errors: FieldErrors): HttpReply => ({ status: 400, body: errors });

/** The request body as a JSON object, or DRF's 400. An empty body is an empty object. */
export function jsonObject(req: HttpRequest): Record<string, unknown> | HttpReply {
  if (req.body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body);
  } catch (err) {
    return { status: 400, body: { detail: `JSON parse error - ${err instanceof Error ? err.message : 'invalid JSON'}` } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const got = Array.isArray(parsed) ? 'list' : parsed === null ? 'NoneType' : typeof parsed === 'string' ? 'str' : typeof parsed === 'number' ? 'int' : 'bool';
    return { status: 400, body: { non_field_errors: [`Invalid data. Expected a dictionary, but got ${got}.`] } };
  }
  return parsed as Record<string, unknown>;
}

/** A string field: undefined when absent, or the DRF message for a wrong value. */
export function stringField(
  body: Record<string, unknown>,
  name: string,
  errors: FieldErrors,
  opts: { required?: boolean; allowBlank?: boolean; maxLength?: number } = {},
): string | undefined {
  const value = body[name];
  if (value === undefined) {
    if (opts.required) errors[name] = ['This field is required.'];
    return undefined;
  }
  if (value === null) {
    errors[name] = ['This field may not be null.'];
    return undefined;
  }
  if (typeof value !== 'string') {
    errors[name] = ['Not a valid string.'];
    return undefined;
  }
  if (!opts.allowBlank && value.trim() === '') {
    errors[name] = ['This field may not be blank.'];
    return undefined;
  }
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    errors[name] = [`Ensure this field has no more than ${opts.maxLength} characters.`];
    return undefined;
  }
  return value;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

function nonNegativeInt(raw: string | null): number | undefined {
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** DRF's LimitOffsetPagination: `{count, next, previous, results}`. */
export function paginate<T>(req: HttpRequest, items: T[], toJson: (item: T) => unknown): HttpReply {
  const requested = nonNegativeInt(req.query.get('limit'));
  const limit = requested && requested > 0 ? Math.min(requested, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const offset = nonNegativeInt(req.query.get('offset')) ?? 0;
  const link = (newOffset: number | undefined) => {
    const url = new URL(req.url.href);
    url.searchParams.set('limit', String(limit));
    if (newOffset === undefined || newOffset <= 0) url.searchParams.delete('offset');
    else url.searchParams.set('offset', String(newOffset));
    return url.href;
  };
  return {
    status: 200,
    body: {
      count: items.length,
      next: offset + limit < items.length ? link(offset + limit) : null,
      previous: offset > 0 ? link(offset - limit) : null,
      results: items.slice(offset, offset + limit).map(toJson),
    },
  };
}
