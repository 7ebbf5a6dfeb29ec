/**
 * Access-key bookkeeping shared by the workflows: what each target holds, compared by type + base64.
 *
 * A key is this connection's only by record: the public key the app stored when it made the key (the
 * Forge connection record, the CLI's state file). Labels are written by whoever adds a key, so a label
 * shaped like the app's proves nothing: such a key is reported, never copied, kept or deleted.
 */
import { parsePublicKey } from '../ssh/index';
import { isLabelFor } from './label';
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
 * Keys labelled as if this app made them for the project that the record does not name. Someone else
 * added them (or a record was lost): they are named in a warning and otherwise left alone.
 */
export function lookalikeWarnings(targetKeys: TargetKeys[], projectId: string, record: ConnectionRecord | undefined, also: string[] = []): Warning[] {
  const ours = recordedKeys(record);
  for (const k of also) ours.add(normaliseKey(k));
  return targetKeys.flatMap(({ target, keys }) =>
    keys
      .filter((k) => isLabelFor(k.label, projectId) && !ours.has(normaliseKey(k.key)))
      .map((k) => {
        const repository = `${target.workspace}/${target.slug}`;
        return {
          code: 'lookalike-key' as const,
          repository,
          message:
            `${repository} holds access key ${k.id} "${k.label}" (${fingerprintOrNote(k.key)}), labelled like this app's key for the project ` +
            `but not one this connection recorded. It was not copied, trusted or removed. If nobody you know added it, remove it on ${repository}'s access keys page.`,
        };
      }),
  );
}
