/**
 * The workspace's access-key audit as queue work: every access key on every repository, built a batch
 * at a time (one queue message per BATCH repositories), its state in the record store, so that it
 * survives a function that dies mid-batch and a request budget that runs out.
 *
 * Cost: the listing is read as the app (Forge counts the app apart from the stored token), and each
 * repository's keys with the stored token (access keys are API-token-only): one token request per
 * repository, more only for a repository with over 100 keys.
 *
 * Resuming: a step writes a lease before it sends anything and clears it with its results. A step
 * that died leaves the lease, and the state where the previous step left it; the next delivery after
 * the lease (getAudit re-enqueues one when it sees a lapsed lease) reads that batch again. Nothing is
 * counted twice: a batch's keys are one record, written whole, under the batch's index.
 *
 * Budget: every token request goes into the token user's ledger as unattended work (budget.ts). Before
 * each batch a step asks the ledger when the batch's repositories fit; when not now, it waits with a
 * queue delay (chained in Forge's 900 s steps) until then. A 429 (Bitbucket says nothing of when to try
 * again) stops the batch where it is, keeps what was read, and waits out the ledger's back-off.
 */
import { randomUUID } from 'node:crypto';
import {
  BitbucketClient,
  BitbucketRateLimitError,
  firstRepositoryPage,
  isRetryableBitbucketError,
  listRepositoryPage,
  type Repository,
} from '../../bitbucket/index';
import { auditCsv, auditKey, connectionIndex, mapBounded, markInUse, markShared, messageOf, type AuditedKey, type AuditResult } from '../../connect/index';
import type { ExportAuditPayload, FleetAuditExport, FleetAuditView, GetAuditPayload, StartAuditPayload } from '../contract';
import { workspaceAdmin } from '../access/authorize';
import { Credentials } from '../store/credentials';
import { cleanText, errorName, failures, isCredentialRefused, ResolverFailure } from '../errors';
import { fleetMeter, fleetWait, MeteredToken } from './budget';
import { clockTime } from './batch-view';
import { latestRunView } from './latest-run';
import { loadPolicy } from '../store/health-records';
import { bareUuid, keys } from '../store/keys';
import { JOB_LIMITS, MAX_QUEUE_DELAY_SECONDS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import type { StoredConnection } from '../store/records';

/** Repositories per queue message. */
export const AUDIT_BATCH = 25;
/** Key listings in flight at once within a batch. */
const CONCURRENCY = 5;
/** A step that has not written its results this long after it began is taken for dead. */
export const AUDIT_LEASE_MS = 5 * 60_000;
/** Audit records are kept this long after the last step. */
const TTL_SECONDS = 14 * 86_400;
/** Repositories the listing may hold before the audit stops with a clear message (Forge record sizes). */
const MAX_REPOSITORIES = 10_000;

type AuditStatus = FleetAuditView['status'];

interface PendingRepository {
  fullName: string;
  workspace: string;
  slug: string;
}

export interface AuditState {
  id: string;
  status: AuditStatus;
  startedAt: string;
  startedBy: string;
  finishedAt: string | null;
  unusedDays: number;
  workspaceSlug: string | null;
  /** The listing's next page (a path below /2.0); null once the listing is read to its end. */
  cursor: string | null;
  /** Listed, not yet read, in listing order. */
  pending: PendingRepository[];
  listed: number;
  /** The listing's size, when Bitbucket said. */
  total: number | null;
  read: number;
  keysFound: number;
  unreadable: { repository: string; error: string }[];
  /** Batches written (parts 0 … parts-1). */
  parts: number;
  requests: { token: number; app: number };
  /** While set and in the future, a step is working; a lapsed one died. */
  leaseUntil: string | null;
  /** The budget ran out: no request before this. */
  waitUntil: string | null;
  /** Steps that found an earlier one dead and read its batch again. */
  resumes: number;
  error: string | null;
  /** Findings over every key, once done. */
  findings: Record<string, number>;
  updatedAt: string;
}

interface AuditPart {
  keys: AuditedKey[];
}

export function loadAudit(platform: ForgePlatform, ws: string): Promise<AuditState | undefined> {
  return platform.store.get<AuditState>(keys.fleetAudit(ws));
}

function saveAudit(platform: ForgePlatform, ws: string, state: AuditState): Promise<void> {
  return platform.store.set(keys.fleetAudit(ws), { ...state, updatedAt: platform.clock.now().toISOString() }, { ttlSeconds: TTL_SECONDS });
}

const finished = (status: AuditStatus) => status === 'done' || status === 'failed';

/** The sentence the page shows under the progress bar. */
export function auditProgress(state: AuditState, now: Date): string {
  const of = state.total !== null ? ` of ${state.total}` : state.cursor === null ? ` of ${state.listed}` : '';
  const read = `${state.read}${of} repositories read, ${state.keysFound} access keys found`;
  if (state.status === 'done') return `Done: ${read}${state.unreadable.length ? `; ${state.unreadable.length} could not be read` : ''}.`;
  if (state.status === 'failed') return `Stopped: ${read}. ${state.error ?? ''}`.trim();
  if (state.status === 'waiting' && state.waitUntil) {
    return `${read}; resumes at about ${clockTime(new Date(state.waitUntil), now)} when the stored token's hour has room.`;
  }
  return `${read}…`;
}

async function partKeys(platform: ForgePlatform, ws: string, state: AuditState): Promise<AuditedKey[]> {
  const parts = await platform.store.query<AuditPart>(keys.fleetAuditPartPrefix(ws, state.id), { limit: state.parts + 1 });
  const all = parts.flatMap(({ value }) => value.keys);
  markShared(all);
  // As the CLI's audit: a key another connection (one made with the CLI) fetches with is no lookalike to remove.
  markInUse(all);
  return all;
}

function countFindings(all: AuditedKey[]): Record<string, number> {
  const counts: Record<string, number> = { unused: 0, weak: 0, shared: 0, lookalike: 0 };
  for (const k of all) for (const f of k.findings) counts[f] = (counts[f] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Resolvers
// ---------------------------------------------------------------------------------------------

export async function startAudit(platform: ForgePlatform, context: TrustedContext, payload: StartAuditPayload): Promise<FleetAuditView> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  if (!(await credentials.usableBitbucket())) throw failures.bitbucketNotSetUp();
  const now = platform.clock.now();
  const current = await loadAudit(platform, ws);
  if (current && !finished(current.status)) {
    throw new ResolverFailure('job-running', `An audit of this workspace is under way: ${auditProgress(current, now)}`, 'Wait for it to finish; the page shows its progress.', true);
  }
  const unusedDays = payload.unusedDays ?? (await loadPolicy(platform.store, ws)).unusedDays;
  const state: AuditState = {
    id: randomUUID(),
    status: 'running',
    startedAt: now.toISOString(),
    startedBy: context.accountId,
    finishedAt: null,
    unusedDays,
    workspaceSlug: null,
    cursor: firstRepositoryPage(context.workspaceId),
    pending: [],
    listed: 0,
    total: null,
    read: 0,
    keysFound: 0,
    unreadable: [],
    parts: 0,
    requests: { token: 0, app: 0 },
    leaseUntil: null,
    waitUntil: null,
    resumes: 0,
    error: null,
    findings: {},
    updatedAt: now.toISOString(),
  };
  await saveAudit(platform, ws, state);
  await platform.enqueue({ type: 'fleet-audit', workspaceUuid: ws, auditId: state.id });
  platform.log.info('audit started', { auditId: state.id });
  return auditView(platform, ws, state, { page: 1, pageSize: 0 });
}

export async function getAudit(platform: ForgePlatform, context: TrustedContext, payload: GetAuditPayload): Promise<{ audit: FleetAuditView | null }> {
  return { audit: await latestRunView(platform, context, { load: loadAudit, wakeIfStalled, view: auditView }, payload) };
}

export async function exportAudit(platform: ForgePlatform, context: TrustedContext, payload: ExportAuditPayload): Promise<FleetAuditExport> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const state = await loadAudit(platform, ws);
  if (!state) throw new ResolverFailure('not-found', 'No access-key audit has been run in this workspace.', 'Start an audit, then export it when it is done.');
  const result: AuditResult = {
    workspace: state.workspaceSlug ?? '',
    repositories: state.read,
    keys: await partKeys(platform, ws, state),
    unreadable: state.unreadable,
    unusedDays: state.unusedDays,
    auditedAt: state.finishedAt ?? state.updatedAt,
  };
  const base = `access-keys-${result.workspace || 'workspace'}-${result.auditedAt.slice(0, 10)}`;
  const complete = state.status === 'done';
  if (payload.format === 'csv') return { format: 'csv', filename: `${base}.csv`, complete, text: auditCsv(result) };
  return { format: 'json', filename: `${base}.json`, complete, text: `${JSON.stringify({ ...result, complete }, null, 2)}\n` };
}

/** A running audit whose step died (its lease lapsed) or whose delayed message was lost gets a new one. */
async function wakeIfStalled(platform: ForgePlatform, ws: string, state: AuditState): Promise<void> {
  if (finished(state.status)) return;
  const now = platform.clock.now().getTime();
  const lapsed = state.leaseUntil !== null && Date.parse(state.leaseUntil) < now;
  // A waiting audit's message is delayed in 900 s hops; one overdue by more than a hop was lost.
  const quiet = state.leaseUntil === null && now - Date.parse(state.updatedAt) > AUDIT_LEASE_MS + (state.waitUntil ? MAX_QUEUE_DELAY_SECONDS * 1000 : 0);
  if (!lapsed && !quiet) return;
  platform.log.warn('audit stalled; resumed', { auditId: state.id });
  await platform.enqueue({ type: 'fleet-audit', workspaceUuid: ws, auditId: state.id });
}

async function auditView(platform: ForgePlatform, ws: string, state: AuditState, payload: GetAuditPayload): Promise<FleetAuditView> {
  const now = platform.clock.now();
  const pageSize = payload.pageSize ?? 50;
  const page = payload.page ?? 1;
  // A finished audit's findings are counted once; a running one's are counted over what it read so far.
  const all = pageSize > 0 || state.status !== 'done' ? await partKeys(platform, ws, state) : [];
  const chosen = all
    .filter((k) => (payload.finding ? k.findings.includes(payload.finding) : true))
    .sort((a, b) => a.repository.localeCompare(b.repository) || a.id - b.id);
  return {
    id: state.id,
    status: state.status,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    progress: auditProgress(state, now),
    repositoriesRead: state.read,
    repositoriesTotal: state.total ?? (state.cursor === null ? state.listed : null),
    keysFound: state.keysFound,
    unreadable: state.unreadable,
    requests: state.requests,
    resumesAt: state.status === 'waiting' ? state.waitUntil : null,
    findings: state.status === 'done' ? state.findings : countFindings(all),
    unusedDays: state.unusedDays,
    ...(state.error ? { error: state.error } : {}),
    keys: chosen.slice((page - 1) * pageSize, page * pageSize),
    page,
    pageSize,
    matchingKeys: chosen.length,
  };
}

// ---------------------------------------------------------------------------------------------
// The queue step
// ---------------------------------------------------------------------------------------------

/** Delays a message by up to Forge's 900 s; a longer wait is chained by the step that wakes early. */
function delayUntil(platform: ForgePlatform, ws: string, auditId: string, until: Date): Promise<void> {
  const seconds = Math.ceil((until.getTime() - platform.clock.now().getTime()) / 1000);
  return platform.enqueue({ type: 'fleet-audit', workspaceUuid: ws, auditId }, { delaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, seconds)) });
}

