/**
 * The bar's push: who pushes, and what it does to `.gitmodules`. A push is checked as Bitbucket checks
 * one (only people with write access push), and a submodule change is a real commit of `.gitmodules` and
 * the gitlink, so every reader of the repository (the app, git, Valohai's fetch) sees a submodule. This
 * is how the preview plays a writer who names a repository they cannot reach and waits for unattended
 * work to give it the connection's key.
 */
import { parseGitmodules } from '../../src/git/index';
import { branchTip, readBlob, treeEntry } from '../bitbucket/git-reader';
import { permissionAtLeast, type BitbucketState, type RepoRecord } from '../bitbucket/state';
import { PEOPLE, isPerson, type Person } from './people';

/** A submodule as the bar lists it. */
export interface SubmoduleEntry {
  name: string;
  path: string;
  url: string;
}

export interface PushRequest {
  workspace: string;
  repository: string;
  /** Who pushes; the workspace admin when not named. */
  as: Person;
  /** Slug of a repository of the same workspace, added at `vendor/<slug>` by its SSH URL. */
  addSubmodule?: string;
  /** Path (or name) of a submodule the current `.gitmodules` names. */
  removeSubmodule?: string;
}

/** A push the preview refuses, with the HTTP status to answer and a message that names the fix. */
export class PushRefusal extends Error {
  constructor(
    readonly status: 400 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'PushRefusal';
  }
}

const FIELDS = ['workspace', 'repository', 'as', 'addSubmodule', 'removeSubmodule'];
/** Bitbucket's repository slugs: lower-case letters, digits, `-`, `_` and `.`. */
const SLUG = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const MAX_PATH = 256;
// eslint-disable-next-line no-control-regex -- no submodule path holds one, and the refusal message echoes the path
const CONTROL = /[\0-\x1f\x7f]/;

export const submodulePathFor = (slug: string): string => `vendor/${slug}`;
export const sshUrlFor = (workspace: string, slug: string): string => `git@bitbucket.org:${workspace}/${slug}.git`;

/** The body of POST /preview/push, checked field by field; anything else is refused with the reason. */
export function parsePushRequest(body: unknown): PushRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PushRefusal(400, 'The body must be a JSON object: {"workspace": ..., "repository": ..., "as": ..., "addSubmodule": ..., "removeSubmodule": ...}.');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw new PushRefusal(400, `Unknown field ${unknown.join(', ')}: a push takes ${FIELDS.join(', ')}.`);
  const { workspace, repository, as, addSubmodule, removeSubmodule } = fields;
  if (typeof workspace !== 'string' || typeof repository !== 'string') {
    throw new PushRefusal(400, 'workspace and repository must be the slugs of the repository to push to, as strings.');
  }
  if (as !== undefined && (typeof as !== 'string' || !isPerson(as))) {
    throw new PushRefusal(400, `as must be one of ${Object.keys(PEOPLE).join(', ')}.`);
  }
  if (addSubmodule !== undefined && (typeof addSubmodule !== 'string' || !SLUG.test(addSubmodule))) {
    throw new PushRefusal(400, 'addSubmodule must be the slug of a repository of the same workspace, such as crown-jewels.');
  }
  if (
    removeSubmodule !== undefined &&
    (typeof removeSubmodule !== 'string' || removeSubmodule === '' || removeSubmodule.length > MAX_PATH || CONTROL.test(removeSubmodule))
  ) {
    throw new PushRefusal(400, 'removeSubmodule must be the path of a submodule the repository\'s .gitmodules names, such as datasets.');
  }
  return {
    workspace,
    repository,
    as: (as as Person | undefined) ?? 'admin',
    ...(addSubmodule !== undefined ? { addSubmodule } : {}),
    ...(removeSubmodule !== undefined ? { removeSubmodule } : {}),
  };
}

/** Refuses a push by someone without write access to the repository, as Bitbucket does. */
export function checkMayPush(state: BitbucketState, repo: RepoRecord, person: Person): void {
  const user = state.findUser(PEOPLE[person].email);
  const permission = user ? state.effectivePermission(user, repo) : undefined;
  if (permissionAtLeast(permission, 'write')) return;
  const writers = (Object.keys(PEOPLE) as Person[]).filter((p) => {
    const u = state.findUser(PEOPLE[p].email);
    return u !== undefined && permissionAtLeast(state.effectivePermission(u, repo), 'write');
  });
  const who = PEOPLE[person].displayName;
  const where = `${repo.workspace.slug}/${repo.slug}`;
  const has = permission === 'read' ? `may only read ${where}` : `has no access to ${where}`;
  const instead = writers.length ? ` Push as ${writers.map((p) => PEOPLE[p].displayName).join(' or ')} instead.` : '';
  throw new PushRefusal(403, `${who} ${has}, and Bitbucket takes a push only from someone with write access.${instead}`);
}

