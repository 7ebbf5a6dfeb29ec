/**
 * Workspace-level reads the client does not offer: an account's role in a workspace, the caller's own
 * membership, and the workspace's repository listing page by page. Each answers over the transport it
 * is given (as the app, as the caller or with a stored token) and maps failures as the client does.
 * They make exactly one request per call (per page), never retried: a page load's request count is
 * what the pages' cost tests measure.
 */
import { encodePathSegment } from '../http/path';
import { errorForResponse, malformedResponse, type RequestContext } from './errors';
import { asObject, toRepository } from './map';
import { bbqlString, workspaceSegment, workspaceUuidSegment } from './query';
import type { BitbucketTransport } from './transport';
import type { Repository } from './types';

export type WorkspaceRole = 'owner' | 'collaborator' | 'member' | 'none';

/** `accountId`'s role in `workspace` (slug or `{uuid}`); 'none' when the account is no member. Throws on any other failure. */
export async function accountWorkspaceRole(transport: BitbucketTransport, workspace: string, accountId: string): Promise<WorkspaceRole> {
  const ctx: RequestContext = { action: 'reading the role of the account that made the connection', idempotent: true };
  const q = encodeURIComponent(`user.account_id=${bbqlString(accountId)}`);
  const res = await transport.request({ method: 'GET', path: `/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions?q=${q}` });
  if (res.status !== 200) throw errorForResponse(res, ctx);
  let values: unknown;
  try {
    values = (JSON.parse(res.text) as { values?: unknown }).values;
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values)) throw malformedResponse(ctx, res.status);
  const mine = (values as Record<string, unknown>[]).find((v) => (v.user as { account_id?: unknown } | undefined)?.account_id === accountId);
  const role = mine?.permission;
  return role === 'owner' || role === 'collaborator' || role === 'member' ? role : 'none';
}

export interface WorkspaceMembership {
  /** `owner` administers the workspace; `none` when the caller is not a member. */
  permission: 'owner' | 'create-project' | 'collaborator' | 'member' | 'none';
  workspace: { slug: string; name: string } | null;
}

const MEMBER_ROLES = ['owner', 'create-project', 'collaborator', 'member'] as const;

function parseObject(text: string, ctx: RequestContext, status: number): Record<string, unknown> {
  try {
    const body = asObject(JSON.parse(text) as unknown);
    if (body) return body;
  } catch {
    // reported below
  }
  throw malformedResponse(ctx, status);
}

/** Where the transport's own account reads its role in a workspace named by its UUID. */
function ownPermissionPath(workspaceId: string): string {
  return `/user/workspaces/${workspaceSegment(workspaceId)}/permission`;
}

/**
 * The caller's role in the workspace (`GET /user/workspaces/{workspace}/permission`, Forge-callable,
 * scope `read:workspace:bitbucket`). Bitbucket answers 403 to a non-member: that is 'none', not a failure.
 * A transport that throws is not caught: a Forge consent prompt must reach the resolver as it is.
 */
export async function getWorkspaceMembership(asUser: BitbucketTransport, workspaceId: string): Promise<WorkspaceMembership> {
  const ctx: RequestContext = { action: 'reading your role in this workspace', idempotent: true };
  const res = await asUser.request({ method: 'GET', path: ownPermissionPath(workspaceId) });
  if (res.status === 403 || res.status === 404) return { permission: 'none', workspace: null };
  if (res.status < 200 || res.status >= 300) throw errorForResponse(res, ctx);
  const body = parseObject(res.text, ctx, res.status);
  const ws = asObject(body.workspace);
  const slug = typeof ws?.slug === 'string' ? ws.slug : '';
  const name = typeof ws?.name === 'string' ? ws.name : slug;
  const permission = MEMBER_ROLES.find((r) => r === body.permission) ?? 'none';
  return { permission, workspace: slug ? { slug, name } : null };
}

/**
 * Whether a token's own account administers the workspace, read like getWorkspaceMembership but as a
 * probe: 404 is "no"; any other refusal (403 is also what a token without read:workspace:bitbucket
 * gets), a failure or an unreadable answer is null, "cannot tell".
 */
