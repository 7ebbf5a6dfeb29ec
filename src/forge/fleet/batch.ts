/**
 * Bulk actions over the workspace: rotate, verify, disconnect or connect many repositories, each as its
 * own repository job (jobs/slots.ts), so each keeps the invariants of the single action: one job per
 * repository at a time, make-before-break, every key it adds checked by the trust rules for the admin
 * who started the batch (the job's account).
 *
 * Names in a payload choose among the workspace's repositories; they are matched against the listing
 * (read as the app) and the connection records, never taken as given: a name that is not a repository of
 * this workspace refuses the whole request, by name.
 *
 * One batch at a time per workspace: an atomic create of the batch slot. The batch is queue work: a step
 * records the outcome of jobs that ended, starts a few more within the fleet budget (budget.ts),
 * and ends. A job that ends sends the batch a step; when the hour's fleet budget is spent the batch waits
 * with delayed messages, as the audit does. A job whose answers say the hour is nearly spent, or that met
 * a 429, closes the fleet budget (jobs/runner.ts), so the batch waits rather than running into more.
 *
 * Steps never run side by side: a step writes a lease first. A delivery that finds the lease held has
 * already changed the batch's poke record, and the holder, having cleared its lease, looks at the poke
 * and runs once more: a job's end is never lost between two steps.
 */
