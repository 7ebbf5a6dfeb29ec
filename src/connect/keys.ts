/** Access-key bookkeeping shared by the workflows: what each target holds, compared by type + base64. */
import { isLabelFor } from './label';
import type { AccessKeyInfo, BitbucketApi } from './ports';
import type { Target } from './types';

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

/** The keys this app labelled for the project on one target. */
export function connectionKeys(keys: AccessKeyInfo[], projectId: string): AccessKeyInfo[] {
  return keys.filter((k) => isLabelFor(k.label, projectId));
}

/**
 * The connection's current public key: the remembered one when it is still on the superproject,
 * otherwise the newest key labelled for the project there.
 */
export function currentKey(superKeys: AccessKeyInfo[], projectId: string, remembered?: string): AccessKeyInfo | undefined {
  const mine = connectionKeys(superKeys, projectId);
  if (remembered) {
    const hit = mine.find((k) => normaliseKey(k.key) === normaliseKey(remembered));
    if (hit) return hit;
  }
  return [...mine].sort((a, b) => b.id - a.id)[0];
}
