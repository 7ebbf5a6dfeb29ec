/**
 * Push-triggered fetch. A push to a repository without a connection costs one record read. A push to
 * a connected one records its time and enqueues a sync job unless one is already queued or running; a
 * push that lands while a sync runs is picked up by that sync's follow-up, so a burst of pushes makes
 * one or two fetches and the last push is never missed.
 *
 * The "queued" marker is created atomically; the sync removes it before it reads the last push time,
 * so a push either sees no marker (and enqueues) or is seen by the sync (which enqueues again).
 *
 * Whoever can push writes `.gitmodules`, so what a push may spend of the stored token is capped: a
 * connection's push handling makes at most PUSH_TOKEN_REQUESTS_PER_HOUR stored-token requests in an
 * hour. A `.gitmodules` change that does not fit is left to the next scheduled check, and Valohai still
 * fetches at once (that costs the token nothing).
 */
import { sync } from '../../connect/index';
import { appBitbucket, splitFullName, valohaiFor } from '../platform/clients';
import { runHealthCheck } from './check';
import { gitmodulesHash } from '../store/connections';
import { checkCost } from './schedule';
import { Credentials } from '../store/credentials';
import { cleanText, errorName, valohaiTokenRefused } from '../errors';
import { bareUuid, keys } from '../store/keys';
import { JOB_LIFETIME_MS } from '../jobs/slots';
import { JOB_LIMITS, type ForgePlatform } from '../platform/ports';
import type { PushQueuedMarker, PushState, StoredConnection } from '../store/records';
import { ValohaiAuthError } from '../../valohai/index';

/**
 * Stored-token requests one connection's push handling may make in an hour: a few checks of a connection
 * with a handful of repositories. Pushes that change nothing in `.gitmodules` spend none.
 */
export const PUSH_TOKEN_REQUESTS_PER_HOUR = 20;

const HOUR_MS = 3_600_000;

/** What a connection's push handling spent of the stored token in the hour that began at `since`. */
export interface PushSpend {
  since: string;
  spent: number;
}

/** What one push check may still spend this hour (0: none), with the hour it counts in. */
async function pushShare(platform: ForgePlatform, workspaceUuid: string, repositoryUuid: string): Promise<PushSpend & { left: number }> {
  const now = platform.clock.now();
  const held = await platform.store.get<PushSpend>(keys.pushSpend(workspaceUuid, repositoryUuid));
  const current = held && now.getTime() - Date.parse(held.since) < HOUR_MS && Date.parse(held.since) <= now.getTime() ? held : { since: now.toISOString(), spent: 0 };
  return { ...current, left: Math.max(0, PUSH_TOKEN_REQUESTS_PER_HOUR - current.spent) };
}

/** What the push event carries that the app uses; everything else is ignored. */
export interface PushEvent {
  repository?: { uuid?: unknown };
  workspace?: { uuid?: unknown };
  /** `ref`: the bare name of the branch pushed to. */
  push?: { ref?: unknown };
}

