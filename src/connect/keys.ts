/**
 * Access-key bookkeeping shared by the workflows: what each target holds, compared by type + base64.
 *
 * A key is this connection's only by record: the public key the app stored when it made the key (the
 * Forge connection record, the CLI's state file). Labels are written by whoever adds a key, so a label
 * shaped like the app's proves nothing: such a key is reported, never copied, kept or deleted.
 */
import { parsePublicKey } from '../ssh/index';
import { isLabelFor, labelMaker, type LabelMaker } from './label';
import type { AccessKeyInfo, BitbucketApi, ConnectionRecord } from './ports';
import type { Target, Warning } from './types';

/** `type base64` of an authorized_keys line or of Bitbucket's echo, whitespace and comment dropped. */
export function normaliseKey(line: string): string {
  const [type = '', body = ''] = line.trim().split(/\s+/);
  return `${type} ${body}`;
}

export interface TargetKeys {
  target: Target;
  keys: AccessKeyInfo[];
}

/** Lists one target's access keys. */
export async function listTargetKeys(bitbucket: BitbucketApi, target: Target): Promise<TargetKeys> {
  return { target, keys: await bitbucket.listAccessKeys(target.workspace, target.slug) };
}

/** Every public key the record says this app made for the connection: the current one and those retired. */
export function recordedKeys(record: ConnectionRecord | undefined): Set<string> {
  if (!record) return new Set();
  return new Set([record.publicKey, ...(record.retired ?? [])].map(normaliseKey));
}

/** The recorded keys among `keys`. */
export function ourKeys(keys: AccessKeyInfo[], record: ConnectionRecord | undefined): AccessKeyInfo[] {
  const ours = recordedKeys(record);
  return keys.filter((k) => ours.has(normaliseKey(k.key)));
}

/** The connection's current key on the superproject: the recorded one, if it is there. */
export function currentKey(superKeys: AccessKeyInfo[], record: ConnectionRecord | undefined): AccessKeyInfo | undefined {
  if (!record) return undefined;
  const wanted = normaliseKey(record.publicKey);
  return superKeys.find((k) => normaliseKey(k.key) === wanted);
}

function fingerprintOrNote(key: string): string {
  try {
    return parsePublicKey(key).fingerprint;
  } catch {
    return 'unreadable key';
  }
}

/**
 * A key as a person can tell it apart on Bitbucket's access keys page: its fingerprint, shortened
 * (Bitbucket's key ids are internal and shown nowhere there).
 */
export function keyInWords(key: Pick<AccessKeyInfo, 'key'>): string {
  const fingerprint = fingerprintOrNote(key.key);
  return fingerprint.startsWith('SHA256:') ? `${fingerprint.slice(0, 19)}…` : fingerprint;
}

/** A key labelled for the project that the record does not name: another connection's, or a stray. */
export interface OtherKey {
  key: AccessKeyInfo;
  /** Who its label says made it. */
  maker: LabelMaker;
  /**
   * Bitbucket saw it used after every key this connection recorded on the repository was last used (or
   * it was used and none of ours ever was): Valohai's last fetch may have used it, so it is in use.
   */
  live: boolean;
}

const usedAt = (k: AccessKeyInfo) => (k.lastUsed ? Date.parse(k.lastUsed) : Number.NaN);

/**
 * The keys on one repository labelled for `projectId` that the record (and `also`) does not name, each
 * with who made it and whether it is live, by Bitbucket's last use of it against the recorded keys'.
 */
export function otherKeys(keys: AccessKeyInfo[], projectId: string, record: ConnectionRecord | undefined, also: string[] = []): OtherKey[] {
  const ours = recordedKeys(record);
  for (const k of also) ours.add(normaliseKey(k));
  const oursLast = Math.max(Number.NEGATIVE_INFINITY, ...keys.filter((k) => ours.has(normaliseKey(k.key))).map(usedAt).filter((t) => !Number.isNaN(t)));
  return keys
    .filter((k) => isLabelFor(k.label, projectId) && !ours.has(normaliseKey(k.key)))
    .map((k) => ({ key: k, maker: labelMaker(k.label) ?? 'app', live: !Number.isNaN(usedAt(k)) && usedAt(k) > oursLast }));
}

/**
 * Where a label says the key was made, in the words of whoever runs (`runner`): to the CLI, "made in the
 * app" or "made with the CLI elsewhere"; to the app, "made with the CLI", or a label of its own shape
 * that no connection of the app records.
 */
export function madeWhere(maker: LabelMaker, runner: LabelMaker = 'cli'): string {
  if (runner === 'app') return maker === 'cli' ? 'made with the CLI' : "labelled as the app's, but recorded by no connection of it";
  return maker === 'cli' ? 'made with the CLI elsewhere (another machine or state folder)' : 'made in the app';
}

/**
 * Keys labelled as if this app made them for the project that the record does not name. Someone else
 * added them (another connection, or a record was lost): they are named in a warning and otherwise left
 * alone. One Bitbucket saw used after this connection's keys is in use by another connection: Valohai's
 * last fetch may have used it, so nobody is advised to remove it.
 */
export function lookalikeWarnings(
  targetKeys: TargetKeys[],
  projectId: string,
  record: ConnectionRecord | undefined,
  also: string[] = [],
  runner: LabelMaker = 'cli',
): Warning[] {
  return targetKeys.flatMap(({ target, keys }) =>
    otherKeys(keys, projectId, record, also).map(({ key: k, maker, live }) => {
      const repository = `${target.workspace}/${target.slug}`;
      const what = `${repository} holds access key ${k.id} "${k.label}" (${fingerprintOrNote(k.key)})`;
      return {
        code: 'lookalike-key' as const,
        repository,
        message: live
          ? `${what}, in use by another connection (${madeWhere(maker, runner)}): Bitbucket saw it used at ${k.lastUsed}, later than any key recorded here, ` +
            `so Valohai may be fetching with it. It was left alone: it is that connection's to remove.`
          : `${what}, labelled like this app's key for the project ` +
            `but not one this connection recorded. It was not copied, trusted or removed. If nobody you know added it, remove it on ${repository}'s access keys page.`,
      };
    }),
  );
}
