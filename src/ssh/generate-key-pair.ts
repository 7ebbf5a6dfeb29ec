import { generateKeyPair as generateNodeKeyPair, type KeyObject } from 'node:crypto';
import { InvalidKeyOptionsError } from './errors';
import { fingerprintOfBlob } from './fingerprint';
import { encodeOpenSshEd25519PrivateKey } from './openssh-private-key';
import { authorizedKeyLine, ed25519PublicBlob, rsaPublicBlob } from './public-key-blob';
import { bitLength } from './wire';

export type SshKeyType = 'rsa' | 'ed25519';

export interface KeyPairOptions {
  /** Default 'rsa': Valohai documents RSA keys, and whether it takes Ed25519 is unconfirmed. */
  type?: SshKeyType;
  /** RSA modulus size, 2048..16384, default 4096. Ed25519 keys are always 256 bits. */
  bits?: number;
  /** Text after the key on the public line; one line, omitted when empty. */
  comment?: string;
}

export interface KeyPair {
  type: SshKeyType;
  bits: number;
  /** RSA: PKCS#1 PEM. Ed25519: OpenSSH format. Unencrypted either way. A secret: never log it. */
  privateKey: string;
  /** One authorized_keys line: `ssh-rsa AAAA... comment`. */
  publicKey: string;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

export const DEFAULT_RSA_BITS = 4096;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 16384;
const ED25519_BITS = 256;

interface NodeKeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

// The callback form runs in libuv's thread pool, so the event loop keeps serving while an RSA prime
// search takes its second or two.
function generateRsa(bits: number): Promise<NodeKeyPair> {
  return new Promise((resolve, reject) => {
    generateNodeKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 }, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ publicKey, privateKey }),
    );
  });
}

function generateEd25519(): Promise<NodeKeyPair> {
  return new Promise((resolve, reject) => {
    generateNodeKeyPair('ed25519', undefined, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ publicKey, privateKey }),
    );
  });
}

/** Refuses line breaks and other control characters; returns the comment with outer spaces trimmed. */
function checkComment(comment: string | undefined): string {
  const value = (comment ?? '').trim();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new InvalidKeyOptionsError(
      'comment',
      'The key comment must be one line of text without line breaks or control characters: shorten it to a single line.',
    );
  }
  return value;
}

function checkBits(type: SshKeyType, bits: number | undefined): number {
  if (type === 'ed25519') {
    if (bits !== undefined && bits !== ED25519_BITS) {
      throw new InvalidKeyOptionsError('bits', 'Ed25519 keys are always 256 bits: leave out the bit count.');
    }
    return ED25519_BITS;
  }
  const value = bits ?? DEFAULT_RSA_BITS;
  if (!Number.isSafeInteger(value) || value < MIN_RSA_BITS || value > MAX_RSA_BITS) {
    throw new InvalidKeyOptionsError(
      'bits',
      `RSA keys must have a whole number of bits from ${MIN_RSA_BITS} to ${MAX_RSA_BITS} (${DEFAULT_RSA_BITS} is the default).`,
    );
  }
  return value;
}

function jwkBytes(value: string | undefined): Buffer {
  if (value === undefined) throw new Error('the generated key lacks a component it must have');
  return Buffer.from(value, 'base64url');
}

/**
 * Checks options the way generateKeyPair will and fills in the defaults, so that a caller (the CLI)
 * can refuse bad input before spending seconds on a key. Throws InvalidKeyOptionsError.
 */
export function resolveKeyOptions(options: KeyPairOptions = {}): Required<KeyPairOptions> {
  const type = options.type ?? 'rsa';
  if (type !== 'rsa' && type !== 'ed25519') {
    throw new InvalidKeyOptionsError('type', 'The key type must be "rsa" or "ed25519".');
  }
  return { type, bits: checkBits(type, options.bits), comment: checkComment(options.comment) };
}

/** Makes a new SSH key pair without blocking the event loop. */
export async function generateKeyPair(options: KeyPairOptions = {}): Promise<KeyPair> {
  const { type, bits, comment } = resolveKeyOptions(options);

  if (type === 'rsa') {
    const { publicKey, privateKey } = await generateRsa(bits);
    const jwk = publicKey.export({ format: 'jwk' });
    const modulus = jwkBytes(jwk.n);
    const blob = rsaPublicBlob(jwkBytes(jwk.e), modulus);
    return {
      type,
      bits: bitLength(modulus),
      privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      publicKey: authorizedKeyLine('ssh-rsa', blob, comment),
      fingerprint: fingerprintOfBlob(blob),
    };
  }

  const { privateKey } = await generateEd25519();
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = jwkBytes(jwk.d);
  const pub = jwkBytes(jwk.x);
  const blob = ed25519PublicBlob(pub);
  const pem = encodeOpenSshEd25519PrivateKey({ seed, publicKey: pub, comment });
  seed.fill(0);
  return {
    type,
    bits,
    privateKey: pem,
    publicKey: authorizedKeyLine('ssh-ed25519', blob, comment),
    fingerprint: fingerprintOfBlob(blob),
  };
}
