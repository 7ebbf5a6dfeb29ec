/**
 * Values that look random in real Bitbucket (uuids, account SSH keys) derived from fixed names, so a
 * seed gives the same world on every run without committing key material.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

/** A version-4-shaped uuid in Bitbucket's `{...}` form, derived from `name`. */
export function uuidFor(name: string): string {
  const h = createHash('sha256').update(`uuid:${name}`).digest('hex');
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}}`;
}

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 public key line (`ssh-ed25519 AAAA... comment`) derived from `name`. */
export function ed25519PublicKeyFor(name: string, comment = name): string {
  const seed = createHash('sha256').update(`ed25519:${name}`).digest();
  const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  const raw = Buffer.from(String(jwk.x), 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}
