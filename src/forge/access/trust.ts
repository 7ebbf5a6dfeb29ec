/**
 * The trust rules of the Forge app, in one place. The stored API token is a workspace admin's, lent to
 * the app: everything done with it must be something the person who asked may do themselves.
 *
 * - Who may act at all: workspace admins only (the default), or repository admins too, as a workspace
 *   admin chose on the workspace page. Checked in the resolver, as the caller (`asUser()`).
 * - On what: every repository the key would go on (the page's repository and each submodule
 *   repository) must be one the person acting administers. In a resolver that is asked as the caller;
 *   a queue job has no user to act as, so the stored token asks Bitbucket what the job's account may
 *   do there: for all of a workspace's targets at once (a workspace-wide read only workspace admins may
 *   make), else one repository at a time (a read only that repository's admins may make: where the
 *   token cannot, the answer is "cannot be checked"). The reads are in bitbucket/permissions.ts.
 * - Where: repositories of other workspaces only when a workspace admin allowed that workspace.
 *
 * The engine asks an `Authority` about every target before it changes anything (connect/trust.ts), and
 * the job context gives it only `jobAuthority`: there is no path to the engine that skips the check.
 */
import {
  accountPermissionsIn,
  accountRepositoryPermission,
  callerRepositoryPermission,
  getWorkspaceMembership,
  PERMISSION_BATCH,
  type BitbucketTransport,
  type PermissionRead,
} from '../../bitbucket/index';
import { mapBounded, type Authority, type Target, type TargetVerdict } from '../../connect/index';
import { ResolverFailure } from '../errors';
import { bareUuid, keys } from '../store/keys';
import type { ForgePlatform, RecordStore, TrustedContext } from '../platform/ports';

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

type Answer = 'admin' | 'lower' | 'unchecked';
type Ask = (target: Target) => Promise<Answer>;
/** Answers for several targets of one workspace at once, by lower-case `workspace/slug`. */
type AskMany = (workspace: string, targets: Target[]) => Promise<Map<string, Answer>>;

/** Only an admin may put a key on a repository; a read that could not tell is neither yes nor no. */
const answerOf = (read: PermissionRead): Answer => (read === 'admin' ? 'admin' : read === 'unreadable' ? 'unchecked' : 'lower');

/** The job's account on one repository, asked with the stored token. */
function askWithToken(token: BitbucketTransport, accountId: string): Ask {
  return async (t) => answerOf(await accountRepositoryPermission(token, accountId, t.workspace, t.slug));
}

/**
 * The job's account on many repositories of one workspace, in one request per PERMISSION_BATCH targets.
 * Where the workspace-wide read is refused (the token's account is no workspace admin) or fails, each
 * repository is asked on its own: batching saves requests, it never decides a verdict the single read
 * would not.
 */
function askManyWithToken(token: BitbucketTransport, accountId: string): AskMany {
  const one = askWithToken(token, accountId);
  return async (workspace, targets) => {
    const answers = new Map<string, Answer>();
    for (let i = 0; i < targets.length; i += PERMISSION_BATCH) {
      const chunk = targets.slice(i, i + PERMISSION_BATCH);
      const names = chunk.map((t) => `${t.workspace}/${t.slug}`.toLowerCase());
      const found = await accountPermissionsIn(token, accountId, workspace, names);
      if (found) {
        for (const name of names) answers.set(name, answerOf(found.get(name) ?? 'none'));
      } else {
        const each = await mapBounded(chunk, CONCURRENCY, one);
        chunk.forEach((t, j) => answers.set(t.key, each[j] ?? 'unchecked'));
      }
    }
    return answers;
  };
}

/** The caller on one repository, asked as the caller. */
function askAsUser(asUser: BitbucketTransport): Ask {
  return async (t) => answerOf(await callerRepositoryPermission(asUser, t.workspace, t.slug));
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
