/**
 * The 'connected' view of a repository. With an API token the engine's `status` reads every target's
 * keys; without one (a connection made by hand), access keys cannot be listed, so the view is built
 * from what the app stored plus Bitbucket's head and Valohai's newest commit.
 */
import { BitbucketRateLimitError, type Repository } from '../../bitbucket/index';
import { discover, fetchesElsewhere, projectMovedWarning, status, type Warning } from '../../connect/index';
import { accessKeysUrl, appBitbucket, splitFullName, tokenBitbucket, withAppReads } from '../platform/clients';
import { keyAgeLevel, KEY_AGE_ALERT_DAYS, type ConnectionStatus, type HealthView, type SyncState } from '../contract';
import { keyAgeOf, KvConnectionStore } from '../store/connections';
import { projectUrlOf } from '../jobs/by-hand';
import { RESOLVER_LIMITS, type ForgePlatform, type ValohaiPort } from '../platform/ports';
import type { BitbucketSecret, StoredConnection } from '../store/records';

function ageWarning(days: number): Warning[] {
  const level = keyAgeLevel(days);
  if (level === 'alert') return [{ code: 'key-age-alert', message: `The key is ${days} days old, over ${KEY_AGE_ALERT_DAYS} days: rotate it now.` }];
  if (level === 'warning') return [{ code: 'key-age-warning', message: `The key is ${days} days old: plan to rotate it (Valohai suggests every 6-12 months).` }];
  return [];
}

/**
 * The sync state from the last fetch the app asked Valohai for, not from the newest commit Valohai ever
 * stored: a fetch that failed is an error until a later one works, whatever Valohai still has.
 */
export function syncState(
  connection: Pick<StoredConnection, 'lastFetch' | 'verifiedAt'>,
  now: { valohaiCommit: string | null; bitbucketHead: string | null; movedAway: boolean; keyMissing?: string[] },
): SyncState {
  if (now.movedAway) return { state: 'moved' };
  const last = connection.lastFetch;
  if (now.keyMissing?.length) return { state: 'failing', at: null, errors: now.keyMissing };
  if (last && !last.ok) return { state: 'failing', at: last.at, errors: last.errors };
  const worked = last ? last.ok : connection.verifiedAt !== null;
  if (!worked || !now.bitbucketHead) return { state: 'unknown' };
  const has = last?.fetched === now.bitbucketHead || now.valohaiCommit === now.bitbucketHead;
  return has ? { state: 'in-sync' } : { state: 'behind' };
}

const noKeyGeneration = () => Promise.reject(new Error('A status read never generates keys.'));

export async function connectionStatus(
  platform: ForgePlatform,
  connection: StoredConnection,
  repository: Repository,
  valohai: ValohaiPort,
  valohaiHost: string,
  token: BitbucketSecret | undefined,
  health: HealthView,
): Promise<ConnectionStatus> {
  const { record } = connection;
  const { workspace, repo } = splitFullName(repository.fullName);
  // What the app stored; what is read below replaces the parts it can see better.
  const base: ConnectionStatus = { ...storedStatus(platform, connection, health), project: { id: record.projectId, name: record.projectName, url: projectUrlOf(connection, valohaiHost) } };
  const { keyAgeDays } = base;
  const moved = (url: string | null | undefined) => {
    const elsewhere = fetchesElsewhere(url, repository);
    return elsewhere ? { fetches: connection.movedAway?.to ?? elsewhere } : null;
  };

  if (token) {
    const store = new KvConnectionStore(platform.store, connection.workspaceUuid, connection.repositoryUuid, {
      submodules: connection.submodules,
      projectOwner: connection.projectOwner,
    });
    const bitbucket = withAppReads(appBitbucket(platform, RESOLVER_LIMITS), tokenBitbucket(platform, token, RESOLVER_LIMITS), workspace);
    const deps = { bitbucket, valohai, generateKey: noKeyGeneration, clock: platform.clock, store };
    let found: Awaited<ReturnType<typeof status>>;
    try {
      // The repositories the connection records only: a submodule pushed since is the health card's to
      // name (to those who may see it), and its keys are not this page's to read with the stored token.
      found = await status(deps, { workspace, repo, project: record.projectId, ref: record.ref, submodules: connection.submodules }, { onlyRecorded: true });
    } catch (err) {
      if (err instanceof BitbucketRateLimitError) return rateLimited(platform, base, err.retryAfterSeconds);
      throw err;
    }
    // Keys that could not be listed for the rate limit say nothing about the connection: the stored view stands.
    const limited = found.repositories.find((r) => r.rateLimited);
    if (limited) return rateLimited(platform, base, limited.rateLimited?.retryAfterSeconds);
    // A target without the key is why Valohai cannot fetch: the sync state says it, once.
    const warnings = found.warnings.filter((w) => w.code !== 'not-fetched' && w.code !== 'new-target');
    const movedAway = moved(found.valohai.url);
    const keyMissing = movedAway
      ? undefined
      : !found.connected
        ? [`${repository.fullName} no longer has the connection's access key, so Valohai cannot fetch it. Rotate to put a new key in place, or disconnect.`]
        : found.warnings.filter((w) => w.code === 'not-fetched').map((w) => w.message);
    const valohaiCommit = found.valohai.newestCommit ?? null;
    return {
      ...base,
      fingerprint: found.fingerprint ?? record.fingerprint,
      keyAgeDays: found.keyAgeDays ?? keyAgeDays,
      accessKeys: found.repositories.filter((r) => !r.unrecorded).map((r) => {
        const [ws = '', slug = ''] = r.repository.split('/');
        return {
          repository: r.repository,
          state: r.key ? 'present' : 'missing',
          id: r.key?.id ?? null,
          lastUsed: r.key?.lastUsed ?? null,
          accessKeysUrl: accessKeysUrl(ws, slug),
        };
      }),
      valohaiCommit: valohaiCommit ? { identifier: valohaiCommit, commitTime: null } : null,
      bitbucketHead: found.headCommit,
      movedAway,
      sync: syncState(connection, { valohaiCommit, bitbucketHead: found.headCommit, movedAway: movedAway !== null, ...(keyMissing ? { keyMissing } : {}) }),
      warnings,
    };
  }

  const [plan, commits, project] = await Promise.all([
    discover(appBitbucket(platform, RESOLVER_LIMITS), { workspace, repo, ref: record.ref, submodules: false }).catch(() => undefined),
    valohai.listCommits(record.projectId, 1),
    valohai.findProject(record.projectId).catch(() => undefined),
  ]);
  const movedAway = project ? moved(project.repository?.url) : base.movedAway;
  const newest = movedAway ? undefined : commits[0];
  return {
    ...base,
    valohaiCommit: newest ? { identifier: newest.identifier, commitTime: newest.commitTime ?? null } : null,
    bitbucketHead: plan?.headCommit ?? null,
    movedAway,
    sync: syncState(connection, { valohaiCommit: newest?.identifier ?? null, bitbucketHead: plan?.headCommit ?? null, movedAway: movedAway !== null }),
    warnings: [...(movedAway ? [projectMovedWarning(record.projectName, movedAway.fetches)] : []), ...base.warnings],
  };
}

