/**
 * What a check makes of the repositories' key listings: the keys a person should know about (unused, no
 * longer needed, or labelled like the app's by someone else), and the unneeded keys it removes where the
 * workspace's policy says so. A key is the connection's only when its public key is recorded; a label
 * proves nothing, so a lookalike key is reported and never touched.
 */
import {
  ageDays,
  labelMaker,
  labelProjectMarker,
  looksLikeAppLabel,
  normaliseKey,
  otherKeys,
  projectMarker,
  type AccessKeyInfo,
  type BitbucketApi,
  type LabelMaker,
} from '../../connect/index';
import { parsePublicKey } from '../../ssh/index';
import { accessKeysUrl, type HealthChange, type HealthFinding, type HealthPolicyView, type KeyNotice } from '../contract';
import { errorName } from '../errors';
import { keys } from '../store/keys';
import type { StoredConnection } from '../store/records';
import type { AutomaticWork } from './automatic-work';

const lower = (name: string) => name.toLowerCase();

export const split = (name: string) => {
  const [workspace = '', slug = ''] = name.split('/');
  return { workspace, slug };
};

function fingerprintOf(key: string): string {
  try {
    return parsePublicKey(key).fingerprint;
  } catch {
    return 'unreadable key';
  }
}

/** Whether the connection may give up `publicKey` on `repository` without Valohai losing a repository it fetches. */
export function unneededBy(connection: StoredConnection, repository: string, publicKey: string): boolean {
  const { record } = connection;
  const key = normaliseKey(publicKey);
  const current = normaliseKey(record.publicKey) === key;
  const retired = (record.retired ?? []).some((k) => normaliseKey(k) === key);
  if (!current && !retired) return false;
  if (retired) return true;
  return (connection.unneededTargets ?? []).some((name) => name.toLowerCase() === repository.toLowerCase());
}

export interface KeyNoticeOptions {
  policy: HealthPolicyView;
  now: Date;
  /** A fetch without errors just used the connection's key everywhere. */
  fetchedCleanly: boolean;
}

/**
 * The notices for every listed key of `connection` (as the check left it), and the unneeded keys removed:
 * the changes that say so and the repositories that lost the connection's own key.
 */
export async function readKeyNotices(
  work: AutomaticWork,
  api: BitbucketApi,
  listings: Iterable<{ repository: string; keys?: AccessKeyInfo[] }>,
  connection: StoredConnection,
  { policy, now, fetchedCleanly }: KeyNoticeOptions,
): Promise<{ notices: KeyNotice[]; changes: HealthChange[]; removedFrom: Set<string> }> {
  const notices: KeyNotice[] = [];
  const allRecorded = await recordedByAnyConnection(work);
  const changes: HealthChange[] = [];
  const removedFrom = new Set<string>();
  const at = now.toISOString();
  const current = normaliseKey(connection.record.publicKey);
  for (const { repository, keys: listed } of listings) {
    for (const k of listed ?? []) {
      const key = normaliseKey(k.key);
      const base = {
        repository,
        keyId: k.id,
        label: k.label,
        fingerprint: fingerprintOf(k.key),
        ageDays: ageDays(k.createdOn, now),
        lastUsed: k.lastUsed,
        seenAt: at,
      };
      if (unneededBy(connection, repository, k.key)) {
        if (policy.unneededKeys === 'remove') {
          const { workspace, slug } = split(repository);
          try {
            await api.deleteAccessKey(workspace, slug, k.id);
            if (key === current) removedFrom.add(lower(repository));
            changes.push({ kind: 'key-removed', repository, at, detail: `key ${k.id} (${base.fingerprint}), no longer needed, removed by the check` });
            continue;
          } catch (err) {
            work.platform.log.warn('unneeded key not removed', { error: errorName(err) });
          }
        }
        notices.push({ ...base, kind: 'unneeded', connection: connection.record.repository, removable: true });
      } else if (key === current) {
        // A fetch without errors just used the key on every repository: the listing, read before it, is stale.
        if (fetchedCleanly) continue;
        // Idle since its last use, or, never used, since it was made.
        if ((ageDays(k.lastUsed, now) ?? base.ageDays ?? 0) >= policy.unusedDays) notices.push({ ...base, kind: 'unused', connection: connection.record.repository, removable: false });
      } else if (looksLikeAppLabel(k.label) && !allRecorded.has(key)) {
        const inUseBy = inUseElsewhere(k, listed ?? [], connection, now, policy.unusedDays);
        // Another project's connection made with the CLI (a submodule both fetch) is that connection's design: nothing to say.
        if (inUseBy === 'other-project') continue;
        notices.push({ ...base, kind: 'stray', connection: null, removable: false, ...(inUseBy ? { inUseBy } : {}) });
      }
    }
  }

  return { notices, changes, removedFrom };
}

