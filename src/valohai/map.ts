/** Valohai JSON to client types: lenient about extra fields, strict about the ones used. */
import type { Project, ValohaiCommit, ValohaiUser } from './types';

type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function toUser(body: unknown): ValohaiUser | undefined {
  const o = asObject(body);
  const username = str(o?.username);
  if (!o || !username) return undefined;
  const user: ValohaiUser = { username };
  if (typeof o.id === 'number' || typeof o.id === 'string') user.id = o.id;
  const email = str(o.email);
  if (email) user.email = email;
  return user;
}

export function toProject(body: unknown): Project | undefined {
  const o = asObject(body);
  const id = str(o?.id);
  const name = str(o?.name);
  if (!o || !id || name === undefined) return undefined;
  const ownerObj = asObject(o.owner);
  const owner = str(o.owner) ?? str(ownerObj?.username) ?? str(ownerObj?.name);
  const repo = asObject(o.repository);
  const repoId = typeof repo?.id === 'number' ? repo.id : typeof repo?.id === 'string' && /^\d+$/.test(repo.id) ? Number(repo.id) : undefined;
  const project: Project = {
    id,
    name,
    repository: repo && repoId !== undefined ? { id: repoId, url: str(repo.url) ?? '', ref: str(repo.ref) ?? '' } : null,
  };
  if (owner) project.owner = owner;
  return project;
}

export function toCommit(body: unknown): ValohaiCommit | undefined {
  const o = asObject(body);
  const identifier = str(o?.identifier);
  if (!o || !identifier) return undefined;
  const commit: ValohaiCommit = { identifier };
  const ref = str(o.ref);
  if (ref) commit.ref = ref;
  if (Array.isArray(o.ref_names)) commit.refNames = o.ref_names.filter((r): r is string => typeof r === 'string');
  const commitTime = str(o.commit_time);
  if (commitTime) commit.commitTime = commitTime;
  return commit;
}