/**
 * What the page shows when Bitbucket's rate limit (429) stopped its reads: the connection as the app
 * stored it (project, key, repositories, last fetch), and when the page will read Bitbucket again.
 * Bitbucket counts about 1,000 requests an hour per user over a rolling hour: without a Retry-After,
 * an hour from now is the latest it can take.
 */
function rateLimited(platform: ForgePlatform, base: ConnectionStatus, retryAfterSeconds: number | undefined): ConnectionStatus {
  const now = platform.clock.now().getTime();
  const at = new Date(now + (retryAfterSeconds ?? 3600) * 1000);
  const time = `${at.toISOString().slice(11, 16)} UTC`;
  const when =
    retryAfterSeconds !== undefined
      ? `Bitbucket asked to wait ${retryAfterSeconds} s: reload the page after ${time}.`
      : `Bitbucket counts them over a rolling hour, so it works again by ${time} at the latest; reload the page in a few minutes.`;
  return {
    ...base,
    rateLimitedUntil: at.toISOString(),
    warnings: [
      {
        code: 'rate-limited',
        message:
          "Bitbucket's request limit for the stored API token was reached (429), so the access keys could not be checked just now: " +
          `this is the connection as the app stored it. ${when}`,
      },
      ...base.warnings,
    ],
  };
}

/**
 * A connection as the app stored it, read without Valohai (no Valohai token is stored): the page keeps
 * showing it, its keys and Disconnect, whatever became of the tokens. Nothing remote is read.
 */
export function storedStatus(platform: ForgePlatform, connection: StoredConnection, health: HealthView): ConnectionStatus {
  const { record } = connection;
  const keyAgeDays = keyAgeOf(connection, platform.clock.now()) ?? 0;
  return {
    project: { id: record.projectId, name: record.projectName, url: null },
    ref: record.ref,
    keyType: record.keyType,
    fingerprint: record.fingerprint,
    createdAt: record.createdAt,
    keyAgeDays,
    accessKeys: uncheckedKeys(connection),
    valohaiCommit: null,
    bitbucketHead: null,
    verifiedAt: connection.verifiedAt,
    lastPushFetch: connection.lastPushFetch,
    movedAway: connection.movedAway ? { fetches: connection.movedAway.to } : null,
    sync: { state: connection.movedAway ? 'moved' : 'unknown' },
    warnings: [...connection.warnings.filter((w) => !w.code.startsWith('key-age')), ...ageWarning(keyAgeDays)],
    health,
  };
}

/** The repositories a connection put its key on, as recorded: their keys cannot be seen from here. */
function uncheckedKeys(connection: StoredConnection): ConnectionStatus['accessKeys'] {
  return connection.record.targets.map((t) => {
    const [ws = '', slug = ''] = t.repository.split('/');
    return { repository: t.repository, state: 'unchecked', id: t.keyId, lastUsed: null, accessKeysUrl: accessKeysUrl(ws, slug) };
  });
}