import { randomUUID } from 'node:crypto';
import type { KeyType } from '../../connect/index';
import { workspaceAdmin } from '../access/authorize';
import { valohaiFor } from '../platform/clients';
import {
  FLEET_PAGE_SIZE_MAX,
  JOB_TITLES,
  type BatchAction,
  type BatchItemStatus,
  type BatchItemView,
  type BatchPlan,
  type BatchPlanEntry,
  type BatchSkip,
  type BatchView,
  type GetBatchPayload,
  type PlanBatchPayload,
  type StartBatchPayload,
  type StartConnectPayload,
} from '../contract';
import { Credentials } from '../store/credentials';
import { errorName, failures, ResolverFailure, toResolverError } from '../errors';
import { fleetBudget, FLEET_REQUESTS_PER_HOUR, recordSpent } from './budget';
import { activeJob, isFinished, isStale, loadJob, startJob, STALE_JOB_ERROR } from '../jobs/slots';
import type { JobEnd } from '../jobs/runner';
import { bareUuid, keys } from '../store/keys';
import { MAX_QUEUE_DELAY_SECONDS, RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import { projectsInUse } from '../store/project-use';
import type { JobInput, StoredConnection } from '../store/records';
import { mayCreateUnder, requireConnector } from '../access/trust';
import { listWorkspaceRepositories } from '../pages/workspace-reads';

/** Repository jobs a batch keeps running at once: few, so people's own actions still get through. */
export const BATCH_CONCURRENCY = 3;
/** A step that has not cleared its lease this long after it began is taken for dead. */
export const BATCH_LEASE_MS = 2 * 60_000;
/** While jobs run, a delayed step looks in this often, in case a job's own message was lost. */
const SAFETY_WAKE_SECONDS = 300;
/** Batch records are kept this long after the last step. */
const TTL_SECONDS = 14 * 86_400;
/** A job's error kept per repository: enough for the cause and the fix. */
const MAX_ERROR = 1000;
/** Repositories the listing may hold for a batch to match names against (Forge record sizes). */
const MAX_LISTED = 10_000;
const MAX_CONNECTIONS = 5000;
const DAY_MS = 86_400_000;

/**
 * Stored-token requests per repository the key is on, by action: the figure planBatch multiplies by
 * each connection's recorded targets. Each is what a test or bench measures for the single action.
 */
export const REQUESTS_PER_TARGET: Record<BatchAction, { perTarget: number; source: string }> = {
  rotate: {
    perTarget: 4,
    source:
      "rotate: at most 4 stored-token requests per repository the key is on (the permission check, the key listing, the new key, the old key's removal), as test/forge/token-budget.test.ts holds it; bench/requests measured 3.1 per target",
  },
  disconnect: {
    perTarget: 2,
    source: "disconnect: 2 stored-token requests per repository the key is on (its key listing and the key's removal), as test/forge/fleet-batch.test.ts measures it",
  },
  verify: {
    perTarget: 0,
    source: "verify: no stored-token request (Valohai's fetch, and Bitbucket's head read as the app), as test/forge/fleet-batch.test.ts measures it",
  },
  connect: {
    perTarget: 4,
    source:
      'connect: at most 4 stored-token requests per repository the key goes on, as test/forge/token-budget.test.ts holds it; counted here for the repository itself, each submodule repository adds up to 4 more',
  },
};

type BatchStatus = BatchView['status'];

interface BatchItem {
  index: number;
  repository: string;
  repositoryUuid: string;
  status: BatchItemStatus;
  jobId: string | null;
  targets: number;
  /** Stored-token requests reserved from the fleet budget when its job starts. */
  estimate: number;
  reason?: string;
  error?: string;
  requests?: number;
  startedAt?: string;
  finishedAt?: string;
  /** Connect: the job's choices, decided when the batch was planned. */
  connect?: StartConnectPayload;
}

export interface BatchState {
  id: string;
  action: BatchAction;
  status: BatchStatus;
  startedAt: string;
  /** The admin the batch's jobs act for. */
  startedBy: string;
  finishedAt: string | null;
  keyType: KeyType | null;
  total: number;
  /** Items planned to act on (the rest were skipped when it started). */
  planned: number;
  /** The next item to consider starting. */
  next: number;
  /** Items whose job is running. */
  running: number[];
  counts: Record<BatchItemStatus, number>;
  requests: { token: number };
  leaseUntil: string | null;
  /** The fleet budget is spent: nothing starts before this. */
  waitUntil: string | null;
  /** When the delayed step the batch last sent is due: another is sent only after it. */
  wakeDueAt: string | null;
  updatedAt: string;
}

interface BatchSlot {
  batchId: string;
  createdAt: string;
}

const finished = (status: BatchStatus) => status === 'done' || status === 'cancelled';
const lower = (s: string) => s.toLowerCase();
const emptyCounts = (): Record<BatchItemStatus, number> => ({ queued: 0, running: 0, done: 0, failed: 0, skipped: 0 });

export function loadBatch(platform: ForgePlatform, ws: string): Promise<BatchState | undefined> {
  return platform.store.get<BatchState>(keys.fleetBatch(ws));
}

function saveBatch(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  return platform.store.set(keys.fleetBatch(ws), { ...state, updatedAt: platform.clock.now().toISOString() }, { ttlSeconds: TTL_SECONDS });
}

function loadItem(platform: ForgePlatform, ws: string, batchId: string, index: number): Promise<BatchItem | undefined> {
  return platform.store.get<BatchItem>(keys.fleetBatchItem(ws, batchId, index));
}

function saveItem(platform: ForgePlatform, ws: string, batchId: string, item: BatchItem): Promise<void> {
  return platform.store.set(keys.fleetBatchItem(ws, batchId, item.index), item, { ttlSeconds: TTL_SECONDS });
}

async function allItems(platform: ForgePlatform, ws: string, state: BatchState): Promise<BatchItem[]> {
  const rows = await platform.store.query<BatchItem>(keys.fleetBatchItemPrefix(ws, state.id), { limit: state.total + 1 });
  return rows.map(({ value }) => value);
}

// ---------------------------------------------------------------------------------------------
// Planning: the payload's names matched against the workspace, and what each repository will cost
// ---------------------------------------------------------------------------------------------

interface Planned {
  workspaceSlug: string;
  act: (BatchPlanEntry & { repositoryUuid: string; connect?: StartConnectPayload })[];
  skip: BatchSkip[];
}

function keyAgeDays(connection: StoredConnection, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - Date.parse(connection.record.createdAt)) / DAY_MS));
}

/** Why the action cannot run on this repository as it stands, or null when it can. */
function skipReason(action: BatchAction, connection: StoredConnection | undefined): string | null {
  if (action === 'connect') {
    if (!connection) return null;
    if (connection.movedAway) return `its Valohai project was moved to ${connection.movedAway.to}; disconnect it first to remove its keys`;
    return connection.state === 'manual-pending' ? 'a key for connecting by hand is waiting on it' : 'already connected';
  }
  if (!connection) return 'not connected';
  if (action === 'disconnect') return null;
  if (connection.movedAway) return `moved away: its Valohai project now fetches ${connection.movedAway.to}, so its key is no longer used (disconnect it instead)`;
  if (connection.state === 'manual-pending') return 'waiting for a key to be added by hand: verify it on its page first';
  return null;
}

