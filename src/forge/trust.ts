/**
 * The trust rules of the Forge app, in one place. The stored API token is a workspace admin's, lent to
 * the app: everything done with it must be something the person who asked may do themselves.
 *
 * - Who may act at all: workspace admins only (the default), or repository admins too, as a workspace
 *   admin chose on the workspace page. Checked in the resolver, as the caller (`asUser()`).
 * - On what: every repository the key would go on (the page's repository and each submodule
 *   repository) must be one the person acting administers. In a resolver that is asked as the caller;
 *   a queue job has no user to act as, so the stored token asks Bitbucket what the job's account may
 *   do there (`GET /workspaces/{ws}/permissions/repositories/{repo}`, which only that repository's
 *   admins may read: where the token cannot, the answer is "cannot be checked").
 * - Where: repositories of other workspaces only when a workspace admin allowed that workspace.
 *
 * The engine asks an `Authority` about every target before it changes anything (connect/trust.ts), and
 * the job context gives it only `jobAuthority`: there is no path to the engine that skips the check.
 */
import type { BitbucketTransport } from '../bitbucket/index';
import { mapBounded } from '../connect/saga';
import type { Authority, Target, TargetVerdict } from '../connect/index';
import { encodePathSegment } from '../http/path';
import { ResolverFailure } from './errors';
import { bareUuid, keys } from './keys';
import type { ForgePlatform, RecordStore, TrustedContext } from './platform';
import { getWorkspaceMembership } from './workspace-reads';

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

/** Permission reads per target (one request each). */
const CHECK_COST = 1;
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

type Ask = (target: Target) => Promise<'admin' | 'lower' | 'unchecked'>;

function permissionIn(text: string, matches: (value: Record<string, unknown>) => boolean): 'admin' | 'lower' {
  const body = JSON.parse(text) as { values?: unknown };
  const values = Array.isArray(body.values) ? (body.values as Record<string, unknown>[]) : [];
  return values.some((v) => matches(v) && v.permission === 'admin') ? 'admin' : 'lower';
}

/** The job's account on one repository, asked with the stored token. */
function askWithToken(token: BitbucketTransport, accountId: string): Ask {
  return async (t) => {
    const q = encodeURIComponent(`user.account_id=${bbql(accountId)}`);
    const path = `/workspaces/${encodePathSegment(t.workspace, 'workspace')}/permissions/repositories/${encodePathSegment(t.slug, 'repository')}?q=${q}`;
    try {
      const res = await token.request({ method: 'GET', path });
      if (res.status !== 200) return 'unchecked';
      return permissionIn(res.text, (v) => (v.user as { account_id?: unknown } | undefined)?.account_id === accountId);
    } catch {
      return 'unchecked';
    }
  };
}

/** The caller on one repository, asked as the caller. */
function askAsUser(asUser: BitbucketTransport): Ask {
  return async (t) => {
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

function authority(home: string, trust: TrustSettings, ask: Ask): Authority {
  const allowed = new Set([home.toLowerCase(), ...trust.otherWorkspaces.map((w) => w.toLowerCase())]);
  return {
    cost: (n) => n * CHECK_COST,
    check: (targets) =>
      mapBounded(targets, CONCURRENCY, async (t): Promise<TargetVerdict> => {
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
        const answer = await ask(t);
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
      }),
  };
}

/** For a queue job: the account that started it, checked with the stored token. */
export function jobAuthority(token: BitbucketTransport, opts: { homeWorkspace: string; accountId: string; trust: TrustSettings }): Authority {
  return authority(opts.homeWorkspace, opts.trust, askWithToken(token, opts.accountId));
}

/** For a resolver: the caller, asked as the caller. */
export function callerAuthority(asUser: BitbucketTransport, opts: { homeWorkspace: string; trust: TrustSettings }): Authority {
  return authority(opts.homeWorkspace, opts.trust, askAsUser(asUser));
}
