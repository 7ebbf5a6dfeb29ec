/**
 * SSH public keys in the two forms the host meets them: the wire blob a client offers, and the
 * `type base64` text that access keys are stored as. Keys are compared by type + base64 only.
 */
import { createHash } from 'node:crypto';

/** The key type named inside an SSH public key blob (its first string field), or undefined if malformed. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : undefined;
}

/** `type base64` of a blob, the form Bitbucket echoes access keys back in. */
export function blobToKeyText(blob: Buffer): string | undefined {
  const type = keyTypeOfBlob(blob);
  return type ? `${type} ${blob.toString('base64')}` : undefined;
}

/** `type base64` of an authorized_keys line: options and comment dropped. */
export function normaliseKeyText(line: string): string {
  const parts = line.trim().split(/\s+/);
  const at = parts.findIndex((p) => /^(ssh-|ecdsa-|sk-)/.test(p));
  if (at < 0 || parts[at + 1] === undefined) return parts.slice(0, 2).join(' ');
  return `${parts[at]} ${parts[at + 1]}`;
}

/** OpenSSH's `SHA256:...` fingerprint of a public key blob. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