async function planFor(platform: ForgePlatform, context: TrustedContext, payload: PlanBatchPayload): Promise<Planned> {
  const membership = await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const now = platform.clock.now();
  const [listing, connections] = await Promise.all([
    listWorkspaceRepositories(platform.bitbucketAsApp, context.workspaceId, MAX_LISTED),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: MAX_CONNECTIONS }),
  ]);
  const workspaceSlug = membership.workspace?.slug ?? listing.workspace?.slug ?? '';
  const byName = new Map(listing.repositories.map((r) => [lower(r.fullName), r]));
  const byUuid = new Map(listing.repositories.map((r) => [bareUuid(r.uuid, 'repository'), r]));
  const connectionOf = new Map(connections.map(({ value }) => [bareUuid(value.repositoryUuid, 'repository'), value]));

  let chosen: { repository: string; repositoryUuid: string; mainBranch: string | null }[];
  if (payload.repositories) {
    const unknown = payload.repositories.filter((name) => !byName.has(lower(name)));
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
      .filter((c) => c.state === 'connected' && !c.movedAway && keyAgeDays(c, now) >= days)
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
  return planned;
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
    keyType: payload.keyType ?? ('ed25519' as KeyType),
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

/** "at 14:05 UTC", with the date when it is not today. */
function clockTime(at: Date, now: Date): string {
  const iso = at.toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

export async function planBatch(platform: ForgePlatform, context: TrustedContext, payload: PlanBatchPayload): Promise<BatchPlan> {
  const planned = await planFor(platform, context, payload);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const now = platform.clock.now();
  const budget = await fleetBudget(platform.store, ws, now);
  const total = planned.act.reduce((n, a) => n + a.requests, 0);
  const extraHours = total <= budget.left ? 0 : Math.ceil((total - budget.left) / FLEET_REQUESTS_PER_HOUR);
  const n = planned.act.length;
  const what = `${n} ${n === 1 ? 'repository' : 'repositories'}, about ${total} stored-token requests`;
  const duration =
    n === 0
      ? 'Nothing to do: every repository named is skipped.'
      : extraHours === 0
        ? `${what}: fits in this hour's fleet budget (${budget.left} of ${FLEET_REQUESTS_PER_HOUR} left), ${BATCH_CONCURRENCY} repositories at a time.`
        : `${what}: more than this hour's fleet budget (${budget.left} of ${FLEET_REQUESTS_PER_HOUR} left${budget.refillsAt ? `, refills at ${clockTime(budget.refillsAt, now)}` : ''}), so it pauses and resumes by itself, finishing in about ${extraHours + 1} hours.`;
  return {
    action: payload.action,
    act: planned.act.map(({ repository, targets, requests, project, repositories }) => ({
      repository,
      targets,
      requests,
      ...(project ? { project } : {}),
      ...(repositories ? { repositories } : {}),
    })),
    skip: planned.skip,
    requests: { total, perTarget: REQUESTS_PER_TARGET[payload.action].perTarget, source: REQUESTS_PER_TARGET[payload.action].source },
    budget: { perHour: FLEET_REQUESTS_PER_HOUR, leftThisHour: budget.left, refillsAt: budget.refillsAt?.toISOString() ?? null },
    extraHours,
    duration,
  };
}

// ---------------------------------------------------------------------------------------------
// Resolvers
// ---------------------------------------------------------------------------------------------

function underWay(state: BatchState, now: Date): ResolverFailure {
  return new ResolverFailure(
    'job-running',
    `A bulk ${state.action} is under way in this workspace: ${batchProgress(state, now)}`,
    'Wait for it to finish, or cancel it; one bulk action runs at a time.',
    true,
  );
}

/** Takes the workspace's batch slot; a slot whose batch ended (or never got its state) is taken back. */
async function takeSlot(platform: ForgePlatform, ws: string, batchId: string): Promise<void> {
  const { store, clock } = platform;
  const slot = keys.fleetBatchSlot(ws);
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = clock.now();
    if (await store.create(slot, { batchId, createdAt: now.toISOString() } satisfies BatchSlot, { ttlSeconds: TTL_SECONDS })) return;
    const held = await store.get<BatchSlot>(slot);
    if (!held) continue;
    const holder = await loadBatch(platform, ws);
    if (holder?.id === held.batchId && !finished(holder.status)) {
      await wakeIfStalled(platform, ws, holder);
      throw underWay(holder, now);
    }
    if (!holder || holder.id !== held.batchId) {
      // Its starter died between the slot and the state: give it the moment a resolver takes.
      if (now.getTime() - Date.parse(held.createdAt) < 60_000) {
        throw new ResolverFailure('job-running', 'A bulk action is being started in this workspace.', 'Wait a moment, then reload the page.', true);
      }
    }
    await store.delete(slot);
  }
  throw new ResolverFailure('job-running', 'Another bulk action started at the same moment.', 'Reload the page to see it.', true);
}

export async function startBatch(platform: ForgePlatform, context: TrustedContext, payload: StartBatchPayload): Promise<BatchView> {
  const { confirm, ...selection } = payload;
  const planned = await planFor(platform, context, selection);
  const ws = bareUuid(context.workspaceId, 'workspace');
  if (payload.action === 'disconnect') {
    // Typed, not clicked: a bulk disconnect removes keys Valohai fetches with across the workspace.
    if (!planned.workspaceSlug || lower(confirm ?? '') !== lower(planned.workspaceSlug)) {
      throw new ResolverFailure(
        'invalid-payload',
        `A bulk disconnect needs the workspace's name typed to confirm it. Nothing was disconnected.`,
        `Type ${planned.workspaceSlug || "the workspace's slug"} in the confirmation field, then start it again.`,
      );
    }
  } else if (confirm !== undefined) {
    throw new ResolverFailure('invalid-payload', 'Only a bulk disconnect takes a typed confirmation.', 'Reload the page and try again.');
  }
  const credentials = new Credentials(platform, ws);
  if ((payload.action === 'rotate' || payload.action === 'connect') && !(await credentials.usableBitbucket())) throw failures.bitbucketNotSetUp();
  if (payload.action !== 'disconnect' && !(await credentials.valohai())) throw failures.valohaiNotSetUp();
  if (planned.act.length === 0) {
    throw new ResolverFailure(
      'not-connected',
      `Nothing to ${payload.action}: every repository named is skipped (${planned.skip.slice(0, 5).map((s) => `${s.repository}: ${s.reason}`).join('; ')}${planned.skip.length > 5 ? '; …' : ''}).`,
      'Choose repositories the action applies to.',
    );
  }

  const now = platform.clock.now();
  const id = randomUUID();
  await takeSlot(platform, ws, id);
  try {
    const items: BatchItem[] = [
      ...planned.act.map((a, i): BatchItem => ({
        index: i,
        repository: a.repository,
        repositoryUuid: a.repositoryUuid,
        status: 'queued',
        jobId: null,
        targets: a.targets,
        estimate: a.requests,
        ...(a.connect ? { connect: a.connect } : {}),
      })),
      // Skipped ones are listed after, so the batch's place (`next`) runs over the ones to act on.
      ...planned.skip.map((s, i): BatchItem => ({
        index: planned.act.length + i,
        repository: s.repository,
        repositoryUuid: '',
        status: 'skipped',
        jobId: null,
        targets: 0,
        estimate: 0,
        reason: s.reason,
      })),
    ];
    for (const item of items) await saveItem(platform, ws, id, item);
    const state: BatchState = {
      id,
      action: payload.action,
      status: 'running',
      startedAt: now.toISOString(),
      startedBy: context.accountId,
      finishedAt: null,
      keyType: payload.action === 'rotate' ? (payload.keyType ?? null) : null,
      total: items.length,
      planned: planned.act.length,
      next: 0,
      running: [],
      counts: { ...emptyCounts(), queued: planned.act.length, skipped: planned.skip.length },
      requests: { token: 0 },
      leaseUntil: null,
      waitUntil: null,
      wakeDueAt: null,
      updatedAt: now.toISOString(),
    };
    await saveBatch(platform, ws, state);
    await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: id });
    platform.log.info('bulk action started', { batchId: id, action: payload.action, repositories: planned.act.length });
    return batchView(platform, ws, state, { page: 1, pageSize: 0 });
  } catch (err) {
    await platform.store.delete(keys.fleetBatchSlot(ws));
    throw err;
  }
}

