/**
 * A bulk action's plan: the payload's names matched against the workspace's listing (read as the app,
 * kept a few minutes, read again when it lacks a name the payload gives) and
 * its connection records, each repository's reason to be skipped, bulk connect's project per repository,
 * and what each repository will cost of the stored token's hour.
 */
import { discover, mapBounded, type KeyType } from '../../connect/index';
import { workspaceAdmin } from '../access/authorize';
import { appBitbucket, valohaiFor } from '../platform/clients';
import { JOB_TITLES, type BatchAction, type BatchPlanEntry, type BatchSkip, type PlanBatchPayload, type StartConnectPayload } from '../contract';
import { Credentials } from '../store/credentials';
import { failures, ResolverFailure } from '../errors';
import { activeJob } from '../jobs/slots';
import { bareUuid, keys } from '../store/keys';
import { keyIsOld } from '../store/connections';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import { projectsInUse } from '../store/project-use';
import type { StoredConnection } from '../store/records';
import { mayCreateUnder, requireConnector } from '../access/trust';
import { workspaceRepositories } from '../store/repository-listing';
import { lower } from './batch-records';

/** Repositories the listing may hold for a batch to match names against (Forge record sizes). */
const MAX_LISTED = 10_000;

const MAX_CONNECTIONS = 5000;

/**
 * A bulk connect's key type when none is chosen: the one the single connect form recommends (RSA 4096,
 * the type Valohai documents), never a different one made silently.
 */
export const BULK_CONNECT_KEY_TYPE: KeyType = 'rsa';

/**
 * Repositories of a bulk connect whose submodules the plan reads (as the app, none of the stored
 * token's hour), a few at a time; the rest are read when their job runs, and their plan line says so.
 */
const PLAN_DISCOVERY_MAX = 50;
const PLAN_DISCOVERY_CONCURRENCY = 4;


/**
 * Stored-token requests per repository the key is on, by action: the figure planBatch multiplies by
 * each connection's recorded targets. Each is what a test or bench measures for the single action.
 */
export const REQUESTS_PER_TARGET: Record<BatchAction, { perTarget: number; source: string }> = {
  rotate: {
    perTarget: 4,
    // Held by test/forge/token-budget.test.ts; bench/requests measured 3.1 per target. Words for the page only.
    source: "rotate: at most 4 stored-token requests per repository the key is on (the permission check, the key listing, the new key, the old key's removal)",
  },
  disconnect: {
    perTarget: 2,
    source: "disconnect: 2 stored-token requests per repository the key is on (its key listing and the key's removal)",
  },
  verify: {
    perTarget: 0,
    source: "verify: no stored-token request (Valohai fetches, and Bitbucket's head is read as the app)",
  },
  connect: {
    perTarget: 4,
    source: 'connect: at most 4 stored-token requests per repository the key goes on, each submodule repository counted',
  },
};

interface Planned {
  workspaceSlug: string;
  act: (BatchPlanEntry & { repositoryUuid: string; connect?: StartConnectPayload })[];
  skip: BatchSkip[];
}

/** Why the action cannot run on this repository as it stands, or null when it can. */
export function skipReason(action: BatchAction, connection: StoredConnection | undefined): string | null {
  if (action === 'connect') {
    if (!connection) return null;
    if (connection.movedAway) return `its Valohai project was moved to ${connection.movedAway.to}; disconnect it first to remove its keys`;
    return connection.state === 'manual-pending' ? 'a key for connecting by hand is waiting on it' : 'already connected';
  }
  if (!connection) return 'not connected';
  if (action === 'disconnect') return null;
  if (connection.movedAway) return `moved away: its Valohai project now fetches ${connection.movedAway.to}, so its key is no longer used (disconnect it instead)`;
  if (connection.state === 'manual-pending') return 'waiting for a key to be added by hand: verify it on its page first';
  // Valohai's key changes when a person generates a new one there: a bulk action has nobody to do that.
  if (action === 'rotate' && connection.record.keySource === 'valohai') {
    return 'its key was made in Valohai: rotate it from its own page, with a new key generated in Valohai';
  }
  return null;
}