/** The stored token itself was refused: the audit stops, no repository is "unreadable" for it. */
class TokenRefusedError extends Error {
  override readonly name = 'TokenRefusedError';
}

type Read = { repo: PendingRepository; keys: AuditedKey[] } | { repo: PendingRepository; unreadable: string } | { repo: PendingRepository; limited: true } | { repo: PendingRepository; skipped: true };

/** `resumed`: a redelivery after a step that died, whose lease is then taken over rather than waited out. */
export async function runAuditStep(platform: ForgePlatform, workspaceUuid: string, auditId: string, resumed = false): Promise<void> {
  const ws = bareUuid(workspaceUuid, 'workspace');
  const { clock, store, log } = platform;
  const state = await loadAudit(platform, ws);
  if (!state || state.id !== auditId || finished(state.status)) return;
  const now = clock.now();
  if (state.leaseUntil && Date.parse(state.leaseUntil) > now.getTime() && !resumed) {
    log.info('audit step already running; this delivery dropped', { auditId });
    return;
  }
  if (state.waitUntil && Date.parse(state.waitUntil) > now.getTime()) {
    await delayUntil(platform, ws, auditId, new Date(state.waitUntil));
    return;
  }
  if (state.leaseUntil) state.resumes += 1;

  const credentials = new Credentials(platform, ws);
  const secret = await credentials.usableBitbucket();
  if (!secret) {
    await saveAudit(platform, ws, { ...state, status: 'failed', finishedAt: now.toISOString(), leaseUntil: null, error: `${failures.bitbucketNotSetUp().message} ${failures.bitbucketNotSetUp().fix}` });
    return;
  }
  const meter = await fleetMeter(platform, secret);
  const until = fleetWait(meter, batchCost(state), now);
  if (until) {
    await wait(platform, ws, state, until);
    return;
  }
  // The lease is written before any request, so a step that dies is seen as dead, not as busy forever.
  await saveAudit(platform, ws, { ...state, status: 'running', waitUntil: null, leaseUntil: new Date(now.getTime() + AUDIT_LEASE_MS).toISOString() });

  const secrets = [secret.token];
  // What the step sent goes into the ledger however it ends; a write that fails is only logged.
  const flush = () => meter.flush().catch((err: unknown) => log.warn('token hour not written', { auditId, error: errorName(err) }));
  const metered = new MeteredToken(platform.makeBitbucketWithToken(secret, JOB_LIMITS), meter);
  // A 429 is not waited out inside the step: the step stops and the queue brings it back after the ledger's back-off.
  const client = new BitbucketClient({
    transport: metered.transport,
    retry: { maxAttempts: JOB_LIMITS.maxAttempts, maxTotalMs: JOB_LIMITS.maxTotalMs, isRetryable: (err) => isRetryableBitbucketError(err) && !(err instanceof BitbucketRateLimitError) },
  });

  try {
    // Listing as the app until a batch's worth is pending (or the listing ends).
    while (state.pending.length < AUDIT_BATCH && state.cursor !== null) {
      const page = await listRepositoryPage(platform.bitbucketAsApp, state.cursor);
      state.requests.app += 1;
      state.cursor = page.next;
      state.total = page.size ?? state.total;
      state.workspaceSlug ??= page.workspace?.slug ?? null;
      state.pending.push(...page.repositories.map((r: Repository) => ({ fullName: r.fullName, workspace: r.workspace, slug: r.slug })));
      state.listed += page.repositories.length;
      if (state.listed > MAX_REPOSITORIES) throw new ResolverFailure('internal', `The workspace lists more than ${MAX_REPOSITORIES} repositories, more than one audit holds.`, 'Use the CLI (valohai-bitbucket audit) for a workspace this size.');
    }

    const connections = await store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: 5000 });
    const byKey = connectionIndex(connections.map(({ value }) => value.record));
    const batch = state.pending.slice(0, Math.min(AUDIT_BATCH, meter.remaining()));
    let stop = false;
    const reads = await mapBounded(batch, CONCURRENCY, async (repo): Promise<Read> => {
      if (stop || metered.limitedUntil()) {
        stop = true;
        return { repo, skipped: true };
      }
      try {
        const found = await client.listAccessKeys(repo.workspace, repo.slug).catch((err: unknown) => {
          throw isCredentialRefused(err) ? new TokenRefusedError() : err;
        });
        // A label is whatever someone typed on Bitbucket: kept as the page may show it, control and bidi characters made visible.
        return { repo, keys: found.map((k) => auditKey(repo.fullName, { ...k, label: cleanText(k.label, secrets) }, byKey, clock.now(), state.unusedDays)) };
      } catch (err) {
        if (err instanceof BitbucketRateLimitError) {
          stop = true;
          return { repo, limited: true };
        }
        if (err instanceof TokenRefusedError) throw err;
        return { repo, unreadable: cleanText(messageOf(err), secrets) };
      }
    });

    // Results are kept up to the first repository not read, so the listing order (the cursor) holds.
    const done: Read[] = [];
    for (const r of reads) {
      if ('limited' in r || 'skipped' in r) break;
      done.push(r);
    }
    const partKeysRead = done.flatMap((r) => ('keys' in r ? r.keys : []));
    if (done.length > 0) {
      await store.set(keys.fleetAuditPart(ws, state.id, state.parts), { keys: partKeysRead } satisfies AuditPart, { ttlSeconds: TTL_SECONDS });
      state.parts += 1;
    }
    state.pending = state.pending.slice(done.length);
    state.read += done.length;
    state.keysFound += partKeysRead.length;
    for (const r of done) if ('unreadable' in r) state.unreadable.push({ repository: r.repo.fullName, error: r.unreadable });
    state.requests.token += metered.sent;

    const after = clock.now();
    await flush();

    if (state.pending.length === 0 && state.cursor === null) {
      const all = await partKeys(platform, ws, state);
      await saveAudit(platform, ws, { ...state, status: 'done', finishedAt: after.toISOString(), leaseUntil: null, waitUntil: null, findings: countFindings(all) });
      log.info('audit finished', { auditId, repositories: state.read, keys: state.keysFound });
      return;
    }
    // The next batch when it fits: at once, after a 429's back-off, or when the hour has room again.
    const next = fleetWait(meter, batchCost(state), after);
    if (next) {
      await wait(platform, ws, { ...state, leaseUntil: null }, next);
      return;
    }
    await saveAudit(platform, ws, { ...state, status: 'running', leaseUntil: null, waitUntil: null });
    await platform.enqueue({ type: 'fleet-audit', workspaceUuid: ws, auditId });
  } catch (err) {
    await flush();
    if (err instanceof TokenRefusedError) {
      await saveAudit(platform, ws, {
        ...state,
        status: 'failed',
        finishedAt: clock.now().toISOString(),
        leaseUntil: null,
        error: 'Bitbucket refused the stored API token. A workspace admin saves a new one on the Valohai settings page, then starts the audit again.',
      });
      return;
    }
    if (err instanceof ResolverFailure) {
      await saveAudit(platform, ws, { ...state, status: 'failed', finishedAt: clock.now().toISOString(), leaseUntil: null, error: `${err.message} ${err.fix}` });
      return;
    }
    if (err instanceof BitbucketRateLimitError) {
      // The app's own listing was limited: a short wait, the app's budget is not the token's.
      await wait(platform, ws, { ...state, leaseUntil: null }, new Date(clock.now().getTime() + MAX_QUEUE_DELAY_SECONDS * 1000));
      return;
    }
    // Anything else (a listing page that failed, the store): the lease lapses and the batch is read again.
    log.warn('audit step failed; it resumes after its lease', { auditId, error: errorName(err) });
    throw err;
  }
}

async function wait(platform: ForgePlatform, ws: string, state: AuditState, until: Date): Promise<void> {
  await saveAudit(platform, ws, { ...state, status: 'waiting', leaseUntil: null, waitUntil: until.toISOString() });
  await delayUntil(platform, ws, state.id, until);
  platform.log.info("audit waits for the stored token's hour", { auditId: state.id, until: until.toISOString() });
}

/** Stored-token requests the next batch plans: one per repository (the last batch may be smaller). */
function batchCost(state: AuditState): number {
  return Math.max(1, Math.min(AUDIT_BATCH, state.cursor === null ? state.pending.length : AUDIT_BATCH));
}
