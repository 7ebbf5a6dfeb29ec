import { createHash } from 'node:crypto';

/** The SHA256 fingerprint of a public key blob, in the form `ssh-keygen -l` prints it. */
export function fingerprintOfBlob(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
