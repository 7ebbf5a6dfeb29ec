/**
 * The 'connected' view of a repository, built from what the app stored (the keys as last listed, the
 * last fetch) plus Bitbucket's head, read as the app, and Valohai's side. No request of the stored
 * Bitbucket token: listing keys is for Verify, the checks and the jobs, which record what they saw.
 */
import type { Repository } from '../../bitbucket/index';
import { discover, fetchesElsewhere, projectMovedWarning, type Warning } from '../../connect/index';
import { accessKeysUrl, appBitbucket, splitFullName } from '../platform/clients';
import { keyAgeLevel, KEY_AGE_ALERT_DAYS, type ConnectionStatus, type HealthView, type SyncState } from '../contract';
import { keyAgeOf } from '../store/connections';
import { projectUrlOf } from '../jobs/by-hand';
import { RESOLVER_LIMITS, type ForgePlatform, type ValohaiPort } from '../platform/ports';
import type { StoredConnection } from '../store/records';

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

/**
 * The connected view: the keys as the app last listed them (stored by the last connect, rotate, Verify
 * or check, with the time), Bitbucket's head read as the app, and Valohai's side read live with the
 * Valohai token. Loading it spends none of the stored Bitbucket token's hour.
 */
export async function connectionStatus(
  platform: ForgePlatform,
  connection: StoredConnection,
  repository: Repository,
  valohai: ValohaiPort,
  valohaiHost: string,
  health: HealthView,
): Promise<ConnectionStatus> {
  const { record } = connection;
  const { workspace, repo } = splitFullName(repository.fullName);
  // What the app stored; what is read below replaces the parts it can see better.
  const base: ConnectionStatus = { ...storedStatus(platform, connection, health), project: { id: record.projectId, name: record.projectName, url: projectUrlOf(connection, valohaiHost) } };
  const [plan, commits, project] = await Promise.all([
    discover(appBitbucket(platform, RESOLVER_LIMITS), { workspace, repo, ref: record.ref, submodules: false }).catch(() => undefined),
    valohai.listCommits(record.projectId, 1),
    valohai.findProject(record.projectId).catch(() => undefined),
  ]);
  const elsewhere = project ? fetchesElsewhere(project.repository?.url, repository) : null;
  const movedAway = project ? (elsewhere ? { fetches: connection.movedAway?.to ?? elsewhere } : null) : base.movedAway;
  const newest = movedAway ? undefined : commits[0];
  const bitbucketHead = plan?.headCommit ?? null;
  // A target the last listing found without the key is why Valohai cannot fetch: the sync state says it, once.
  const missing = movedAway ? [] : (connection.keysSeen?.keys ?? []).filter((k) => !k.present && recorded(connection, k.repository));
  const keyMissing = missing.map(
    (k) => `${k.repository} no longer has the connection's access key (as listed ${listedAt(connection)}), so Valohai cannot fetch it. Rotate to put a new key in place, or disconnect.`,
  );
  return {
    ...base,
    valohaiCommit: newest ? { identifier: newest.identifier, commitTime: newest.commitTime ?? null } : null,
    bitbucketHead,
    movedAway,
    sync: syncState(connection, { valohaiCommit: newest?.identifier ?? null, bitbucketHead, movedAway: movedAway !== null, ...(keyMissing.length ? { keyMissing } : {}) }),
    warnings: [...(movedAway ? [projectMovedWarning(record.projectName, movedAway.fetches)] : []), ...base.warnings],
  };
}

const lower = (name: string) => name.toLowerCase();
const listedAt = (connection: StoredConnection) => `${(connection.keysSeen?.at ?? '').slice(0, 16).replace('T', ' ')} UTC`;

function recorded(connection: StoredConnection, repository: string): boolean {
  return connection.record.targets.some((t) => lower(t.repository) === lower(repository));
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
    keySource: record.keySource === 'valohai' ? 'valohai' : 'app',
    fingerprint: record.fingerprint,
    createdAt: record.createdAt,
    keyAgeDays,
    accessKeys: seenKeys(connection) ?? uncheckedKeys(connection),
    keysSeenAt: connection.keysSeen?.at ?? null,
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

/** The recorded repositories' keys as the app last listed them; undefined when it never has. */
function seenKeys(connection: StoredConnection): ConnectionStatus['accessKeys'] | undefined {
  const seen = connection.keysSeen;
  if (!seen) return undefined;
  const byName = new Map(seen.keys.map((k) => [lower(k.repository), k]));
  return connection.record.targets.map((t) => {
    const [ws = '', slug = ''] = t.repository.split('/');
    const k = byName.get(lower(t.repository));
    if (!k) return { repository: t.repository, state: 'unchecked', id: t.keyId, lastUsed: null, accessKeysUrl: accessKeysUrl(ws, slug) };
    return { repository: t.repository, state: k.present ? 'present' : 'missing', id: k.id, lastUsed: k.lastUsed, accessKeysUrl: accessKeysUrl(ws, slug) };
  });
}

/** The repositories a connection put its key on, as recorded: their keys cannot be seen from here. */
function uncheckedKeys(connection: StoredConnection): ConnectionStatus['accessKeys'] {
  return connection.record.targets.map((t) => {
    const [ws = '', slug = ''] = t.repository.split('/');
    return { repository: t.repository, state: 'unchecked', id: t.keyId, lastUsed: null, accessKeysUrl: accessKeysUrl(ws, slug) };
  });
}