export async function tokenAdministersWorkspace(transport: BitbucketTransport, workspaceId: string): Promise<boolean | null> {
  let res;
  try {
    res = await transport.request({ method: 'GET', path: ownPermissionPath(workspaceId) });
  } catch {
    return null;
  }
  if (res.status === 404) return false;
  if (res.status < 200 || res.status >= 300) return null;
  try {
    return (JSON.parse(res.text) as { permission?: unknown }).permission === 'owner';
  } catch {
    return null;
  }
}

export interface RepositoryListing {
  repositories: Repository[];
  truncated: boolean;
  /** Slug and name of the workspace, as the repositories carry them (null on an empty workspace). */
  workspace: { slug: string; name: string } | null;
}

export interface WorkspaceRepositoryPage {
  repositories: Repository[];
  /** The next page's path below `/2.0`, or null on the last page. */
  next: string | null;
  /** How many repositories the whole listing holds, when Bitbucket says. */
  size: number | null;
  workspace: { slug: string; name: string } | null;
}

/**
 * The first listing page's path: 100 a page, by slug, so a stored cursor resumes the same order. The
 * path (and each `next` listRepositoryPage returns) is an opaque cursor to callers, who may store it.
 */
export function firstRepositoryPage(workspaceId: string): string {
  return `/repositories/${workspaceUuidSegment(workspaceId)}?pagelen=100&sort=slug`;
}

/**
 * One page of the workspace's repositories. `path` is firstRepositoryPage's or a `next` this function
 * returned; a `next` link is kept only as a path below `/2.0`, so it can never send a request elsewhere.
 * Entries that are no repository are skipped: one odd entry does not cost the whole listing.
 */
export async function listRepositoryPage(asApp: BitbucketTransport, path: string): Promise<WorkspaceRepositoryPage> {
  const ctx: RequestContext = { action: "listing the workspace's repositories", idempotent: true };
  const res = await asApp.request({ method: 'GET', path });
  if (res.status < 200 || res.status >= 300) throw errorForResponse(res, ctx);
  const body = parseObject(res.text, ctx, res.status);
  const values = Array.isArray(body.values) ? body.values : [];
  const repositories: Repository[] = [];
  let workspace: WorkspaceRepositoryPage['workspace'] = null;
  for (const value of values) {
    const repo = toRepository(value);
    if (!repo) continue;
    repositories.push(repo);
    const ws = asObject(asObject(value)?.workspace);
    if (!workspace && typeof ws?.slug === 'string') workspace = { slug: ws.slug, name: typeof ws.name === 'string' ? ws.name : ws.slug };
  }
  const next = typeof body.next === 'string' && body.next ? (pathBelowApi(body.next) ?? null) : null;
  if (next === path) throw malformedResponse(ctx, 200, 'kept pointing to the same page');
  const size = typeof body.size === 'number' && Number.isSafeInteger(body.size) && body.size >= 0 ? body.size : null;
  return { repositories, next, size, workspace };
}

/** The workspace's repositories, up to `max` (Bitbucket pages of 100, `next` followed within the API only). */
export async function listWorkspaceRepositories(asApp: BitbucketTransport, workspaceId: string, max: number): Promise<RepositoryListing> {
  const ctx: RequestContext = { action: "listing the workspace's repositories", idempotent: true };
  const repositories: Repository[] = [];
  let workspace: RepositoryListing['workspace'] = null;
  let path: string | undefined = firstRepositoryPage(workspaceId);
  const seen = new Set<string>();
  while (path !== undefined && repositories.length < max) {
    if (seen.has(path)) throw malformedResponse(ctx, 200, 'kept pointing to the same page');
    seen.add(path);
    const page = await listRepositoryPage(asApp, path);
    repositories.push(...page.repositories);
    workspace ??= page.workspace;
    path = page.next ?? undefined;
  }
  return { repositories: repositories.slice(0, max), truncated: path !== undefined || repositories.length > max, workspace };
}

/**
 * Only the path below `/2.0` of a `next` link is kept, whatever its host, so a link can never send a
 * request elsewhere: the path goes back to the same transport. (The client's pager checks the host
 * against the transport's root instead; a transport handed to the pages need not name its root, so
 * the listing keeps to the path.)
 */
function pathBelowApi(next: string): string | undefined {
  try {
    const url = new URL(next, 'https://api.bitbucket.org/');
    const i = url.pathname.indexOf('/2.0/');
    return i < 0 ? undefined : `${url.pathname.slice(i + 4)}${url.search}`;
  } catch {
    return undefined;
  }
}
