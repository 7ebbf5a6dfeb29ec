/**
 * The two workspace-level Bitbucket reads the pages need that the Bitbucket client does not offer:
 * the caller's workspace role, and the workspace's repositories. Both go over a transport (asUser and
 * asApp respectively), with the client's error mapping.
 */
import type { BitbucketTransport, Repository } from '../../bitbucket/index';
import { errorForResponse, malformedResponse, type RequestContext } from '../../bitbucket/errors';
import { asObject, toRepository } from '../../bitbucket/map';
import { bracedUuid } from '../store/keys';

export interface WorkspaceMembership {
  /** `owner` administers the workspace; `none` when the caller is not a member. */
  permission: 'owner' | 'create-project' | 'collaborator' | 'member' | 'none';
  workspace: { slug: string; name: string } | null;
}

const workspacePath = (workspaceId: string) => `/${encodeURIComponent(bracedUuid(workspaceId, 'workspace'))}`;

function parse(text: string, ctx: RequestContext, status: number): Record<string, unknown> {
  try {
    const body = asObject(JSON.parse(text) as unknown);
    if (body) return body;
  } catch {
    // reported below
  }
  throw malformedResponse(ctx, status);
}

/**
 * The caller's role in the workspace (`GET /user/workspaces/{workspace}/permission`, Forge-callable,
 * scope `read:workspace:bitbucket`). Bitbucket answers 403 to a non-member: that is 'none', not a failure.
 */
export async function getWorkspaceMembership(asUser: BitbucketTransport, workspaceId: string): Promise<WorkspaceMembership> {
  const ctx: RequestContext = { action: 'reading your role in this workspace', idempotent: true };
  const res = await asUser.request({ method: 'GET', path: `/user/workspaces${workspacePath(workspaceId)}/permission` });
  if (res.status === 403 || res.status === 404) return { permission: 'none', workspace: null };
  if (res.status < 200 || res.status >= 300) throw errorForResponse(res, ctx);
  const body = parse(res.text, ctx, res.status);
  const ws = asObject(body.workspace);
  const slug = typeof ws?.slug === 'string' ? ws.slug : '';
  const name = typeof ws?.name === 'string' ? ws.name : slug;
  const roles = ['owner', 'create-project', 'collaborator', 'member'] as const;
  const permission = roles.find((r) => r === body.permission) ?? 'none';
  return { permission, workspace: slug ? { slug, name } : null };
}

export interface RepositoryListing {
  repositories: Repository[];
  truncated: boolean;
  /** Slug and name of the workspace, as the repositories carry them (null on an empty workspace). */
  workspace: { slug: string; name: string } | null;
}

export interface RepositoryPage {
  repositories: Repository[];
  /** The next page's path below `/2.0`, or null on the last page. */
  next: string | null;
  /** How many repositories the whole listing holds, when Bitbucket says. */
  size: number | null;
  workspace: { slug: string; name: string } | null;
}

/** The first listing page's path: 100 a page, by slug, so a stored cursor resumes the same order. */
export function firstRepositoryPage(workspaceId: string): string {
  return `/repositories${workspacePath(workspaceId)}?pagelen=100&sort=slug`;
}

/**
 * One page of the workspace's repositories. `path` is firstRepositoryPage's or a `next` this function
 * returned; a `next` link is kept only as a path below `/2.0`, so it can never send a request elsewhere.
 */
export async function listRepositoryPage(asApp: BitbucketTransport, path: string): Promise<RepositoryPage> {
  const ctx: RequestContext = { action: "listing the workspace's repositories", idempotent: true };
  const res = await asApp.request({ method: 'GET', path });
  if (res.status < 200 || res.status >= 300) throw errorForResponse(res, ctx);
  const body = parse(res.text, ctx, res.status);
  const values = Array.isArray(body.values) ? body.values : [];
  const repositories: Repository[] = [];
  let workspace: RepositoryPage['workspace'] = null;
  for (const value of values) {
    const repo = toRepository(value);
    if (!repo) continue;
    repositories.push(repo);
    const ws = asObject(asObject(value)?.workspace);
    if (!workspace && typeof ws?.slug === 'string') workspace = { slug: ws.slug, name: typeof ws.name === 'string' ? ws.name : ws.slug };
  }
  const next = typeof body.next === 'string' && body.next ? (nextPath(body.next) ?? null) : null;
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

/** Only the path below `/2.0` of a `next` link is kept, so a link can never send a request elsewhere. */
function nextPath(next: string): string | undefined {
  try {
    const url = new URL(next, 'https://api.bitbucket.org/');
    const i = url.pathname.indexOf('/2.0/');
    return i < 0 ? undefined : `${url.pathname.slice(i + 4)}${url.search}`;
  } catch {
    return undefined;
  }
}
