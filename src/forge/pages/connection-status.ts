/**
 * The 'connected' view of a repository, built from what the app stored (the keys as last listed, the
 * last fetch) plus Bitbucket's head, read as the app, and Valohai's side. No request of the stored
 * Bitbucket token: listing keys is for Verify, the checks and the jobs, which record what they saw.
 */
import type { Repository } from '../../bitbucket/index';
import { fetchesElsewhere, projectMovedWarning, type Warning } from '../../connect/index';
import { accessKeysUrl, appBitbucket, splitFullName } from '../platform/clients';
import { keyAgeLevel, KEY_AGE_ALERT_DAYS, type ConnectionStatus, type HealthView, type SyncState } from '../contract';
import { keyAgeOf } from '../store/connections';
import { projectUrlOf } from '../jobs/by-hand';
import { RESOLVER_LIMITS, type ForgePlatform, type ValohaiPort } from '../platform/ports';
import type { StoredConnection } from '../store/records';
import { ValohaiAuthError } from '../../valohai/index';

function ageWarning(days: number): Warning[] {
  const level = keyAgeLevel(days);
  if (level === 'alert') return [{ code: 'key-age-alert', message: `The key is ${days} days old, over ${KEY_AGE_ALERT_DAYS} days: rotate it now.` }];
  if (level === 'warning') return [{ code: 'key-age-warning', message: `The key is ${days} days old: plan to rotate it (Valohai suggests every 6-12 months).` }];
  return [];
}

/**
 * The sync state from the last fetch the app asked Valohai for: the commit it found for the fetch
 * reference against Bitbucket's head of it, never the newest commit Valohai stored of any branch. A
 * fetch that failed is an error until a later one works, whatever Valohai still has. The page shows
 * the same commit as "Valohai's last fetch", so the fact shown is the one the state is read from.
 */
export function syncState(
  connection: Pick<StoredConnection, 'lastFetch'>,
  now: { bitbucketHead: string | null; movedAway: boolean; keyMissing?: string[] },
): SyncState {
  if (now.movedAway) return { state: 'moved' };
  const last = connection.lastFetch;
  if (now.keyMissing?.length) return { state: 'failing', at: null, errors: now.keyMissing };
  if (last && !last.ok) return { state: 'failing', at: last.at, errors: last.errors };
  if (!last?.fetched || !now.bitbucketHead) return { state: 'unknown' };
  return last.fetched === now.bitbucketHead ? { state: 'in-sync' } : { state: 'behind' };
}

/**
 * The health verdict beside the sync state: a "Healthy" check older than a fetch that now fails says
 * what the facts say now, Broken, with the failure as its finding, so that the two never disagree.
 */
function agreeingHealth(health: HealthView, sync: SyncState): HealthView {
  const latest = health.latest;
  if (sync.state !== 'failing' || !latest || latest.health !== 'healthy') return health;
  return {
    ...health,
    latest: {
      ...latest,
      health: 'broken',
      findings: [
        ...latest.findings,
        // Its errors are said once, under Connected, with the fix.
        { severity: 'broken', code: 'fetch-failed', message: sync.at ? 'A fetch since this check failed: Valohai cannot fetch this repository.' : 'Valohai cannot fetch this repository: a repository lacks its key.' },
      ],
    },
  };
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
  const [head, project] = await Promise.all([
    // Only the head: the repository itself was read (or stood in for) by the page already, so one request as the app.
    appBitbucket(platform, RESOLVER_LIMITS).getBranchHead(workspace, repo, record.ref).catch(() => undefined),
    valohai.findProject(record.projectId).catch((err: unknown) => {
      // A refused Valohai token is the page's to say (and record); any other failure leaves the project unread.
      if (err instanceof ValohaiAuthError) throw err;
      return undefined;
    }),
  ]);
  const elsewhere = project ? fetchesElsewhere(project.repository?.url, repository) : null;
  const movedAway = project ? (elsewhere ? { fetches: connection.movedAway?.to ?? elsewhere } : null) : base.movedAway;
  const fetched = movedAway ? null : (connection.lastFetch?.fetched ?? null);
  const bitbucketHead = head ?? null;
  // A target the last listing found without the key is why Valohai cannot fetch: the sync state says it, once.
  const missing = movedAway ? [] : (connection.keysSeen?.keys ?? []).filter((k) => !k.present && recorded(connection, k.repository));
  const keyMissing = missing.map(
    (k) => `${k.repository} no longer has the connection's access key (as listed ${listedAt(connection)}), so Valohai cannot fetch it. Rotate to put a new key in place, or disconnect.`,
  );
  const sync = syncState(connection, { bitbucketHead, movedAway: movedAway !== null, ...(keyMissing.length ? { keyMissing } : {}) });
  return {
    ...base,
    valohaiCommit: fetched ? { identifier: fetched, fetchedAt: connection.lastFetch?.at ?? null } : null,
    bitbucketHead,
    movedAway,
    sync,
    health: movedAway ? movedAwayHealth(base.health, record.repository) : agreeingHealth(base.health, sync),
    warnings: [...(movedAway ? [projectMovedWarning(record.projectName, movedAway.fetches)] : []), ...base.warnings.filter((w) => !(movedAway && w.code.startsWith('key-age')))],
  };
}

const lower = (name: string) => name.toLowerCase();
const listedAt = (connection: StoredConnection) => `${(connection.keysSeen?.at ?? '').slice(0, 16).replace('T', ' ')} UTC`;

function recorded(connection: StoredConnection, repository: string): boolean {
  return connection.record.targets.some((t) => lower(t.repository) === lower(repository));
}

/** What only a connection whose key is still used calls for: rotating it, or giving it to a repository. */
const ROTATING: ReadonlySet<string> = new Set(['key-age-warning', 'key-age-alert', 'needs-admin', 'key-missing', 'repair-failed', 'auto-rotate-failed']);

/**
 * A moved-away connection's health offers only what it can do, Disconnect: no Rotate, no key to give a
 * repository, no rotation due, and no key to remove that another connection records (the project's
 * new connection may share its submodule repositories).
 */
function movedAwayHealth(health: HealthView, repository: string): HealthView {
  const own = (n: { connection: string | null }) => n.connection !== null && lower(n.connection) === lower(repository);
  return {
    ...health,
    needsAdmin: [],
    keyNotices: health.keyNotices.filter(own),
    autoRotateDueAt: null,
    latest: health.latest ? { ...health.latest, findings: health.latest.findings.filter((f) => !ROTATING.has(f.code)) } : null,
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
    // A moved-away key is no longer used: its age calls for Disconnect, not Rotate.
    warnings: [...connection.warnings.filter((w) => !w.code.startsWith('key-age')), ...(connection.movedAway ? [] : ageWarning(keyAgeDays))],
    health: connection.movedAway ? movedAwayHealth(health, record.repository) : health,
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