export async function planFor(platform: ForgePlatform, context: TrustedContext, payload: PlanBatchPayload): Promise<Planned> {
  const membership = await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const now = platform.clock.now();
  const [kept, connections] = await Promise.all([
    workspaceRepositories(platform, context.workspaceId, { max: MAX_LISTED, throwWhenNone: true }),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: MAX_CONNECTIONS }),
  ]);
  let listing = kept;
  if (payload.repositories && !listing.fresh) {
    // A name the kept listing lacks may be a repository made since it was read: read it once more.
    const listed = new Set(listing.repositories.map((r) => lower(r.fullName)));
    if (payload.repositories.some((name) => !listed.has(lower(name)))) listing = await workspaceRepositories(platform, context.workspaceId, { max: MAX_LISTED, refresh: true, throwWhenNone: true });
  }
  const workspaceSlug = membership.workspace?.slug ?? listing.workspace?.slug ?? '';
  const byName = new Map(listing.repositories.map((r) => [lower(r.fullName), r]));
  const byUuid = new Map(listing.repositories.map((r) => [bareUuid(r.uuid, 'repository'), r]));
  const connectionOf = new Map(connections.map(({ value }) => [bareUuid(value.repositoryUuid, 'repository'), value]));

  let chosen: { repository: string; repositoryUuid: string; mainBranch: string | null }[];
  if (payload.repositories) {
    const unknown = payload.repositories.filter((name) => !byName.has(lower(name)));
    if (unknown.length > 0 && listing.problem) {
      // The listing could not be read again: the names may well be repositories made since it was kept.
      throw new ResolverFailure(listing.problem.code, listing.problem.message, listing.problem.fix, listing.problem.temporary);
    }
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 10).join(', ') + (unknown.length > 10 ? ` and ${unknown.length - 10} more` : '');
      throw new ResolverFailure(
        'not-found',
        `Not repositories of this workspace: ${shown}. Nothing was started.`,
        `Choose repositories of ${workspaceSlug || 'this workspace'} from its list, then try again.`,
      );
    }
    chosen = payload.repositories.map((name) => {
      const repo = byName.get(lower(name)) as NonNullable<ReturnType<typeof byName.get>>;
      return { repository: repo.fullName, repositoryUuid: bareUuid(repo.uuid, 'repository'), mainBranch: repo.mainBranch };
    });
  } else {
    const days = payload.olderThanDays ?? 0;
    chosen = [...connectionOf.values()]
      .filter((c) => c.state === 'connected' && !c.movedAway && keyIsOld(c, days, now))
      .sort((a, b) => Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt))
      .flatMap((c) => {
        const repo = byUuid.get(bareUuid(c.repositoryUuid, 'repository'));
        // A connection of a repository no longer listed (deleted, moved out) has nothing to rotate.
        return repo ? [{ repository: repo.fullName, repositoryUuid: bareUuid(repo.uuid, 'repository'), mainBranch: repo.mainBranch }] : [];
      });
  }

  const planned: Planned = { workspaceSlug, act: [], skip: [] };
  const cost = REQUESTS_PER_TARGET[payload.action].perTarget;
  const connectChoice = payload.action === 'connect' ? await connectChooser(platform, context, ws, payload) : undefined;
  for (const repo of chosen) {
    const connection = connectionOf.get(repo.repositoryUuid);
    const reason = skipReason(payload.action, connection);
    if (reason) {
      planned.skip.push({ repository: repo.repository, reason });
      continue;
    }
    const running = await activeJob(platform.store, ws, repo.repositoryUuid, now);
    if (running) {
      planned.skip.push({ repository: repo.repository, reason: `a job is running on it (${JOB_TITLES[running.kind].toLowerCase()})` });
      continue;
    }
    if (connectChoice) {
      const choice = connectChoice(repo);
      if ('reason' in choice) planned.skip.push({ repository: repo.repository, reason: choice.reason });
      else planned.act.push({ repository: repo.repository, repositoryUuid: repo.repositoryUuid, targets: 1, requests: cost, project: choice.project, connect: choice.choices });
      continue;
    }
    const targets = Math.max(1, connection?.record.targets.length ?? 1);
    const repositories = connection?.record.targets.map((t) => t.repository) ?? [repo.repository];
    planned.act.push({ repository: repo.repository, repositoryUuid: repo.repositoryUuid, targets, requests: cost * targets, repositories });
  }
  if (connectChoice) await connectTargets(platform, planned.act, cost);
  return planned;
}

