/**
 * The trust rules of the Forge app, in one place. The stored API token is a workspace admin's, lent to
 * the app: everything done with it must be something the person who asked may do themselves.
 *
 * - Who may act at all: workspace admins only (the default), or repository admins too, as a workspace
 *   admin chose on the workspace page. Checked in the resolver, as the caller (`asUser()`).
 * - On what: every repository the key would go on (the page's repository and each submodule
 *   repository) must be one the person acting administers. In a resolver that is asked as the caller;
 *   a queue job has no user to act as, so the stored token asks Bitbucket what the job's account may
 *   do there: for all of a workspace's targets at once (`GET /workspaces/{ws}/permissions/repositories`
 *   with a `q` naming them, which only workspace admins may read), else one repository at a time
 *   (`.../permissions/repositories/{repo}`, which only that repository's admins may read: where the
 *   token cannot, the answer is "cannot be checked").
 * - Where: repositories of other workspaces only when a workspace admin allowed that workspace.
 *
 * The engine asks an `Authority` about every target before it changes anything (connect/trust.ts), and
 * the job context gives it only `jobAuthority`: there is no path to the engine that skips the check.
 */
import { errorForResponse, type BitbucketResponse, type BitbucketTransport } from '../../bitbucket/index';
import { mapBounded } from '../../connect/saga';
import type { Authority, Target, TargetVerdict } from '../../connect/index';
import { encodePathSegment } from '../../http/path';
import { ResolverFailure } from '../errors';
import { bareUuid, keys } from '../store/keys';
import type { ForgePlatform, RecordStore, TrustedContext } from '../platform/ports';
import { getWorkspaceMembership } from '../pages/workspace-reads';

/** Who may connect, rotate, verify and disconnect repositories of the workspace. */
export type Connectors = 'workspace-admins' | 'repository-admins';

export interface TrustSettings {
  connectors: Connectors;
  /** Slugs (lower case) of other workspaces whose repositories may receive the key as submodules. */
  otherWorkspaces: string[];
  /** Valohai owners repository admins may create projects under (workspace admins: any). */
  projectOwners: string[];
}

export const DEFAULT_TRUST: TrustSettings = { connectors: 'workspace-admins', otherWorkspaces: [], projectOwners: [] };

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((w): w is string => typeof w === 'string') : []);

const CONCURRENCY = 8;

export async function loadTrust(store: RecordStore, workspaceUuid: string): Promise<TrustSettings> {
  const stored = await store.get<Partial<TrustSettings>>(keys.trust(workspaceUuid));
  return {
    connectors: stored?.connectors === 'repository-admins' ? 'repository-admins' : 'workspace-admins',
    otherWorkspaces: strings(stored?.otherWorkspaces),
    projectOwners: strings(stored?.projectOwners),
  };
}

export async function saveTrust(
  store: RecordStore,
  workspaceUuid: string,
  settings: Omit<TrustSettings, 'projectOwners'> & { projectOwners?: string[] },
): Promise<TrustSettings> {
  const clean: TrustSettings = {
    connectors: settings.connectors,
    otherWorkspaces: [...new Set(settings.otherWorkspaces.map((w) => w.toLowerCase()))].sort(),
    projectOwners: [...new Set(settings.projectOwners ?? [])].sort(),
  };
  await store.set(keys.trust(workspaceUuid), clean);
  return clean;
}

/** Who is acting, as far as the workspace-level rules go. */
export interface Connector {
  /** A workspace admin: may move a project between repositories and create projects under any owner. */
  workspaceAdmin: boolean;
  trust: TrustSettings;
}

/** Whether this connector may create a Valohai project under `owner`. */
export function mayCreateUnder(connector: Connector, owner: string): boolean {
  return connector.workspaceAdmin || connector.trust.projectOwners.includes(owner);
}

/**
 * Refuses a caller the workspace's setting does not let act: with the default, only workspace admins.
 * Called by every resolver that starts work with the stored token, after the repository-admin check.
 */
export async function requireConnector(platform: ForgePlatform, context: TrustedContext): Promise<Connector> {
  const ws = bareUuid(context.workspaceId, 'workspace');
  const trust = await loadTrust(platform.store, ws);
  const membership = await getWorkspaceMembership(platform.bitbucketAsUser(context), context.workspaceId);
  if (membership.permission === 'owner') return { workspaceAdmin: true, trust };
  if (trust.connectors === 'repository-admins') return { workspaceAdmin: false, trust };
  throw new ResolverFailure(
    'not-admin',
    'In this workspace only workspace admins connect repositories to Valohai.',
    "Ask a workspace admin to do it, or to let repository admins connect on the workspace's Valohai settings page.",
  );
}