export async function getBatch(platform: ForgePlatform, context: TrustedContext, payload: GetBatchPayload): Promise<{ batch: BatchView | null }> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const state = await loadBatch(platform, ws);
  if (!state) return { batch: null };
  await wakeIfStalled(platform, ws, state);
  return { batch: await batchView(platform, ws, state, payload) };
}

export async function cancelBatch(platform: ForgePlatform, context: TrustedContext): Promise<BatchView> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const state = await loadBatch(platform, ws);
  if (!state || finished(state.status)) {
    throw new ResolverFailure('not-found', 'No bulk action is under way in this workspace.', 'Reload the page to see how the last one ended.');
  }
  await platform.store.set(keys.fleetBatchCancel(ws, state.id), { by: context.accountId, at: platform.clock.now().toISOString() }, { ttlSeconds: TTL_SECONDS });
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id });
  platform.log.info('bulk action cancelled', { batchId: state.id });
  return batchView(platform, ws, { ...state, status: 'cancelling' }, { page: 1, pageSize: 0 });
}

/** A batch whose step died (its lease lapsed) or whose messages were all lost gets a new step. */
async function wakeIfStalled(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  if (finished(state.status)) return;
  const now = platform.clock.now().getTime();
  const lapsed = state.leaseUntil !== null && Date.parse(state.leaseUntil) < now;
  const overdue = state.leaseUntil === null && state.wakeDueAt !== null && now - Date.parse(state.wakeDueAt) > BATCH_LEASE_MS;
  const quiet = state.leaseUntil === null && state.wakeDueAt === null && now - Date.parse(state.updatedAt) > BATCH_LEASE_MS;
  if (!lapsed && !overdue && !quiet) return;
  platform.log.warn('bulk action stalled; resumed', { batchId: state.id });
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id });
}

