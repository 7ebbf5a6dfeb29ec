/** Repository reads: one repository, a workspace's repositories, one branch. */
import type { HttpReply, Router } from '../../http';
import { isReply, mountRoute, loadRepo, type ApiCall, type ApiDeps } from '../api-route';
import { permissionOn } from '../auth';
import { QueryError, filterByQuery, sortByField } from '../bbql';
import { bbError } from '../errors';
import { branchTip, commitInfo } from '../git-reader';
import { paginate } from '../pagination';
import { branchJson, repoJson } from '../serializers';
import { permissionAtLeast, type RepoRecord } from '../state';
import type { RepoPermission } from '../../seed/seed-types';

const REPO = '/repositories/{workspace}/{repo_slug}';

async function repoReply(call: ApiCall, repo: RepoRecord) {
  return repoJson(repo, call.urls, (await branchTip(repo.path, repo.mainBranch)) !== undefined);
}

const ROLE_NEEDS: Record<string, RepoPermission> = { member: 'read', contributor: 'write', admin: 'admin', owner: 'admin' };

async function listRepos(call: ApiCall): Promise<HttpReply> {
  const slug = call.req.params.workspace ?? '';
  const ws = call.state.findWorkspace(slug);
  if (!ws) return bbError(404, `No workspace with identifier '${slug}'.`);
  const role = call.req.query.get('role');
  if (role !== null && !(role in ROLE_NEEDS)) return bbError(400, `Invalid role "${role}": use member, contributor, admin or owner.`);
  const need = role ? (ROLE_NEEDS[role] as RepoPermission) : 'read';
  const visible = call.state.repos
    .filter((r) => r.workspace === ws && permissionAtLeast(permissionOn(call.state, call.principal, r), need))
    .sort((a, b) => a.slug.localeCompare(b.slug));
  let values: unknown[] = await Promise.all(visible.map((r) => repoReply(call, r)));
  try {
    values = sortByField(filterByQuery(values, call.req.query.get('q')), call.req.query.get('sort'));
  } catch (err) {
    if (err instanceof QueryError) return bbError(400, err.message);
    throw err;
  }
  const page = paginate(call.req, values);
  return isReply(page) ? page : { status: 200, body: page };
}

async function getBranch(call: ApiCall): Promise<HttpReply> {
  const repo = loadRepo(call, 'read');
  if (isReply(repo)) return repo;
  const name = call.req.params.name ?? '';
  const tip = await branchTip(repo.path, name);
  if (!tip) return bbError(404, `Branch "${name}" not found in ${repo.workspace.slug}/${repo.slug}`);
  return { status: 200, body: branchJson(name, await commitInfo(repo.path, tip), repo, call.urls) };
}

export function mountRepositoryRoutes(router: Router, deps: ApiDeps): void {
  mountRoute(router, deps, 'GET', '/repositories/{workspace}', listRepos);
  mountRoute(router, deps, 'GET', REPO, async (call) => {
    const repo = loadRepo(call, 'read');
    return isReply(repo) ? repo : { status: 200, body: await repoReply(call, repo) };
  });
  mountRoute(router, deps, 'GET', `${REPO}/refs/branches/{name}`, getBranch);
}
