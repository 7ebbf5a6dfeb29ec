/**
 * The JSON shapes Bitbucket Cloud answers with (fields as the spec and real responses name them).
 * API links are built on the address the client used, so `links.self` and `next` work against the
 * emulator; web and clone links use the Bitbucket host names the product expects.
 */
import type { CommitInfo } from './git-reader';
import type { AccessKeyEntry, RepoRecord, UserRecord, WorkspaceRecord } from './state';

export interface Urls {
  /** API base including `/2.0`, e.g. `http://127.0.0.1:1234/2.0`. */
  api: string;
  /** Host in clone URLs, `bitbucket.org` unless configured otherwise. */
  gitHost: string;
}

const WEB = 'https://bitbucket.org';
const link = (href: string) => ({ href });
const enc = encodeURIComponent;

/** Bitbucket's timestamp form: microseconds and an explicit offset. */
export function bbTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000+00:00');
}

function repoPath(repo: RepoRecord): string {
  return `${enc(repo.workspace.slug)}/${enc(repo.slug)}`;
}

export function repoApiUrl(repo: RepoRecord, urls: Urls): string {
  return `${urls.api}/repositories/${repoPath(repo)}`;
}

export function fullName(repo: RepoRecord): string {
  return `${repo.workspace.slug}/${repo.slug}`;
}

function avatar(kind: string, uuid: string): { href: string } {
  return link(`https://bytebucket.org/ravatar/${enc(uuid)}?kind=${kind}`);
}

export function repoSummary(repo: RepoRecord, urls: Urls) {
  return {
    type: 'repository',
    full_name: fullName(repo),
    name: repo.name,
    uuid: repo.uuid,
    links: { self: link(repoApiUrl(repo, urls)), html: link(`${WEB}/${repoPath(repo)}`), avatar: avatar('repository', repo.uuid) },
  };
}

export function workspaceJson(ws: WorkspaceRecord, urls: Urls) {
  return {
    type: 'workspace',
    uuid: ws.uuid,
    slug: ws.slug,
    name: ws.name,
    is_private: true,
    created_on: bbTime(ws.createdOn),
    links: {
      self: link(`${urls.api}/workspaces/${enc(ws.slug)}`),
      html: link(`${WEB}/${enc(ws.slug)}/`),
      avatar: avatar('workspace', ws.uuid),
      repositories: link(`${urls.api}/repositories/${enc(ws.slug)}`),
    },
  };
}

/** Repositories are owned by their workspace, which the API still presents as a team account. */
function ownerJson(ws: WorkspaceRecord, urls: Urls) {
  return {
    type: 'team',
    uuid: ws.uuid,
    username: ws.slug,
    display_name: ws.name,
    links: {
      self: link(`${urls.api}/workspaces/${enc(ws.slug)}`),
      html: link(`${WEB}/${enc(ws.slug)}/`),
      avatar: avatar('team', ws.uuid),
    },
  };
}

export function userJson(user: UserRecord, urls: Urls) {
  return {
    type: 'user',
    uuid: user.uuid,
    account_id: user.accountId,
    nickname: user.nickname,
    display_name: user.displayName,
    account_status: 'active',
    created_on: bbTime(user.createdOn),
    is_staff: false,
    links: {
      self: link(`${urls.api}/users/${enc(user.uuid)}`),
      html: link(`${WEB}/${enc(user.uuid)}/`),
      avatar: avatar('user', user.uuid),
    },
  };
}

export function repoJson(repo: RepoRecord, urls: Urls, hasMainBranch: boolean) {
  const api = repoApiUrl(repo, urls);
  const html = `${WEB}/${repoPath(repo)}`;
  return {
    type: 'repository',
    uuid: repo.uuid,
    full_name: fullName(repo),
    slug: repo.slug,
    name: repo.name,
    description: repo.description,
    is_private: repo.isPrivate,
    scm: 'git',
    mainbranch: hasMainBranch ? { name: repo.mainBranch, type: 'branch' } : null,
    created_on: bbTime(repo.createdOn),
    updated_on: bbTime(repo.createdOn),
    language: '',
    has_issues: false,
    has_wiki: false,
    fork_policy: 'no_public_forks',
    owner: ownerJson(repo.workspace, urls),
    workspace: workspaceJson(repo.workspace, urls),
    links: {
      self: link(api),
      html: link(html),
      avatar: avatar('repository', repo.uuid),
      commits: link(`${api}/commits`),
      branches: link(`${api}/refs/branches`),
      source: link(`${api}/src`),
      hooks: link(`${api}/hooks`),
      clone: [
        { name: 'https', href: `https://${urls.gitHost}/${repoPath(repo)}.git` },
        { name: 'ssh', href: `git@${urls.gitHost}:${repoPath(repo)}.git` },
      ],
    },
  };
}

export function commitJson(info: CommitInfo, repo: RepoRecord, urls: Urls) {
  const api = repoApiUrl(repo, urls);
  return {
    type: 'commit',
    hash: info.hash,
    date: info.date,
    message: info.message,
    author: { type: 'author', raw: `${info.authorName} <${info.authorEmail}>` },
    parents: info.parents.map((p) => ({
      type: 'commit',
      hash: p,
      links: { self: link(`${api}/commit/${p}`), html: link(`${WEB}/${repoPath(repo)}/commits/${p}`) },
    })),
    repository: repoSummary(repo, urls),
    links: { self: link(`${api}/commit/${info.hash}`), html: link(`${WEB}/${repoPath(repo)}/commits/${info.hash}`) },
  };
}

/** A commit as the `src` endpoint names it: just the id and links. */
export function commitRef(hash: string, repo: RepoRecord, urls: Urls) {
  const api = repoApiUrl(repo, urls);
  return { type: 'commit', hash, links: { self: link(`${api}/commit/${hash}`), html: link(`${WEB}/${repoPath(repo)}/commits/${hash}`) } };
}

export function branchJson(name: string, target: CommitInfo, repo: RepoRecord, urls: Urls) {
  const api = repoApiUrl(repo, urls);
  return {
    type: 'branch',
    name,
    target: commitJson(target, repo, urls),
    merge_strategies: ['merge_commit', 'squash', 'fast_forward'],
    default_merge_strategy: 'merge_commit',
    links: {
      self: link(`${api}/refs/branches/${enc(name)}`),
      commits: link(`${api}/commits/${enc(name)}`),
      html: link(`${WEB}/${repoPath(repo)}/branch/${enc(name)}`),
    },
  };
}

export function accessKeyJson(entry: AccessKeyEntry, urls: Urls) {
  return {
    type: 'deploy_key',
    id: entry.id,
    key: entry.key,
    comment: entry.comment,
    label: entry.label,
    created_on: bbTime(entry.createdOn),
    last_used: entry.lastUsed ? bbTime(entry.lastUsed) : null,
    repository: repoSummary(entry.repo, urls),
    links: { self: link(`${repoApiUrl(entry.repo, urls)}/deploy-keys/${entry.id}`) },
  };
}