export function batchProgress(state: BatchState, now: Date): string {
  const c = state.counts;
  const parts = [`${c.done} of ${state.planned} done`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.running) parts.push(`${c.running} running`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  const said = parts.join(', ');
  if (state.status === 'done') return `Done: ${said}.`;
  if (state.status === 'cancelled') return `Cancelled: ${said}.`;
  if (state.status === 'cancelling') return `Cancelling: ${said}; no more repositories start, running jobs finish.`;
  if (state.status === 'waiting' && state.waitUntil) return `${said}; resumes at ${clockTime(new Date(state.waitUntil), now)} when the request budget refills.`;
  return `${said}…`;
}

function itemView(item: BatchItem): BatchItemView {
  return {
    repository: item.repository,
    status: item.status,
    jobId: item.jobId,
    ...(item.reason !== undefined ? { reason: item.reason } : {}),
    ...(item.error !== undefined ? { error: item.error } : {}),
    ...(item.requests !== undefined ? { requests: item.requests } : {}),
    ...(item.startedAt ? { startedAt: item.startedAt } : {}),
    ...(item.finishedAt ? { finishedAt: item.finishedAt } : {}),
  };
}

async function batchView(platform: ForgePlatform, ws: string, state: BatchState, payload: GetBatchPayload): Promise<BatchView> {
  const now = platform.clock.now();
  const pageSize = Math.min(payload.pageSize ?? 50, FLEET_PAGE_SIZE_MAX);
  const page = payload.page ?? 1;
  const items = await allItems(platform, ws, state);
  const chosen = payload.status ? items.filter((i) => i.status === payload.status) : items;
  return {
    id: state.id,
    action: state.action,
    status: state.status,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    progress: batchProgress(state, now),
    counts: state.counts,
    total: state.total,
    failed: items.filter((i) => i.status === 'failed').map((i) => ({ repository: i.repository, error: i.error ?? 'The job failed without saying why.' })),
    resumesAt: state.status === 'waiting' ? state.waitUntil : null,
    requests: state.requests,
    items: chosen.slice((page - 1) * pageSize, page * pageSize).map(itemView),
    page,
    pageSize,
    matchingItems: chosen.length,
  };
}

// ---------------------------------------------------------------------------------------------
// The queue step
// ---------------------------------------------------------------------------------------------

function jobInput(state: BatchState, item: BatchItem): JobInput {
  switch (state.action) {
    case 'rotate':
      return { kind: 'rotate', choices: state.keyType ? { keyType: state.keyType } : {} };
    case 'verify':
      return { kind: 'verify' };
    case 'disconnect':
      return { kind: 'disconnect' };
    case 'connect':
      if (!item.connect) throw new Error('A bulk connect item lost its project choice.');
      return { kind: 'connect', choices: item.connect };
  }
}

/** Sends one delayed step, unless one is already due sooner. */
async function wakeAt(platform: ForgePlatform, ws: string, state: BatchState, at: Date): Promise<void> {
  const now = platform.clock.now().getTime();
  const seconds = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil((at.getTime() - now) / 1000)));
  const due = now + seconds * 1000;
  if (state.wakeDueAt && Date.parse(state.wakeDueAt) > now && Date.parse(state.wakeDueAt) <= due) return;
  await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId: state.id }, { delaySeconds: seconds });
  state.wakeDueAt = new Date(due).toISOString();
}

