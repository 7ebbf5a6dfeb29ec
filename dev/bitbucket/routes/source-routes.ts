/**
 * `GET .../src/{commit}/{path}`: raw file contents, a directory listing, or (`format=meta`) the
 * entry's metadata, read from the bare repository at a commit id or branch name.
 */
import type { HttpReply, Router } from '../../http';
import { isReply, mountRoute, loadRepo, type ApiCall, type ApiDeps } from '../api-route';
import { bbError } from '../errors';
import { listDirectory, readBlob, resolveCommit, treeEntry, type TreeEntry } from '../git-reader';
import { paginate } from '../pagination';
import { commitRef, repoApiUrl, type Urls } from '../serializers';
import type { RepoRecord } from '../state';

function entryJson(entry: TreeEntry, sha: string, repo: RepoRecord, urls: Urls) {
  const base = `${repoApiUrl(repo, urls)}/src/${sha}/${entry.path.split('/').map(encodeURIComponent).join('/')}`;
  const links = { self: { href: base }, meta: { href: `${base}?format=meta` } };
  const common = { path: entry.path, escaped_path: entry.path, commit: commitRef(sha, repo, urls), links };
  if (entry.kind === 'tree') return { type: 'commit_directory', ...common };
  if (entry.kind === 'commit') return { type: 'commit_file', ...common, attributes: 'subrepository', size: 0 };
  return { type: 'commit_file', ...common, size: entry.size ?? 0, mimetype: null };
}

async function getSource(call: ApiCall): Promise<HttpReply> {
  const repo = loadRepo(call, 'read');
  if (isReply(repo)) return repo;
  const { commit = '', path = '' } = call.req.params;
  const format = call.req.query.get('format');
  if (format !== null && format !== 'meta') {
    return bbError(400, `format=${format} is not served here; leave it out for raw contents or use format=meta.`);
  }
  const sha = await resolveCommit(repo.path, commit);
  if (!sha) return bbError(404, `Commit not found: ${commit}`, { detail: 'Use a full commit hash or an existing branch name.' });
  const clean = path.replace(/\/+$/, '');
  const bad = clean.split('/').some((seg) => seg === '.' || seg === '..' || seg === '');
  const entry = bad ? undefined : await treeEntry(repo.path, sha, clean);
  if (!entry) return bbError(404, `No such file or directory: ${path}`);
  if (format === 'meta') return { status: 200, body: entryJson(entry, sha, repo, call.urls) };
  if (entry.kind === 'commit') {
    return bbError(404, `${clean} is a submodule at commit ${entry.oid}; read its files from the submodule's repository.`);
  }
  if (entry.kind === 'tree') {
    const entries = await listDirectory(repo.path, sha, clean);
    const page = paginate(call.req, entries.map((e) => entryJson(e, sha, repo, call.urls)));
    return isReply(page) ? page : { status: 200, body: page };
  }
  // Text only: dev/http.ts sends string bodies as UTF-8, which is what seeded files are.
  return { status: 200, body: (await readBlob(repo.path, entry.oid)).toString('utf8') };
}

export function mountSourceRoutes(router: Router, deps: ApiDeps): void {
  mountRoute(router, deps, 'GET', '/repositories/{workspace}/{repo_slug}/src/{commit}/{path}', getSource);
}
