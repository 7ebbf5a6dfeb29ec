/** The calling user: account, workspace membership, effective repository permissions. */
import type { HttpReply, Router } from '../../http';
import { isReply, loadRepo, mountRoute, type ApiCall, type ApiDeps } from '../api-route';
import type { UserPrincipal } from '../auth';
import { QueryError, filterByQuery, sortByField } from '../bbql';
import { bbError } from '../errors';
import { paginate } from '../pagination';
import type { RepoRecord, UserRecord } from '../state';
import { fullName, repoSummary, userJson, workspaceJson } from '../serializers';

// Route requirements keep access tokens out of /user routes, so the caller is always a user here.
const userOf = (call: ApiCall) => (call.principal as UserPrincipal).user;

function workspacePermission(call: ApiCall): HttpReply {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const user = userOf(call);
  const role = call.state.workspaceRole(user, ws);
  if (!role) return bbError(403, `${user.email} is not a member of workspace ${ws.slug}.`);
  return {
    status: 200,
    body: {
      type: 'workspace_membership',
      permission: role,
      user: userJson(user, call.urls),
      workspace: workspaceJson(ws, call.urls),
      links: { self: { href: `${call.urls.api}/workspaces/${encodeURIComponent(ws.slug)}/members/${encodeURIComponent(user.uuid)}` } },
    },
  };
}

/** A `repository_permission` for what `user` was granted on `repo`, or none. */
function permissionEntry(call: ApiCall, user: UserRecord, repo: RepoRecord): unknown[] {
  const permission = call.state.grantedPermission(user, repo);
  if (!permission) return [];
  return [{ type: 'repository_permission', permission, user: userJson(user, call.urls), repository: repoSummary(repo, call.urls) }];
}

/** `values` filtered and sorted by `q`/`sort`, one page of them. */
function permissionPage(call: ApiCall, values: unknown[]): HttpReply {
  let filtered: unknown[];
  try {
    filtered = sortByField(filterByQuery(values, call.req.query.get('q')), call.req.query.get('sort'));
  } catch (err) {
    if (err instanceof QueryError) return bbError(400, err.message);
    throw err;
  }
  const page = paginate(call.req, filtered);
  return isReply(page) ? page : { status: 200, body: page };
}

function repositoryPermissions(call: ApiCall): HttpReply {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const user = userOf(call);
  const values: unknown[] = call.state.repos
    .filter((r) => r.workspace === ws)
    .sort((a, b) => fullName(a).localeCompare(fullName(b)))
    .flatMap((repo) => {
      return permissionEntry(call, user, repo);
    });
  return permissionPage(call, values);
}

/**
 * Every user's effective permission on one repository; only its admins may read it (Bitbucket answers
 * 403 otherwise). Workspace owners count as admins, as their permission is effective.
 */
function repositoryUserPermissions(call: ApiCall): HttpReply {
  const repo = loadRepo(call, 'admin');
  if (isReply(repo)) return repo;
  const values: unknown[] = call.state.users.flatMap((user) => permissionEntry(call, user, repo));
  return permissionPage(call, values);
}

/**
 * Every user's effective permission on every repository of the workspace, for its admins only
 * (Bitbucket answers 403 to anyone else): a workspace admin's token asks once, with `q`, about many
 * repositories.
 */
function workspaceRepositoryPermissions(call: ApiCall): HttpReply {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const user = userOf(call);
  if (call.state.workspaceRole(user, ws) !== 'owner') {
    return bbError(403, `Only administrators of workspace ${ws.slug} may list its repository permissions.`);
  }
  const values: unknown[] = call.state.repos
    .filter((r) => r.workspace === ws)
    .sort((a, b) => fullName(a).localeCompare(fullName(b)))
    .flatMap((repo) => call.state.users.flatMap((u) => permissionEntry(call, u, repo)));
  return permissionPage(call, values);
}

/**
 * The workspace's members and their roles (`workspace_membership`), filterable with `q` (for example
 * `user.account_id="…"`). A member reads it, and so does an access token bound to the workspace (the
 * app's own identity); anyone else is refused.
 */
function workspaceMembers(call: ApiCall): HttpReply {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const principal = call.principal;
  const allowed =
    principal.kind === 'user' ? call.state.workspaceRole(principal.user, ws) !== undefined : principal.token.kind === 'workspace' && principal.token.workspace === ws;
  if (!allowed) return bbError(403, `Only members of workspace ${ws.slug} may list its members.`);
  const values: unknown[] = call.state.memberships
    .filter((m) => m.workspace === ws)
    .map((m) => ({ type: 'workspace_membership', permission: m.role, user: userJson(m.user, call.urls), workspace: workspaceJson(ws, call.urls) }));
  return permissionPage(call, values);
}

export function mountUserRoutes(router: Router, deps: ApiDeps): void {
  mountRoute(router, deps, 'GET', '/user', (call) => ({ status: 200, body: userJson(userOf(call), call.urls) }));
  mountRoute(router, deps, 'GET', '/user/workspaces/{workspace}/permission', workspacePermission);
  mountRoute(router, deps, 'GET', '/user/workspaces/{workspace}/permissions/repositories', repositoryPermissions);
  mountRoute(router, deps, 'GET', '/workspaces/{workspace}/permissions', workspaceMembers);
  mountRoute(router, deps, 'GET', '/workspaces/{workspace}/permissions/repositories', workspaceRepositoryPermissions);
  mountRoute(router, deps, 'GET', '/workspaces/{workspace}/permissions/repositories/{repo_slug}', repositoryUserPermissions);
}
