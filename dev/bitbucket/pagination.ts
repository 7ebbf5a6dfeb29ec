/**
 * Bitbucket's paged envelope `{pagelen, size, page, values, next?, previous?}`: `pagelen` defaults to
 * 10 and is capped at 100, `next`/`previous` are absolute URLs that keep the caller's other query
 * parameters.
 */
import type { HttpReply, HttpRequest } from '../http';
import { bbError } from './errors';

export const DEFAULT_PAGELEN = 10;
export const MAX_PAGELEN = 100;

export interface Page<T> {
  pagelen: number;
  page: number;
  size: number;
  values: T[];
  next?: string;
  previous?: string;
}

function positiveInt(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 1 ? n : undefined;
}

function pageUrl(req: HttpRequest, page: number): string {
  const url = new URL(req.url.href);
  url.searchParams.set('page', String(page));
  return url.href;
}

/** Picks the requested page out of `all`, or answers 400 for a malformed `page`/`pagelen`. */
export function paginate<T>(req: HttpRequest, all: T[]): Page<T> | HttpReply {
  const pagelenRaw = positiveInt(req.query.get('pagelen'), DEFAULT_PAGELEN);
  if (pagelenRaw === undefined) return bbError(400, 'Invalid pagelen: use a whole number from 1 to 100.');
  const page = positiveInt(req.query.get('page'), 1);
  if (page === undefined) return bbError(400, 'Invalid page: use a whole number from 1.');
  const pagelen = Math.min(pagelenRaw, MAX_PAGELEN);
  const start = (page - 1) * pagelen;
  const result: Page<T> = { pagelen, size: all.length, page, values: all.slice(start, start + pagelen) };
  if (start + pagelen < all.length) result.next = pageUrl(req, page + 1);
  if (page > 1) result.previous = pageUrl(req, Math.min(page - 1, Math.max(1, Math.ceil(all.length / pagelen))));
  return result;
}
