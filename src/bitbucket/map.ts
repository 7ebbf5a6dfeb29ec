/**
 * Bitbucket JSON to client types. Lenient about extra or renamed fields (real answers carry fields the
 * spec lacks, e.g. `created_on` where the schema says `added_on`), strict about the few the workflows
 * depend on: a missing one returns undefined and the client reports a malformed answer.
 */
import type { AccessKey, BitbucketUser, Repository, RepositoryPermission } from './types';

type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * `ssh://git@host/ws/repo.git` → `git@host:ws/repo.git`; the scp form is what Valohai (and git's
 * relative submodule URLs) expect. A URL with a port has no scp form and is kept as it is.
 */
export function normaliseSshUrl(href: string): string {
  const m = /^ssh:\/\/([^@/]+@)?([^/:]+)\/(.+)$/.exec(href);
  if (!m) return href;
  return `${m[1] ?? 'git@'}${m[2]}:${m[3]}`;
}

function withoutUserInfo(href: string): string {
  try {
    const url = new URL(href);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return href;
  }
}

export function toRepository(body: unknown): Repository | undefined {
  const o = asObject(body);
  if (!o) return undefined;
  const uuid = str(o.uuid);
  const fullName = str(o.full_name);
  if (!uuid || !fullName || !fullName.includes('/')) return undefined;
  const [wsFromName = '', slugFromName = ''] = fullName.split('/');
  const workspace = str(asObject(o.workspace)?.slug) ?? wsFromName;
  const slug = str(o.slug) ?? slugFromName;
  const links = asObject(o.links);
  const clone = Array.isArray(links?.clone) ? links.clone.map(asObject) : [];
  const cloneHref = (name: string) => str(clone.find((c) => c?.name === name)?.href);
  const htmlUrl = str(asObject(links?.html)?.href) ?? `https://bitbucket.org/${fullName}`;
  const host = (() => {
    try {
      return new URL(htmlUrl).host;
    } catch {
      return 'bitbucket.org';
    }
  })();
  const ssh = cloneHref('ssh');
  const https = cloneHref('https');
  return {
    uuid,
    slug,
    name: str(o.name) ?? slug,
    fullName,
    workspace,
    isPrivate: o.is_private === true,
    mainBranch: str(asObject(o.mainbranch)?.name) ?? null,
    sshUrl: ssh ? normaliseSshUrl(ssh) : `git@${host}:${fullName}.git`,
    httpsUrl: https ? withoutUserInfo(https) : `https://${host}/${fullName}.git`,
    htmlUrl,
  };
}

/** `type base64` of an authorized_keys line (options-free), comment dropped. */
function keyTypeAndBody(line: string): string {
  const [type = '', body = ''] = line.trim().split(/\s+/);
  return body ? `${type} ${body}` : type;
}

export function toAccessKey(body: unknown): AccessKey | undefined {
  const o = asObject(body);
  if (!o) return undefined;
  const id = typeof o.id === 'number' ? o.id : typeof o.id === 'string' && /^\d+$/.test(o.id) ? Number(o.id) : undefined;
  const key = str(o.key);
  if (id === undefined || key === undefined) return undefined;
  const out: AccessKey = {
    id,
    key: keyTypeAndBody(key),
    label: str(o.label) ?? '',
    lastUsed: str(o.last_used) ?? null,
  };
  const comment = str(o.comment);
  if (comment) out.comment = comment;
  const createdOn = str(o.created_on) ?? str(o.added_on);
  if (createdOn) out.createdOn = createdOn;
  const repository = str(asObject(o.repository)?.full_name);
  if (repository) out.repository = repository;
  return out;
}

const PERMISSIONS: readonly RepositoryPermission[] = ['admin', 'write', 'read'];

/** The permission in a repository-permission entry, when the entry is about `repoUuid`. */
export function permissionFor(value: unknown, repoUuid: string): RepositoryPermission | undefined {
  const o = asObject(value);
  const uuid = str(asObject(o?.repository)?.uuid);
  if (uuid?.toLowerCase() !== repoUuid.toLowerCase()) return undefined;
  const permission = str(o?.permission);
  return PERMISSIONS.find((p) => p === permission) ?? 'none';
}

export function toUser(body: unknown): BitbucketUser | undefined {
  const o = asObject(body);
  const accountId = str(o?.account_id);
  if (!o || !accountId) return undefined;
  const user: BitbucketUser = { accountId, displayName: str(o.display_name) ?? str(o.nickname) ?? accountId };
  const nickname = str(o.nickname);
  if (nickname) user.nickname = nickname;
  return user;
}
