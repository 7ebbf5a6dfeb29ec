/**
 * One-click removal of a key the checks listed as no longer needed. The page names the key by where it
 * is and its id; that is only a choice among what it was shown. Before anything is removed the backend
 * finds the notice in its own records, finds the connection that recorded the key, lists the
 * repository's keys on Bitbucket, and removes the key only when it is that connection's (its current or
 * a retired public key) and Valohai does not fetch with it there: a retired key, or the current key on a
 * repository the connection no longer needs. A stray key (recorded by no connection) is never removed.
 */
import { normaliseKey } from '../../connect/index';
import { bitbucketClient } from '../platform/clients';
import type { RemovedKey, RemoveUnneededKeyPayload } from '../contract';
import { workspaceAdmin } from '../access/authorize';
import { Credentials } from '../store/credentials';
import { failures, ResolverFailure } from '../errors';
import { loadHealth, recordChanges, type HealthRecord } from '../store/health-records';
import { bareUuid, keys } from '../store/keys';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import type { StoredConnection } from '../store/records';
import { unneededBy } from '../health/key-notices';
import { tokenUser, withTokenHour } from './token-hour';

const notRemovable = (why: string) =>
  new ResolverFailure('not-found', `That key is not one the app may remove: ${why}`, 'Reload the page to see the keys as they are now.');

export async function removeUnneededKey(
  platform: ForgePlatform,
  context: TrustedContext,
  payload: RemoveUnneededKeyPayload,
  secrets: string[],
): Promise<RemovedKey> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const [records, connections] = await Promise.all([
    platform.store.query<HealthRecord>(keys.healthPrefix(ws), { limit: 5000 }),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: 5000 }),
  ]);
  const wanted = payload.repository.toLowerCase();
  const found = records
    .map(({ key, value }) => ({ repositoryUuid: key.slice(keys.healthPrefix(ws).length), notice: (value.keyNotices ?? []).find((n) => n.repository.toLowerCase() === wanted && n.keyId === payload.keyId) }))
    .find((r) => r.notice);
  if (!found?.notice) throw notRemovable('no check listed it.');
  if (!found.notice.removable || !found.notice.connection) throw notRemovable('no connection recorded it; it is only reported.');
  const owner = connections.find(({ value }) => value.repositoryUuid === found.repositoryUuid)?.value;
  if (!owner || owner.record.repository.toLowerCase() !== found.notice.connection.toLowerCase()) throw notRemovable('the connection that recorded it is gone.');

  const credentials = new Credentials(platform, ws);
  const [secret, summary] = await Promise.all([credentials.usableBitbucket(), credentials.summary()]);
  if (!secret) throw failures.bitbucketNotSetUp();
  secrets.push(secret.token);
  const [workspace = '', slug = ''] = payload.repository.split('/');
  const onBitbucket = await withTokenHour(platform, secret, tokenUser(secret, summary), async (token) => {
    // Within the resolver's 25 s: a listing and a removal.
    const bitbucket = bitbucketClient(token, RESOLVER_LIMITS);
    const found = (await bitbucket.listAccessKeys(workspace, slug)).find((k) => k.id === payload.keyId);
    if (found && !unneededBy(owner, payload.repository, found.key)) {
      throw notRemovable(`Valohai fetches ${payload.repository} with it.`);
    }
    if (found) await bitbucket.deleteAccessKey(workspace, slug, payload.keyId);
    return found;
  });
  if (!onBitbucket || normaliseKey(onBitbucket.key) === normaliseKey(owner.record.publicKey)) {
    // The connection's own key is gone from there: the repository leaves the connection's record.
    const latest = await platform.store.get<StoredConnection>(keys.connection(ws, owner.repositoryUuid));
    if (latest && (latest.unneededTargets ?? []).some((n) => n.toLowerCase() === wanted)) {
      await platform.store.set(keys.connection(ws, owner.repositoryUuid), {
        ...latest,
        record: { ...latest.record, targets: latest.record.targets.filter((t) => t.repository.toLowerCase() !== wanted) },
        unneededTargets: (latest.unneededTargets ?? []).filter((n) => n.toLowerCase() !== wanted),
      });
    }
  }

  const now = platform.clock.now().toISOString();
  const record = await loadHealth(platform.store, ws, found.repositoryUuid);
  await recordChanges(
    platform.store,
    ws,
    found.repositoryUuid,
    onBitbucket ? [{ kind: 'key-removed', repository: payload.repository, at: now, detail: `key ${payload.keyId}, no longer needed, removed by a workspace admin` }] : [],
    { keyNotices: record.keyNotices.filter((n) => !(n.repository.toLowerCase() === wanted && n.keyId === payload.keyId)) },
  );
  return { repository: payload.repository, keyId: payload.keyId };
}