export async function runBatchStep(platform: ForgePlatform, workspaceUuid: string, batchId: string): Promise<void> {
  const ws = bareUuid(workspaceUuid, 'workspace');
  const { store, clock, log } = platform;
  // Before the lease is read: a step holding it sees this and runs again (see the file's comment).
  await store.set(keys.fleetBatchPoke(ws, batchId), { id: randomUUID() }, { ttlSeconds: TTL_SECONDS });
  const state = await loadBatch(platform, ws);
  if (!state || state.id !== batchId || finished(state.status)) return;
  const now = clock.now();
  if (state.leaseUntil && Date.parse(state.leaseUntil) > now.getTime()) return;
  if (state.wakeDueAt && Date.parse(state.wakeDueAt) <= now.getTime()) state.wakeDueAt = null;
  await saveBatch(platform, ws, { ...state, leaseUntil: new Date(now.getTime() + BATCH_LEASE_MS).toISOString() });
  const poke = await store.get<{ id: string }>(keys.fleetBatchPoke(ws, batchId));

  await settleRunning(platform, ws, state);
  const cancelled = (await store.get(keys.fleetBatchCancel(ws, batchId))) !== undefined;
  if (cancelled) state.status = 'cancelling';
  else await startMore(platform, ws, state);

  const after = clock.now();
  if (state.running.length === 0 && (cancelled || state.next >= state.total)) {
    if (cancelled) await skipUnstarted(platform, ws, state);
    await saveBatch(platform, ws, { ...state, status: cancelled ? 'cancelled' : 'done', finishedAt: after.toISOString(), leaseUntil: null, waitUntil: null });
    await store.delete(keys.fleetBatchSlot(ws));
    log.info('bulk action finished', { batchId, status: cancelled ? 'cancelled' : 'done', done: state.counts.done, failed: state.counts.failed });
    return;
  }
  if (!cancelled) state.status = state.waitUntil ? 'waiting' : 'running';
  if (state.waitUntil && Date.parse(state.waitUntil) > after.getTime()) await wakeAt(platform, ws, state, new Date(state.waitUntil));
  else if (state.running.length > 0) await wakeAt(platform, ws, state, new Date(after.getTime() + SAFETY_WAKE_SECONDS * 1000));
  await saveBatch(platform, ws, { ...state, leaseUntil: null });
  const again = await store.get<{ id: string }>(keys.fleetBatchPoke(ws, batchId));
  if (again?.id !== poke?.id) await platform.enqueue({ type: 'fleet-batch', workspaceUuid: ws, batchId });
}

