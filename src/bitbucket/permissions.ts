/**
 * Permission queries beyond the client's own (the caller's permission by repository UUID), and the
 * probe of which access-key scopes a token holds. Each is one request (one per page), never retried,
 * and says what Bitbucket's answer means; what to do about it (refuse, ask again one by one, show a
 * warning) is the caller's.
 *
 * - An account on one repository, read with a stored token: `GET /workspaces/{ws}/permissions/
 *   repositories/{repo}?q=user.account_id="..."`, which only that repository's admins may read.
 * - An account on many repositories of a workspace at once: `GET /workspaces/{ws}/permissions/
 *   repositories?q=...`, which only workspace admins may read.
 * - The caller on one repository, read as the caller: `GET /user/workspaces/{ws}/permissions/
 *   repositories?q=repository.full_name="..."`.
 */
import { randomBytes } from 'node:crypto';
import { encodePathSegment } from '../http/path';
import { bitbucketMessageOf, BitbucketForbiddenError, errorForResponse } from './errors';
import { asObject } from './map';
import { bbqlString, workspaceSegment } from './query';
import { BITBUCKET_CLOUD_API_ROOT } from './account';
import type { BitbucketRequest, BitbucketResponse, BitbucketTransport } from './transport';
import type { RepositoryPermission } from './types';

/** What a permission read found: Bitbucket's permission, or 'unreadable' when its answer could not tell. */
export type PermissionRead = RepositoryPermission | 'unreadable';

/** Repositories named in one workspace-wide query at most: keeps the query string well under URL limits. */
export const PERMISSION_BATCH = 25;
/** Pages of one batched answer followed at most (one entry per repository and user: one page suffices). */
const MAX_BATCH_PAGES = 4;

const RANK: readonly RepositoryPermission[] = ['none', 'read', 'write', 'admin'];
const higher = (a: RepositoryPermission, b: RepositoryPermission) => (RANK.indexOf(b) > RANK.indexOf(a) ? b : a);
const asPermission = (value: unknown): RepositoryPermission | undefined => RANK.find((p) => p !== 'none' && p === value);

/**
 * The `values` of a permission page: [] when it carries none, undefined when the text is not JSON (or
 * is `null`): that answer says nothing either way.
 */
function valuesOf(text: string): unknown[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
  if (body === null) return undefined;
  const values = (body as { values?: unknown }).values;
  return Array.isArray(values) ? values : [];
}

/** The highest permission among the entries `matches` accepts; 'none' when none does. */
function highest(values: unknown[], matches: (entry: Record<string, unknown>) => boolean): RepositoryPermission {
  let best: RepositoryPermission = 'none';
  for (const value of values) {
    const entry = asObject(value);
    const permission = entry && matches(entry) ? asPermission(entry.permission) : undefined;
    if (permission) best = higher(best, permission);
  }
  return best;
}

const accountOf = (entry: Record<string, unknown>) => asObject(entry.user)?.account_id;
const fullNameOf = (entry: Record<string, unknown>) => asObject(entry.repository)?.full_name;

/**
 * A refusal of the stored token that no other permission read can mend (401: the token is no longer
 * accepted; 429: its budget is spent): thrown, so the whole check stops with it.
 */
function stoppingError(res: BitbucketResponse, what: string): Error | undefined {
  if (res.status !== 401 && res.status !== 429) return undefined;
  return errorForResponse(res, { action: `checking what the person acting may do on ${what}`, idempotent: true });
}

/**
 * `accountId`'s permission on `workspace/slug`, read with a stored token. 'unreadable' when the token
 * may not read it (only the repository's admins may) or the read failed; throws on 401 and 429.
 */
export async function accountRepositoryPermission(
  token: BitbucketTransport,
  accountId: string,
  workspace: string,
  slug: string,
): Promise<PermissionRead> {
  const q = encodeURIComponent(`user.account_id=${bbqlString(accountId)}`);
  const path = `/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions/repositories/${encodePathSegment(slug, 'repository')}?q=${q}`;
  let res: BitbucketResponse;
  try {
    res = await token.request({ method: 'GET', path });
  } catch {
    return 'unreadable';
  }
  const stop = stoppingError(res, `${workspace}/${slug}`);
  if (stop) throw stop;
  if (res.status !== 200) return 'unreadable';
  const values = valuesOf(res.text);
  return values ? highest(values, (v) => accountOf(v) === accountId) : 'unreadable';
}