/** The main branch's head and its `.gitmodules` (undefined when the branch or the file is missing). */
export async function gitmodulesAt(repo: RepoRecord): Promise<{ head: string | undefined; text: string | undefined }> {
  const head = await branchTip(repo.path, repo.mainBranch);
  if (!head) return { head, text: undefined };
  const entry = await treeEntry(repo.path, head, '.gitmodules');
  if (!entry || entry.kind !== 'blob') return { head, text: undefined };
  return { head, text: (await readBlob(repo.path, entry.oid)).toString('utf8') };
}

/** The submodules a `.gitmodules` names (those with a path and a URL), as git reads them. */
export function submodulesIn(text: string | undefined): SubmoduleEntry[] {
  if (text === undefined) return [];
  return parseGitmodules(text).flatMap((s) => (s.path !== undefined && s.url !== undefined ? [{ name: s.name, path: s.path, url: s.url }] : []));
}

/** The submodules at the head of the main branch; none when `.gitmodules` cannot be read. */
export async function submodulesAtHead(repo: RepoRecord): Promise<SubmoduleEntry[]> {
  try {
    return submodulesIn((await gitmodulesAt(repo)).text);
  } catch {
    return [];
  }
}

/**
 * `.gitmodules` written afresh from its entries. Rewriting (rather than editing lines) keeps the file in
 * the one form the seed writes; what git ignores in it (other sections, unknown keys) is dropped.
 */
export function renderGitmodules(entries: SubmoduleEntry[]): string {
  return entries.map((e) => `[submodule "${e.name}"]\n\tpath = ${e.path}\n\turl = ${e.url}\n`).join('');
}

export interface SubmoduleChange {
  files: Record<string, string | null>;
  gitlinks: Record<string, string | null>;
  added?: SubmoduleEntry;
  removed?: SubmoduleEntry;
  /** The submodules after the commit. */
  submodules: SubmoduleEntry[];
  /** The commit message. */
  message: string;
}

/** What a push that adds and/or removes a submodule writes on top of the main branch's head. */
export async function planSubmoduleChange(state: BitbucketState, repo: RepoRecord, request: PushRequest): Promise<SubmoduleChange> {
  const where = `${repo.workspace.slug}/${repo.slug}`;
  const { text } = await gitmodulesAt(repo);
  let entries: SubmoduleEntry[];
  try {
    entries = submodulesIn(text);
  } catch (err) {
    throw new PushRefusal(400, `The .gitmodules of ${where} cannot be read (${err instanceof Error ? err.message : 'not valid'}); push without a submodule change.`);
  }
  const files: Record<string, string | null> = {};
  const gitlinks: Record<string, string | null> = {};
  const said: string[] = [];
  let removed: SubmoduleEntry | undefined;
  let added: SubmoduleEntry | undefined;

  if (request.removeSubmodule !== undefined) {
    const name = request.removeSubmodule;
    removed = entries.find((e) => e.path === name) ?? entries.find((e) => e.name === name);
    if (!removed) {
      const known = entries.map((e) => e.path).join(', ');
      throw new PushRefusal(400, `${where} has no submodule ${name}. ${known ? `Its .gitmodules names ${known}.` : 'Its .gitmodules names none.'}`);
    }
    entries = entries.filter((e) => e !== removed);
    gitlinks[removed.path] = null;
    said.push(`Remove submodule ${removed.path}`);
  }

  if (request.addSubmodule !== undefined) {
    const slug = request.addSubmodule;
    const target = state.findRepo(repo.workspace, slug);
    if (!target) throw new PushRefusal(400, `No repository ${repo.workspace.slug}/${slug} in the preview to add as a submodule.`);
    if (target === repo) throw new PushRefusal(400, `${where} cannot be a submodule of itself; choose another repository.`);
    const path = submodulePathFor(target.slug);
    if (entries.some((e) => e.path === path || e.name === path)) {
      throw new PushRefusal(400, `${path} is already a submodule of ${where}; remove it first.`);
    }
    const tip = await branchTip(target.path, target.mainBranch);
    if (!tip) throw new PushRefusal(400, `${repo.workspace.slug}/${target.slug} has no commits yet, and a submodule must point at one: choose another repository.`);
    added = { name: path, path, url: sshUrlFor(repo.workspace.slug, target.slug) };
    entries = [...entries, added];
    gitlinks[path] = tip;
    said.push(`Add submodule ${path}`);
  }

  files['.gitmodules'] = entries.length ? renderGitmodules(entries) : null;
  return {
    files,
    gitlinks,
    submodules: entries,
    message: said.join(', '),
    ...(added ? { added } : {}),
    ...(removed ? { removed } : {}),
  };
}
