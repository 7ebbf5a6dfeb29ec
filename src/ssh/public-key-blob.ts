import { sshMpint, sshString } from './wire';

/** `string "ssh-rsa" || mpint e || mpint n` (RFC 4253 section 6.6). */
export function rsaPublicBlob(exponent: Uint8Array, modulus: Uint8Array): Buffer {
  return Buffer.concat([sshString('ssh-rsa'), sshMpint(exponent), sshMpint(modulus)]);
}

/** `string "ssh-ed25519" || string key` (RFC 8709 section 4). */
export function ed25519PublicBlob(publicKey: Uint8Array): Buffer {
  if (publicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return Buffer.concat([sshString('ssh-ed25519'), sshString(publicKey)]);
}

/** One authorized_keys line: `type base64[ comment]`. */
export function authorizedKeyLine(type: string, blob: Uint8Array, comment = ''): string {
  const base64 = Buffer.from(blob).toString('base64');
  return comment ? `${type} ${base64} ${comment}` : `${type} ${base64}`;
}