/** The branch the event says was pushed, or undefined when it does not say (then every push syncs, as before). */
function refOf(event: unknown): string | undefined {
  const ref = (event as PushEvent | null)?.push?.ref;
  return typeof ref === 'string' && ref ? ref.replace(/^refs\/heads\//, '') : undefined;
}


function idsOf(event: unknown): { workspaceUuid: string; repositoryUuid: string } | undefined {
  const e = event as PushEvent | null;
  const ws = e?.workspace?.uuid;
  const repo = e?.repository?.uuid;
  if (typeof ws !== 'string' || typeof repo !== 'string') return undefined;
  try {
    return { workspaceUuid: bareUuid(ws, 'workspace'), repositoryUuid: bareUuid(repo, 'repository') };
  } catch {
    return undefined;
  }
}

/** Enqueues a sync unless one is queued or running; true when this call enqueued it. */
async function requestSync(platform: ForgePlatform, workspaceUuid: string, repositoryUuid: string): Promise<boolean> {
  const { store, clock } = platform;
  const marker = keys.pushQueued(workspaceUuid, repositoryUuid);
  const now = clock.now();
  const value: PushQueuedMarker = { queuedAt: now.toISOString() };
  let created = await store.create(marker, value, { ttlSeconds: Math.ceil((JOB_LIFETIME_MS * 2) / 1000) });
  if (!created) {
    const held = await store.get<PushQueuedMarker>(marker);
    // A marker older than a queue job can live belongs to a sync that died: replace it.
    if (held && now.getTime() - Date.parse(held.queuedAt) > JOB_LIFETIME_MS) {
      await store.delete(marker);
      created = await store.create(marker, value);
    }
  }
  if (!created) return false;
  try {
    await platform.enqueue({ type: 'sync', workspaceUuid, repositoryUuid });
  } catch (err) {
    await store.delete(marker);
    throw err;
  }
  return true;
}

export async function handlePush(platform: ForgePlatform, event: unknown): Promise<'ignored' | 'queued' | 'coalesced'> {
  const ids = idsOf(event);
  if (!ids) return 'ignored';
  const { store, clock } = platform;
  const connection = await store.get<StoredConnection>(keys.connection(ids.workspaceUuid, ids.repositoryUuid));
  // A connection whose project moved away: a fetch there would be another repository's.
  if (!connection || connection.state !== 'connected' || connection.movedAway) return 'ignored';
  // Valohai fetches one branch: a push to another changes nothing it sees.
  const ref = refOf(event);
  if (ref !== undefined && ref !== connection.record.ref) return 'ignored';
  const state: PushState = { lastPushAt: clock.now().toISOString() };
  await store.set(keys.pushState(ids.workspaceUuid, ids.repositoryUuid), state);
  return (await requestSync(platform, ids.workspaceUuid, ids.repositoryUuid)) ? 'queued' : 'coalesced';
}

/**
 * When the push changed `.gitmodules` at the head of the fetch reference (read as the app; the stored
 * token is not spent on it), a check runs in place of the plain fetch: new Bitbucket submodule
 * repositories get the connection's key first, where the connection's maker may give it, and the
 * fetch is checked. True when the check ran and fetched; false leaves the plain fetch to the sync.
 */
async function checkedForSubmodules(
  platform: ForgePlatform,
  workspaceUuid: string,
  repositoryUuid: string,
  connection: StoredConnection,
  seen: { head: string | null },
  lockHolder?: string,
): Promise<boolean> {
  const { workspace, repo } = splitFullName(connection.record.repository);
  const app = appBitbucket(platform, JOB_LIMITS);
  let hash: string;
  try {
    // Bitbucket's head after the push, read as the app: the fetch that follows is checked against it.
    seen.head = await app.getBranchHead(workspace, repo, connection.record.ref);
    if (!connection.submodules) return false;
    hash = gitmodulesHash(await app.getFileAtCommit(workspace, repo, seen.head, '.gitmodules'));
  } catch (err) {
    platform.log.warn('push: .gitmodules not read', { error: errorName(err) });
    return false;
  }
  if (hash === connection.gitmodulesHash) return false;
  const share = await pushShare(platform, workspaceUuid, repositoryUuid);
  if (share.left < checkCost(connection)) {
    // The hour's share is spent: Valohai fetches as for any push, and the next scheduled check reads `.gitmodules`.
    platform.log.info('push: .gitmodules change left for the next check (push share spent)', { spent: share.spent });
    return false;
  }
  const spent = { bitbucketToken: 0, bitbucketApp: 0, valohai: 0 };
  let entry;
  try {
    entry = await runHealthCheck(platform, workspaceUuid, repositoryUuid, { trigger: 'push', tokenLimit: share.left, spent, ...(lockHolder ? { lockHolder } : {}) });
  } finally {
    await platform.store.set(keys.pushSpend(workspaceUuid, repositoryUuid), { since: share.since, spent: share.spent + spent.bitbucketToken } satisfies PushSpend);
  }
  // Paused or skipped (a job holds the repository): the plain fetch goes ahead, and the next push checks again.
  if (!entry || entry.health === 'paused') return false;
  const key = keys.connection(workspaceUuid, repositoryUuid);
  const fresh = await platform.store.get<StoredConnection>(key);
  if (fresh) await platform.store.set(key, { ...fresh, gitmodulesHash: hash });
  // headSeen is null only when Valohai was not asked to fetch (the check stopped before it).
  return entry.headSeen !== null;
}

/**
 * The sync job: Valohai fetches, the outcome is kept for the repository page. `lockHolder` names the
 * queue event, so that its redelivery after a run that died takes back the lock that run held.
 */
export async function runSync(platform: ForgePlatform, workspaceUuid: string, repositoryUuid: string, lockHolder?: string): Promise<void> {
  const { store, clock, log } = platform;
  const startedAt = clock.now();
  const connKey = keys.connection(workspaceUuid, repositoryUuid);
  const secrets: string[] = [];
  try {
    const connection = await store.get<StoredConnection>(connKey);
    const seen: { head: string | null } = { head: null };
    if (connection && connection.state === 'connected' && !connection.movedAway && (await checkedForSubmodules(platform, workspaceUuid, repositoryUuid, connection, seen, lockHolder))) {
      // The check fetched (and recorded the fetch) after giving new submodule repositories the key.
    } else if (connection && connection.state === 'connected' && !connection.movedAway) {
      const credentials = new Credentials(platform, workspaceUuid);
      const secret = await credentials.valohai();
      let outcome: StoredConnection['lastPushFetch'];
      let newCommits: string[] = [];
      if (!secret) {
        outcome = { at: startedAt.toISOString(), commits: 0, errors: ['No Valohai token is stored for this workspace, so Valohai was not asked to fetch.'] };
      } else {
        secrets.push(secret.token);
        try {
          const result = await sync({ valohai: valohaiFor(platform, secret, JOB_LIMITS) }, { project: connection.record.projectId });
          newCommits = result.newCommits;
          outcome = { at: startedAt.toISOString(), commits: result.newCommits.length, errors: result.errors.map((e) => cleanText(e, secrets)) };
        } catch (err) {
          if (err instanceof ValohaiAuthError) await credentials.recordProblem('valohai', valohaiTokenRefused());
          const message = err instanceof Error ? err.message : 'Valohai could not be asked to fetch.';
          outcome = { at: startedAt.toISOString(), commits: 0, errors: [cleanText(message, secrets)] };
        }
      }
      const { head } = seen;
      // Read again: a job may have changed the connection while Valohai fetched.
      const fresh = await store.get<StoredConnection>(connKey);
      const fetched = head && (newCommits.includes(head) || fresh?.lastFetch?.fetched === head) ? head : null;
      const lastFetch = secret ? { at: outcome.at, ok: outcome.errors.length === 0, head, fetched, errors: outcome.errors } : fresh?.lastFetch;
      if (fresh) await store.set(connKey, { ...fresh, lastPushFetch: outcome, lastFetch: lastFetch ?? null });
    }
  } catch (err) {
    log.warn('push sync failed', { error: errorName(err) });
  } finally {
    await store.delete(keys.pushQueued(workspaceUuid, repositoryUuid));
    const last = await store.get<PushState>(keys.pushState(workspaceUuid, repositoryUuid));
    if (last && Date.parse(last.lastPushAt) > startedAt.getTime()) {
      // A push arrived while Valohai was fetching: its commits may be newer than that fetch.
      await requestSync(platform, workspaceUuid, repositoryUuid).catch((err: unknown) => log.warn('push sync re-queue failed', { error: errorName(err) }));
    }
  }
}