/**
 * Every repository each bulk connect puts its key on: the repository and, with submodules, each one its
 * .gitmodules names (as connect discovers them, read as the app). A repository not read here (past
 * PLAN_DISCOVERY_MAX, or one whose reading failed) is marked, so the plan never counts it as one.
 */
async function connectTargets(platform: ForgePlatform, act: Planned['act'], cost: number): Promise<void> {
  const app = appBitbucket(platform, RESOLVER_LIMITS);
  const withSubmodules = act.filter((a) => a.connect?.submodules !== false);
  for (const a of act) if (a.connect?.submodules === false) a.repositories = [a.repository];
  const read = withSubmodules.slice(0, PLAN_DISCOVERY_MAX);
  for (const a of withSubmodules.slice(PLAN_DISCOVERY_MAX)) a.submodulesUnread = true;
  await mapBounded(read, PLAN_DISCOVERY_CONCURRENCY, async (a) => {
    const [workspace, slug] = a.repository.split('/') as [string, string];
    try {
      const plan = await discover(app, { workspace, repo: slug, ref: a.connect?.ref, submodules: true, concurrency: 2 });
      a.repositories = plan.targets.map((t) => `${t.workspace}/${t.slug}`);
      a.targets = a.repositories.length;
      a.requests = cost * a.targets;
    } catch {
      // The job reads it again and says what stops it; the plan only does not know its submodules.
      a.submodulesUnread = true;
    }
  });
}

type ConnectChooser = (repo: { repository: string; mainBranch: string | null }) => { choices: StartConnectPayload; project: string } | { reason: string };

/**
 * Bulk connect's project per repository: the one existing Valohai project named like the repository's
 * slug and used by no other connection, or a new one of that name under an owner the Valohai token may
 * use and the workspace's trust settings allow.
 */
async function connectChooser(platform: ForgePlatform, context: TrustedContext, ws: string, payload: PlanBatchPayload): Promise<ConnectChooser> {
  const choice = payload.connect;
  if (!choice) throw new ResolverFailure('invalid-payload', 'A bulk connect needs its project choice.', 'Choose existing projects by name, or new projects under an owner.');
  const connector = await requireConnector(platform, context);
  const secret = await new Credentials(platform, ws).valohai();
  if (!secret) throw failures.valohaiNotSetUp();
  const valohai = valohaiFor(platform, secret, RESOLVER_LIMITS);
  const [projects, owners, inUse] = await Promise.all([
    valohai.listProjects(),
    choice.project === 'new' ? valohai.ownershipOptions() : Promise.resolve([] as string[]),
    projectsInUse(platform.store, ws, ''),
  ]);
  if (choice.project === 'new' && (!owners.includes(choice.owner) || !mayCreateUnder(connector, choice.owner))) {
    throw new ResolverFailure(
      'not-admin',
      `New Valohai projects may not be created under ${choice.owner} from this workspace.`,
      "Choose an owner the Valohai token can use and the workspace's trust settings allow, or connect existing projects.",
    );
  }
  const common = (repo: { mainBranch: string | null }) => ({
    ref: choice.ref ?? repo.mainBranch ?? 'main',
    keyType: payload.keyType ?? BULK_CONNECT_KEY_TYPE,
    submodules: choice.submodules ?? true,
  });
  return (repo) => {
    const name = repo.repository.split('/')[1] ?? '';
    const named = projects.filter((p) => p.name === name);
    if (choice.project === 'new') {
      if (named.some((p) => p.owner === choice.owner)) return { reason: `a Valohai project ${choice.owner}/${name} exists already: connect existing projects instead` };
      return { choices: { newProject: { name, owner: choice.owner }, ...common(repo) }, project: `${choice.owner}/${name}` };
    }
    if (named.length === 0) return { reason: `no Valohai project is named ${name}` };
    if (named.length > 1) return { reason: `${named.length} Valohai projects are named ${name}: connect it from its own page and choose one` };
    const project = named[0] as (typeof named)[number];
    const holder = inUse.get(project.id);
    if (holder) return { reason: `Valohai project ${name} is connected to ${holder.repository}` };
    return { choices: { projectId: project.id, ...common(repo) }, project: `${project.owner ? `${project.owner}/` : ''}${project.name}` };
  };
}