/**
 * Whether a key labelled like the app's that no connection of the workspace records is in use by a
 * connection made elsewhere (with the CLI, which keeps its own records), judged as the engine and the
 * audit judge it: labelled for this connection's project, Bitbucket saw it used on the repository after
 * every key this connection recorded there ('cli' or 'app', as its label says); labelled for another
 * project, used within the unused-key period ('other-project'). Valohai's last fetch may have used it,
 * so nobody is advised to remove it.
 */
function inUseElsewhere(k: AccessKeyInfo, listed: AccessKeyInfo[], connection: StoredConnection, now: Date, unusedDays: number): LabelMaker | 'other-project' | undefined {
  const marker = labelProjectMarker(k.label);
  if (!marker || !k.lastUsed) return undefined;
  if (marker !== projectMarker(connection.record.projectId)) {
    return (ageDays(k.lastUsed, now) ?? Number.POSITIVE_INFINITY) < unusedDays ? 'other-project' : undefined;
  }
  const other = otherKeys(listed, connection.record.projectId, connection.record).find((o) => o.key.id === k.id);
  return other?.live ? other.maker : undefined;
}

export function noticeFinding(n: KeyNotice, policy: HealthPolicyView): HealthFinding {
  const { workspace, slug } = split(n.repository);
  const page = accessKeysUrl(workspace, slug);
  if (n.kind === 'unused') {
    return {
      severity: 'degraded',
      code: 'unused-key',
      repository: n.repository,
      message: `The connection's key on ${n.repository} (access key ${n.keyId}) has ${n.lastUsed ? `not been used since ${n.lastUsed.slice(0, 10)}` : 'never been used'}, over ${policy.unusedDays} days.`,
      fix: 'If Valohai no longer needs this repository, disconnect it or remove the submodule.',
    };
  }
  if (n.kind === 'unneeded') {
    return {
      severity: 'degraded',
      code: 'unneeded-key',
      repository: n.repository,
      message: `${n.repository} holds this connection's access key ${n.keyId} (${n.fingerprint}), which Valohai no longer fetches with there.`,
      fix: "Remove it with one click on the workspace's Valohai settings page, or let checks remove such keys by themselves there.",
    };
  }
  if (n.inUseBy) {
    return {
      severity: 'degraded',
      code: 'stray-key',
      repository: n.repository,
      message:
        `${n.repository} holds access key ${n.keyId} "${n.label}" (${n.fingerprint}) of another connection of this Valohai project${n.inUseBy === 'cli' ? ', made with the CLI' : ''}: ` +
        `Bitbucket saw it used at ${n.lastUsed ?? 'an unknown time'}, later than this connection's key, so Valohai may be fetching with it. It was left alone.`,
      fix:
        "It is that connection's to remove, where it was made (with the CLI's disconnect). While Valohai fetches with it, this connection's key is not the one in use: " +
        'if the other connection is the one to keep, disconnect here.',
    };
  }
  return {
    severity: 'degraded',
    code: 'stray-key',
    repository: n.repository,
    message: `${n.repository} holds access key ${n.keyId} "${n.label}" (${n.fingerprint}), labelled like this app's${labelMaker(n.label) === 'cli' ? ' (by the CLI, its label says)' : ''} but recorded by no connection. It was not used, trusted or removed.`,
    fix: `If nobody you know added it, or nothing uses it any more, remove it at ${page}.`,
  };
}

/** Every public key a connection of the workspace recorded: a key labelled like the app's and in here is not stray. */
async function recordedByAnyConnection(work: AutomaticWork): Promise<Set<string>> {
  const rows = await work.platform.store.query<StoredConnection>(keys.connectionPrefix(work.workspaceUuid), { limit: 5000 });
  const out = new Set<string>();
  for (const { value } of rows) {
    const record = value?.record;
    if (!record) continue;
    for (const k of [record.publicKey, ...(record.retired ?? [])]) if (typeof k === 'string') out.add(normaliseKey(k));
  }
  return out;
}