/**
 * `accountId`'s permissions on the repositories `names` (lower-case `workspace/slug`, at most
 * PERMISSION_BATCH) of `workspace`, in one workspace-wide read (a page or two), with a stored token: each
 * name the account holds a permission on maps to it, the others are absent. Undefined when the read gave
 * no clean answer (the token's account is no workspace admin, a failure, a malformed or endless answer);
 * throws on 401 and 429.
 */
export async function accountPermissionsIn(
  token: BitbucketTransport,
  accountId: string,
  workspace: string,
  names: readonly string[],
): Promise<Map<string, RepositoryPermission> | undefined> {
  const repos = names.map((n) => `repository.full_name=${bbqlString(n)}`).join(' OR ');
  const q = encodeURIComponent(`user.account_id=${bbqlString(accountId)} AND (${repos})`);
  let path: string | undefined = `/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions/repositories?q=${q}&pagelen=100`;
  const found = new Map<string, RepositoryPermission>();
  for (let page = 0; path; page++) {
    if (page >= MAX_BATCH_PAGES) return undefined;
    let res: BitbucketResponse;
    try {
      res = await token.request({ method: 'GET', path });
    } catch {
      return undefined;
    }
    const stop = stoppingError(res, `the repositories of ${workspace}`);
    if (stop) throw stop;
    if (res.status !== 200) return undefined;
    let body: Record<string, unknown> | undefined;
    try {
      body = asObject(JSON.parse(res.text) as unknown);
    } catch {
      return undefined;
    }
    if (!body || !Array.isArray(body.values)) return undefined;
    for (const value of body.values as unknown[]) {
      const entry = asObject(value);
      if (!entry || accountOf(entry) !== accountId) continue;
      const name = String(fullNameOf(entry) ?? '').toLowerCase();
      const permission = asPermission(entry.permission);
      if (permission && names.includes(name)) found.set(name, higher(found.get(name) ?? 'none', permission));
    }
    path = typeof body.next === 'string' ? pathBelowRoot(token, body.next) : undefined;
    if (body.next !== undefined && body.next !== null && path === undefined) return undefined;
  }
  return found;
}

/** A `next` link as a path below the transport's API root, or undefined when it leads anywhere else. */
function pathBelowRoot(token: BitbucketTransport, next: string): string | undefined {
  const root = (token.baseUrl ?? BITBUCKET_CLOUD_API_ROOT).replace(/\/+$/, '');
  return next.startsWith(`${root}/`) ? next.slice(root.length) : undefined;
}

/**
 * The caller's permission on `workspace/slug`, read as the caller. A workspace the caller is no member
 * of answers 403/404: that is 'none'. 'unreadable' on any other failure. Throws only when the names
 * cannot be part of a path.
 */
export async function callerRepositoryPermission(asUser: BitbucketTransport, workspace: string, slug: string): Promise<PermissionRead> {
  const full = `${workspace}/${slug}`;
  const q = encodeURIComponent(`repository.full_name=${bbqlString(full)}`);
  const path = `/user/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions/repositories?q=${q}`;
  let res: BitbucketResponse;
  try {
    res = await asUser.request({ method: 'GET', path });
  } catch {
    return 'unreadable';
  }
  if (res.status === 403 || res.status === 404) return 'none';
  if (res.status !== 200) return 'unreadable';
  const values = valuesOf(res.text);
  // Matched by name as well, so a server that ignored the filter cannot lend another repository's permission.
  return values ? highest(values, (v) => String(fullNameOf(v)).toLowerCase() === full.toLowerCase()) : 'unreadable';
}

const LACKS_SCOPES = /lack one or more required privilege scopes/i;

