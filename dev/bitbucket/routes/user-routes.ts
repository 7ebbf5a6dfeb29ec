/** The calling user: account, workspace membership, effective repository permissions. */
import type { HttpReply, Router } from '../../http';
import { isReply, mountRoute, type ApiCall, type ApiDeps } from '../api-route';
import type { UserPrincipal } from '../auth';
import { QueryError, filterByQuery, sortByField } from '../bbql';
import { bbError } from '../errors';
import { paginate } from '../pagination';
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

function repositoryPermissions(call: ApiCall): HttpReply {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const user = userOf(call);
  const values: unknown[] = call.state.repos
    .filter((r) => r.workspace === ws)
    .sort((a, b) => fullName(a).localeCompare(fullName(b)))
    .flatMap((repo) => {
      const permission = call.state.grantedPermission(user, repo);
      if (!permission) return [];
      return [{ type: 'repository_permission', permission, user: userJson(user, call.urls), repository: repoSummary(repo, call.urls) }];
    });
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

export function mountUserRoutes(router: Router, deps: ApiDeps): void {
  mountRoute(router, deps, 'GET', '/user', (call) => ({ status: 200, body: userJson(userOf(call), call.urls) }));
  mountRoute(router, deps, 'GET', '/user/workspaces/{workspace}/permission', workspacePermission);
  mountRoute(router, deps, 'GET', '/user/workspaces/{workspace}/permissions/repositories', repositoryPermissions);
}
