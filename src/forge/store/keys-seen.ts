/**
 * The connection's keys as the app last saw them (`StoredConnection.keysSeen`): written by the work that
 * lists or changes them (connect, rotate, Verify, the checks), read by the page, which then spends none
 * of the stored token's hour to load.
 */
import { mapBounded, normaliseKey, type BitbucketApi, type KeyListing, type WorkflowResult } from '../../connect/index';
import type { KeysSeen, StoredConnection } from './records';

type SeenKey = KeysSeen['keys'][number];

/** The key on each repository as a connect or rotate left it (a key it could not add or read is left out). */
export function keysSeenIn(result: WorkflowResult, now: Date): KeysSeen {
  const byName = new Map<string, SeenKey>();
  for (const outcome of result.accessKeys) {
    if (outcome.status === 'failed' || outcome.status === 'planned') continue;
    const name = outcome.repository.toLowerCase();
    const present = outcome.status === 'added' || outcome.status === 'present';
    // An old key removed beside the new one added says nothing about the new one.
    if (present || !byName.has(name)) byName.set(name, { repository: outcome.repository, present, id: present ? outcome.id : null, lastUsed: null });
  }
  return { at: now.toISOString(), keys: [...byName.values()] };
}

/**
 * Lists the connection's current key on each repository it recorded (one request each, with the stored
 * token); a repository whose keys could not be listed is left out, so the page says "not checked" there
 * rather than a guess. Undefined when none could be listed.
 */
export async function listRecordedKeys(now: Date, bitbucket: BitbucketApi, connection: Pick<StoredConnection, 'record'>): Promise<KeysSeen | undefined> {
  const current = normaliseKey(connection.record.publicKey);
  const listed = await mapBounded(connection.record.targets, 4, async (t): Promise<SeenKey | undefined> => {
    const [workspace = '', slug = ''] = t.repository.split('/');
    const keys = await bitbucket.listAccessKeys(workspace, slug).catch(() => undefined);
    if (!keys) return undefined;
    const mine = keys.find((k) => normaliseKey(k.key) === current);
    return { repository: t.repository, present: mine !== undefined, id: mine?.id ?? null, lastUsed: mine?.lastUsed ?? null };
  });
  const keys = listed.filter((k): k is SeenKey => k !== undefined);
  return keys.length ? { at: now.toISOString(), keys } : undefined;
}

/**
 * The connection's key on each recorded repository as a check listed it (a key the check put back
 * counts as there); a repository whose keys could not be listed is left out.
 */
export function keysSeenInListings(
  now: Date,
  record: Pick<StoredConnection['record'], 'publicKey' | 'targets'>,
  listings: Iterable<KeyListing>,
  repaired: ReadonlySet<string>,
): KeysSeen | undefined {
  const current = normaliseKey(record.publicKey);
  const byName = new Map([...listings].map((l) => [l.repository.toLowerCase(), l]));
  const keys = record.targets.flatMap((t): SeenKey[] => {
    const listing = byName.get(t.repository.toLowerCase());
    if (!listing?.keys) return [];
    const mine = listing.keys.find((k) => normaliseKey(k.key) === current);
    const present = mine !== undefined || repaired.has(t.repository.toLowerCase());
    return [{ repository: t.repository, present, id: mine?.id ?? t.keyId, lastUsed: mine?.lastUsed ?? null }];
  });
  return keys.length ? { at: now.toISOString(), keys } : undefined;
}