/** Whether `err` is Bitbucket refusing a call for a scope the token lacks (not the account's access). */
export function isMissingScopeError(err: unknown): boolean {
  return err instanceof BitbucketForbiddenError && LACKS_SCOPES.test(err.bitbucketMessage ?? '');
}

/** What the scope probe learnt: the scopes missing, or that the token was refused (401), or no answer. */
export type ScopeProbe = { kind: 'answered'; missing: Set<string> } | { kind: 'refused' } | { kind: 'unanswered' };

/** Scopes a 403 body names as missing, when Bitbucket lists them. */
function scopesNamedIn(text: string): string[] | undefined {
  try {
    const body = JSON.parse(text) as { error?: { data?: { missing?: unknown }; detail?: unknown } };
    const missing = body.error?.data?.missing;
    if (Array.isArray(missing)) return missing.filter((s): s is string => typeof s === 'string');
  } catch {
    // no list to read
  }
  return undefined;
}

/**
 * Which access-key scopes the token lacks. The probe asks for a repository that does not exist:
 * Bitbucket checks scopes before it looks the repository up, so a missing scope answers 403 and a
 * present one 404, and nothing can change (the key id probed is 0, which no key ever has). Four
 * requests, side by side.
 */
export async function probeAccessKeyScopes(transport: BitbucketTransport, workspaceId: string): Promise<ScopeProbe> {
  const repo = `/repositories/${workspaceSegment(workspaceId)}/valohai-scope-probe-${randomBytes(6).toString('hex')}`;
  const probes: { scope: string; needs: string[]; req: BitbucketRequest }[] = [
    { scope: 'read:repository:bitbucket', needs: [], req: { method: 'GET', path: repo } },
    { scope: 'admin:repository:bitbucket', needs: [], req: { method: 'GET', path: `${repo}/deploy-keys` } },
    {
      scope: 'write:ssh-key:bitbucket',
      needs: ['admin:repository:bitbucket'],
      req: { method: 'POST', path: `${repo}/deploy-keys`, body: { key: '', label: 'scope probe' } },
    },
    { scope: 'delete:ssh-key:bitbucket', needs: ['admin:repository:bitbucket'], req: { method: 'DELETE', path: `${repo}/deploy-keys/0` } },
  ];
  let answers: BitbucketResponse[];
  try {
    answers = await Promise.all(probes.map((p) => transport.request(p.req)));
  } catch {
    return { kind: 'unanswered' };
  }
  if (answers.some((res) => res.status === 401)) return { kind: 'refused' };
  const missing = new Set<string>();
  const unsure = new Set<string>();
  probes.forEach((p, i) => {
    const res = answers[i];
    if (!res || res.status !== 403) return;
    const named = scopesNamedIn(res.text);
    if (named) {
      named.forEach((s) => missing.add(s));
      return;
    }
    if (!LACKS_SCOPES.test(bitbucketMessageOf(res.text) ?? '')) return;
    if (p.needs.length) unsure.add(p.scope);
    else missing.add(p.scope);
  });
  // A 403 on a call needing two scopes blames the second only when the first is known to be there.
  for (const scope of unsure) {
    const probe = probes.find((p) => p.scope === scope);
    if (probe && probe.needs.every((n) => !missing.has(n))) missing.add(scope);
  }
  return { kind: 'answered', missing };
}

/**
 * How many access keys a repository has, in one request (the first page's `size`): whether the token may
 * list them at all, for the set-up check. Throws Bitbucket's error, mapped, when it may not.
 */
export async function countAccessKeys(transport: BitbucketTransport, workspace: string, slug: string): Promise<number> {
  const repository = `${workspace}/${slug}`;
  const ctx = { action: `listing the access keys of ${repository}`, repository, idempotent: true };
  const res = await transport.request({ method: 'GET', path: `/repositories/${encodePathSegment(workspace, 'workspace')}/${encodePathSegment(slug, 'repository')}/deploy-keys?pagelen=100` });
  if (res.status !== 200) throw errorForResponse(res, ctx);
  const body = asObject(JSON.parse(res.text) as unknown);
  const values = Array.isArray(body?.values) ? body.values : [];
  return typeof body?.size === 'number' ? body.size : values.length;
}
