import { randomBytes } from 'node:crypto';
import { ed25519PublicBlob } from './public-key-blob';
import { sshString, sshUint32 } from './wire';

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
/** Block size of cipher "none"; the private section is padded to a multiple of it. */
const BLOCK_SIZE = 8;
/** ssh-keygen wraps the base64 body at 70 columns. */
const LINE_WIDTH = 70;

export interface Ed25519PrivateKeyParts {
  /** The 32-byte private seed (RFC 8032 "private key"). */
  seed: Uint8Array;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
  comment?: string;
  /**
   * The 32-bit value written twice at the start of the private section so that a reader can tell a
   * wrong passphrase from a right one. Random unless given (tests pin it to compare with ssh-keygen).
   */
  checkInt?: number;
}

/**
 * An unencrypted Ed25519 key in OpenSSH's own private key format (PROTOCOL.key: openssh-key-v1,
 * cipher "none", kdf "none", one key), laid out byte for byte as `ssh-keygen -N ''` writes it.
 */
export function encodeOpenSshEd25519PrivateKey(parts: Ed25519PrivateKeyParts): string {
  const { seed, publicKey, comment = '' } = parts;
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const publicBlob = ed25519PublicBlob(publicKey);
  const checkInt = parts.checkInt ?? randomBytes(4).readUInt32BE();

  const unpadded = Buffer.concat([
    sshUint32(checkInt),
    sshUint32(checkInt),
    sshString('ssh-ed25519'),
    sshString(publicKey),
    // OpenSSH stores the private half as seed || public key (the 64-byte libsodium form).
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padLength = (BLOCK_SIZE - (unpadded.length % BLOCK_SIZE)) % BLOCK_SIZE;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const privateSection = Buffer.concat([unpadded, padding]);

  const body = Buffer.concat([
    MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(''),
    sshUint32(1),
    sshString(publicBlob),
    sshString(privateSection),
  ]).toString('base64');

  const lines: string[] = [];
  for (let i = 0; i < body.length; i += LINE_WIDTH) lines.push(body.slice(i, i + LINE_WIDTH));
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