const bbql = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

type Answer = 'admin' | 'lower' | 'unchecked';
type Ask = (target: Target) => Promise<Answer>;
/** Answers for several targets of one workspace at once, by lower-case `workspace/slug`. */
type AskMany = (workspace: string, targets: Target[]) => Promise<Map<string, Answer>>;

function permissionIn(text: string, matches: (value: Record<string, unknown>) => boolean): 'admin' | 'lower' {
  const body = JSON.parse(text) as { values?: unknown };
  const values = Array.isArray(body.values) ? (body.values as Record<string, unknown>[]) : [];
  return values.some((v) => matches(v) && v.permission === 'admin') ? 'admin' : 'lower';
}

/** Targets named in one workspace-wide permission query: keeps the query string well under URL limits. */
const BATCH = 25;
/** Pages of one batched answer followed at most (one entry per repository and user: one page suffices). */
const MAX_PAGES = 4;

/** The stored token's answer that no per-repository read can mend: the whole check stops with it. */
function stoppingError(res: BitbucketResponse, what: string): Error | undefined {
  if (res.status !== 401 && res.status !== 429) return undefined;
  return errorForResponse(res, { action: `checking what the person acting may do on ${what}`, idempotent: true });
}

/** The job's account on one repository, asked with the stored token. */
function askWithToken(token: BitbucketTransport, accountId: string): Ask {
  return async (t) => {
    const q = encodeURIComponent(`user.account_id=${bbql(accountId)}`);
    const path = `/workspaces/${encodePathSegment(t.workspace, 'workspace')}/permissions/repositories/${encodePathSegment(t.slug, 'repository')}?q=${q}`;
    let res: BitbucketResponse;
    try {
      res = await token.request({ method: 'GET', path });
    } catch {
      return 'unchecked';
    }
    const stop = stoppingError(res, `${t.workspace}/${t.slug}`);
    if (stop) throw stop;
    if (res.status !== 200) return 'unchecked';
    try {
      return permissionIn(res.text, (v) => (v.user as { account_id?: unknown } | undefined)?.account_id === accountId);
    } catch {
      return 'unchecked';
    }
  };
}

/**
 * The job's account on many repositories of one workspace, in one request per BATCH targets. Where the
 * workspace-wide read is refused (the token's account is no workspace admin) or fails, each repository
 * is asked on its own: batching saves requests, it never decides a verdict the single read would not.
 */
function askManyWithToken(token: BitbucketTransport, accountId: string): AskMany {
  const one = askWithToken(token, accountId);
  return async (workspace, targets) => {
    const answers = new Map<string, Answer>();
    for (let i = 0; i < targets.length; i += BATCH) {
      const chunk = targets.slice(i, i + BATCH);
      const names = chunk.map((t) => `${t.workspace}/${t.slug}`.toLowerCase());
      const found = await batchRead(token, accountId, workspace, names);
      if (found) {
        for (const name of names) answers.set(name, found.has(name) ? 'admin' : 'lower');
      } else {
        const each = await mapBounded(chunk, CONCURRENCY, one);
        chunk.forEach((t, j) => answers.set(t.key, each[j] ?? 'unchecked'));
      }
    }
    return answers;
  };
}

/** The names among `names` the account administers, or undefined when the workspace-wide read gave no clean answer. */
async function batchRead(token: BitbucketTransport, accountId: string, workspace: string, names: string[]): Promise<Set<string> | undefined> {
  const repos = names.map((n) => `repository.full_name=${bbql(n)}`).join(' OR ');
  const q = encodeURIComponent(`user.account_id=${bbql(accountId)} AND (${repos})`);
  let path: string | undefined = `/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions/repositories?q=${q}&pagelen=100`;
  const admin = new Set<string>();
  for (let page = 0; path; page++) {
    if (page >= MAX_PAGES) return undefined;
    let res: BitbucketResponse;
    try {
      res = await token.request({ method: 'GET', path });
    } catch {
      return undefined;
    }
    const stop = stoppingError(res, `the repositories of ${workspace}`);
    if (stop) throw stop;
    if (res.status !== 200) return undefined;
    let body: { values?: unknown; next?: unknown };
    try {
      body = JSON.parse(res.text) as typeof body;
    } catch {
      return undefined;
    }
    if (!Array.isArray(body.values)) return undefined;
    for (const v of body.values as Record<string, unknown>[]) {
      const user = (v.user as { account_id?: unknown } | undefined)?.account_id;
      const name = String((v.repository as { full_name?: unknown } | undefined)?.full_name ?? '').toLowerCase();
      if (user === accountId && v.permission === 'admin' && names.includes(name)) admin.add(name);
    }
    path = typeof body.next === 'string' ? nextPath(token, body.next) : undefined;
    if (body.next !== undefined && body.next !== null && path === undefined) return undefined;
  }
  return admin;
}