/** Records the outcome of each running job that ended. */
async function settleRunning(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  const now = platform.clock.now();
  const still: number[] = [];
  for (const index of state.running) {
    const item = await loadItem(platform, ws, state.id, index);
    if (!item?.jobId) continue;
    const job = await loadJob(platform.store, item.jobId);
    const stale = job ? isStale(job, now) : Date.parse(item.startedAt ?? state.startedAt) + BATCH_LEASE_MS < now.getTime();
    if (job && !isFinished(job.status) && !stale) {
      still.push(index);
      continue;
    }
    const ok = job?.status === 'done';
    const spent = job?.requests?.bitbucketToken ?? 0;
    const error = ok ? undefined : job?.error ?? (job?.status === 'unverified' ? 'The keys are in place, but Valohai could not be seen fetching with them.' : STALE_JOB_ERROR);
    const updated: BatchItem = {
      ...item,
      status: ok ? 'done' : 'failed',
      requests: spent,
      finishedAt: job?.finishedAt ?? now.toISOString(),
      ...(error !== undefined ? { error: error.length > MAX_ERROR ? `${error.slice(0, MAX_ERROR)}…` : error } : {}),
    };
    await saveItem(platform, ws, state.id, updated);
    state.counts.running -= 1;
    state.counts[updated.status] += 1;
    state.requests.token += spent;
    // The reservation made when it started was an estimate: what it spent beyond counts too.
    if (spent > item.estimate) await recordSpent(platform.store, ws, now, spent - item.estimate);
  }
  state.running = still;
}

/** Starts queued repositories, a few at a time, within the fleet budget. */
async function startMore(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  const { store, clock, log } = platform;
  const now = clock.now();
  let budget = await fleetBudget(store, ws, now);
  state.waitUntil = null;
  while (state.running.length < BATCH_CONCURRENCY && state.next < state.total) {
    const item = await loadItem(platform, ws, state.id, state.next);
    if (!item || item.status !== 'queued') {
      state.next += 1;
      continue;
    }
    // A repository costing more than a whole hour's share would never fit: it starts alone, in a fresh hour.
    if (item.estimate > budget.left && budget.left < FLEET_REQUESTS_PER_HOUR) {
      state.waitUntil = (budget.refillsAt ?? budget.windowEndsAt).toISOString();
      return;
    }
    state.next += 1;
    const connection = await store.get<StoredConnection>(keys.connection(ws, item.repositoryUuid));
    const reason = skipReason(state.action, connection);
    if (reason) {
      await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: `${reason} when its turn came` });
      continue;
    }
    try {
      const job = await startJob(platform, {
        workspaceUuid: ws,
        repositoryUuid: item.repositoryUuid,
        repository: item.repository,
        accountId: state.startedBy,
        input: jobInput(state, item),
        batchId: state.id,
      });
      await saveItem(platform, ws, state.id, { ...item, status: 'running', jobId: job.id, startedAt: clock.now().toISOString() });
      state.counts.queued -= 1;
      state.counts.running += 1;
      state.running.push(item.index);
      if (item.estimate > 0) {
        await recordSpent(store, ws, clock.now(), item.estimate);
        budget = { ...budget, left: Math.max(0, budget.left - item.estimate) };
      }
    } catch (err) {
      if (err instanceof ResolverFailure && err.code === 'job-running') {
        await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: `a job was running on it when its turn came (${err.message})` });
      } else {
        log.warn('bulk action could not start a job', { batchId: state.id, error: errorName(err) });
        const reply = toResolverError(err);
        await finishItem(platform, ws, state, { ...item, status: 'failed', error: `${reply.message} ${reply.fix}` });
      }
    }
  }
}

async function finishItem(platform: ForgePlatform, ws: string, state: BatchState, item: BatchItem): Promise<void> {
  await saveItem(platform, ws, state.id, { ...item, finishedAt: platform.clock.now().toISOString() });
  state.counts.queued -= 1;
  state.counts[item.status] += 1;
}

/** A cancelled batch: the repositories it never started say so. */
async function skipUnstarted(platform: ForgePlatform, ws: string, state: BatchState): Promise<void> {
  for (let index = state.next; index < state.total; index++) {
    const item = await loadItem(platform, ws, state.id, index);
    if (item?.status !== 'queued') continue;
    await finishItem(platform, ws, state, { ...item, status: 'skipped', reason: 'not started: the bulk action was cancelled' });
  }
}

/** Told by the job runner: the bulk action that started the job takes its next step (a result to record, a place for the next repository). */
export async function tellBatch(platform: ForgePlatform, { job }: JobEnd): Promise<void> {
  if (!job.batchId) return;
  try {
    await platform.enqueue({ type: 'fleet-batch', workspaceUuid: job.workspaceUuid, batchId: job.batchId });
  } catch (err) {
    // The batch's own delayed wake-up finds the job ended.
    platform.log.warn('bulk action not told of a finished job', { jobId: job.id, error: errorName(err) });
  }
}