/** A `next` link as a path below the transport's API root, or undefined when it leads anywhere else. */
function nextPath(token: BitbucketTransport, next: string): string | undefined {
  const root = (token.baseUrl ?? 'https://api.bitbucket.org/2.0').replace(/\/+$/, '');
  return next.startsWith(`${root}/`) ? next.slice(root.length) : undefined;
}

/** The caller on one repository, asked as the caller. */
function askAsUser(asUser: BitbucketTransport): Ask {
  return async (t): Promise<Answer> => {
    const full = `${t.workspace}/${t.slug}`;
    const q = encodeURIComponent(`repository.full_name=${bbql(full)}`);
    const path = `/user/workspaces/${encodePathSegment(t.workspace, 'workspace')}/permissions/repositories?q=${q}`;
    try {
      const res = await asUser.request({ method: 'GET', path });
      // A workspace the caller is no member of answers 403/404: they administer nothing there.
      if (res.status === 403 || res.status === 404) return 'lower';
      if (res.status !== 200) return 'unchecked';
      return permissionIn(res.text, (v) => String((v.repository as { full_name?: unknown } | undefined)?.full_name).toLowerCase() === full.toLowerCase());
    } catch {
      return 'unchecked';
    }
  };
}

/** One question per target, asked side by side. */
function oneByOne(ask: Ask): AskMany {
  return async (_workspace, targets) => {
    const answers = await mapBounded(targets, CONCURRENCY, ask);
    return new Map(targets.map((t, i) => [t.key, answers[i] ?? 'unchecked']));
  };
}

function authority(home: string, trust: TrustSettings, askMany: AskMany): Authority {
  const allowed = new Set([home.toLowerCase(), ...trust.otherWorkspaces.map((w) => w.toLowerCase())]);
  return {
    check: async (targets) => {
      const byWorkspace = new Map<string, Target[]>();
      for (const t of targets) {
        if (!allowed.has(t.workspace.toLowerCase())) continue;
        const ws = t.workspace.toLowerCase();
        byWorkspace.set(ws, [...(byWorkspace.get(ws) ?? []), t]);
      }
      const answers = new Map<string, Answer>();
      for (const [ws, group] of byWorkspace) for (const [k, v] of await askMany(ws, group)) answers.set(k, v);
      return targets.map((t): TargetVerdict => {
        const repository = `${t.workspace}/${t.slug}`;
        if (!allowed.has(t.workspace.toLowerCase())) {
          return {
            repository,
            allowed: false,
            reason: 'other-workspace',
            message:
              `in workspace ${t.workspace}, not this one, so whether you administer it cannot be checked. ` +
              `A workspace admin can allow ${t.workspace} on the workspace's Valohai settings page.`,
          };
        }
        const answer = answers.get(t.key) ?? 'unchecked';
        if (answer === 'admin') return { repository, allowed: true };
        if (answer === 'lower') {
          return { repository, allowed: false, reason: 'not-admin', message: 'you do not administer it. Ask its admin.' };
        }
        return {
          repository,
          allowed: false,
          reason: 'unchecked',
          message: 'whether you administer it cannot be checked (the stored API token may not read its permissions). Ask its admin.',
        };
      });
    },
  };
}

/** For a queue job: the account that started it, checked with the stored token. */
export function jobAuthority(token: BitbucketTransport, opts: { homeWorkspace: string; accountId: string; trust: TrustSettings }): Authority {
  return authority(opts.homeWorkspace, opts.trust, askManyWithToken(token, opts.accountId));
}

/** For a resolver: the caller, asked as the caller. */
export function callerAuthority(asUser: BitbucketTransport, opts: { homeWorkspace: string; trust: TrustSettings }): Authority {
  return authority(opts.homeWorkspace, opts.trust, oneByOne(askAsUser(asUser)));
}
