import { createPublicKey } from 'node:crypto';
import { InvalidPublicKeyError } from './errors';
import { fingerprintOfBlob } from './fingerprint';
import { bitLength, SshDataTruncatedError, SshNegativeMpintError, SshReader } from './wire';
import { MAX_RSA_BITS, MIN_RSA_BITS } from './generate-key-pair';

export interface ParsedPublicKey {
  /** The key type, e.g. `ssh-ed25519`. */
  type: string;
  /** The key blob in base64, as on the line. */
  base64: string;
  /** `type base64`: what Bitbucket stores and what keys are compared by. */
  normalized: string;
  comment?: string;
  bits: number;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const ECDSA_CURVES = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', bits: 256, coordinateBytes: 32 },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', bits: 384, coordinateBytes: 48 },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', bits: 521, coordinateBytes: 66 },
} as const;
type EcdsaType = keyof typeof ECDSA_CURVES;

const ACCEPTED_TYPES = new Set<string>(['ssh-ed25519', 'ssh-rsa', ...Object.keys(ECDSA_CURVES)]);
const SECURITY_KEY_TYPES = new Set<string>(['sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com']);
const CERTIFICATE_TYPE = /^(?:sk-)?(?:ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521))-cert-v01@openssh\.com$/;

/** Key type names we recognise, accepted or not. Only these may appear in a message. */
function isKnownType(token: string): boolean {
  return ACCEPTED_TYPES.has(token) || token === 'ssh-dss' || SECURITY_KEY_TYPES.has(token) || CERTIFICATE_TYPE.test(token);
}

/** Long enough for a 16384-bit RSA key with a generous comment. */
const MAX_LENGTH = 16384;

const ACCEPTED_LIST = 'ssh-ed25519, ssh-rsa (2048 bits or more) or ecdsa-sha2-nistp256/384/521';
const PASTE_AGAIN = 'copy the whole line from the .pub file again';

function fail(reason: InvalidPublicKeyError['reason'], message: string, bits?: number): never {
  throw new InvalidPublicKeyError(reason, message, bits);
}

function looksPrivate(text: string): boolean {
  return (
    /PRIVATE KEY/i.test(text) ||
    /PuTTY-User-Key-File-/i.test(text) ||
    // The base64 of "openssh-key-v1": an OpenSSH private key body pasted without its armour lines.
    text.includes('b3BlbnNzaC1rZXktdjE')
  );
}

function refuseOtherFormats(text: string): void {
  if (text.startsWith('---- BEGIN SSH2 PUBLIC KEY ----')) {
    fail(
      'wrong-format',
      'This is an RFC 4716 (SSH2) public key, not an OpenSSH one: convert it with `ssh-keygen -i -f key.pub` and paste the line it prints.',
    );
  }
  if (text.startsWith('-----BEGIN PUBLIC KEY-----')) {
    fail(
      'wrong-format',
      'This is a PEM public key, not an OpenSSH one: convert it with `ssh-keygen -i -m PKCS8 -f key.pem` and paste the line it prints.',
    );
  }
  if (text.startsWith('-----BEGIN RSA PUBLIC KEY-----')) {
    fail(
      'wrong-format',
      'This is a PEM RSA public key, not an OpenSSH one: convert it with `ssh-keygen -i -m PEM -f key.pem` and paste the line it prints.',
    );
  }
  if (text.startsWith('-----BEGIN') || text.startsWith('---- BEGIN')) {
    fail('wrong-format', `This is a PEM block, not an OpenSSH public key: paste the one line of the .pub file, which starts with ${ACCEPTED_LIST}.`);
  }
}

/** Refuses a first token that is not an accepted key type, saying what it is instead. */
function refuseType(first: string, rest: string[]): never {
  if (first === 'ssh-dss') fail('dsa', 'ssh-dss keys are not accepted: generate an Ed25519 or RSA key (ssh-keygen -t ed25519).');
  if (CERTIFICATE_TYPE.test(first)) {
    fail('certificate', 'This is an OpenSSH certificate, not a public key: paste the key\'s own .pub file, not the -cert.pub file.');
  }
  if (SECURITY_KEY_TYPES.has(first)) {
    fail(
      'unsupported-type',
      `Security-key (FIDO) keys such as ${first} are not accepted, because Valohai must use the key without a hardware token: generate an Ed25519 or RSA key (ssh-keygen -t ed25519).`,
    );
  }
  if (rest.some(isKnownType)) {
    fail(
      'options',
      'The line starts with authorized_keys options (such as from="..." or command="..."), which access keys cannot carry: delete everything before the key type.',
    );
  }
  if (/^(?:ssh|ecdsa|sk|x509v3)-[a-z0-9@.-]+$/.test(first)) {
    fail('unsupported-type', `This key type is not accepted: use ${ACCEPTED_LIST}.`);
  }
  fail('not-a-key', `This is not an OpenSSH public key: paste the one line of the .pub file, which starts with ${ACCEPTED_LIST}.`);
}

function decodeBase64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    fail('bad-base64', `The key data is not valid base64, so part of it was probably lost or altered in copying: ${PASTE_AGAIN}.`);
  }
  const blob = Buffer.from(text, 'base64');
  // Non-canonical base64 (stray bits in the last character) is altered data, not another spelling.
  if (blob.toString('base64') !== text) {
    fail('bad-base64', `The key data is not valid base64, so part of it was probably lost or altered in copying: ${PASTE_AGAIN}.`);
  }
  return blob;
}

function checkEcdsaPoint(type: EcdsaType, reader: SshReader): number {
  const curve = ECDSA_CURVES[type];
  if (reader.string().toString('latin1') !== curve.name) {
    fail('type-mismatch', `The key data names a different curve than ${type} on the line: ${PASTE_AGAIN}.`);
  }
  const point = reader.string();
  if (point.length !== 1 + 2 * curve.coordinateBytes || point[0] !== 0x04) {
    fail('corrupt', `The key data does not hold a valid ${type} point: ${PASTE_AGAIN}.`);
  }
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: curve.jwk,
        x: point.subarray(1, 1 + curve.coordinateBytes).toString('base64url'),
        y: point.subarray(1 + curve.coordinateBytes).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    fail('corrupt', `The key data's point is not on the ${curve.name} curve, so the key is damaged: ${PASTE_AGAIN}.`);
  }
  return curve.bits;
}

/** Reads the blob's fields for `type`, checks them as ssh-keygen would, and returns the key size. */
function checkBlob(type: string, blob: Buffer): number {
  const reader = new SshReader(blob);
  let inner: string;
  try {
    inner = reader.string().toString('latin1');
  } catch {
    fail('corrupt', `The key data does not hold an SSH public key: ${PASTE_AGAIN}.`);
  }
  if (inner !== type) {
    const named = isKnownType(inner) ? `an ${inner} key` : 'a different kind of key';
    fail('type-mismatch', `The line says ${type} but its key data holds ${named}: paste the line exactly as the .pub file has it.`);
  }
  let bits: number;
  try {
    if (type === 'ssh-rsa') {
      const exponent = reader.mpint();
      const modulus = reader.mpint();
      bits = bitLength(modulus);
      if (bitLength(exponent) === 0 || bits === 0) fail('corrupt', `The RSA key data holds a zero number, so it is damaged: ${PASTE_AGAIN}.`);
    } else if (type === 'ssh-ed25519') {
      if (reader.string().length !== 32) fail('corrupt', `The Ed25519 key data does not hold a 32-byte key: ${PASTE_AGAIN}.`);
      bits = 256;
    } else {
      bits = checkEcdsaPoint(type as EcdsaType, reader);
    }
  } catch (err) {
    if (err instanceof SshDataTruncatedError) {
      fail('truncated', `The key data ends too early, so it was probably cut off in copying: ${PASTE_AGAIN}.`);
    }
    if (err instanceof SshNegativeMpintError) fail('corrupt', `The RSA key data holds a negative number, so it is damaged: ${PASTE_AGAIN}.`);
    throw err;
  }
  if (reader.remaining !== 0) {
    fail('corrupt', `The key data has extra bytes after the key, so it is damaged: ${PASTE_AGAIN}.`);
  }
  if (type === 'ssh-rsa' && bits < MIN_RSA_BITS) {
    fail(
      'rsa-too-small',
      `This RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are needed: generate a new key with ssh-keygen -t ed25519 (or ssh-keygen -t rsa -b 4096).`,
      bits,
    );
  }
  if (type === 'ssh-rsa' && bits > MAX_RSA_BITS) {
    fail('rsa-too-large', `This RSA key has ${bits} bits; OpenSSH handles at most ${MAX_RSA_BITS}: generate a smaller key (ssh-keygen -t rsa -b 4096).`, bits);
  }
  return bits;
}

/**
 * Reads one authorized_keys line (as in a .pub file) and checks it is a key that can serve as a
 * Bitbucket access key for Valohai. Throws InvalidPublicKeyError, whose message never quotes the input.
 */
export function parsePublicKey(line: string): ParsedPublicKey {
  if (typeof line !== 'string') fail('not-a-key', 'No public key text was given: paste the one line of the .pub file.');
  // First of all, so that a secret pasted into the wrong field gets the most useful answer.
  if (looksPrivate(line)) {
    fail('private-key', 'This is a private key; paste the .pub file instead (keep the private key secret, and replace it if it was shared).');
  }
  const text = line.trim();
  if (text === '') fail('empty', `No public key was given: paste the one line of the .pub file, which starts with ${ACCEPTED_LIST}.`);
  refuseOtherFormats(text);
  if (text.length > MAX_LENGTH) fail('too-long', `This is longer than any accepted public key: paste the one line of the .pub file.`);
  if (/[\r\n]/.test(text)) {
    fail('multiple-lines', 'This is more than one line: paste exactly one key, as the single line the .pub file holds.');
  }

  const tokens = text.split(/[ \t]+/);
  const type = tokens[0] as string;
  if (!ACCEPTED_TYPES.has(type)) refuseType(type, tokens.slice(1));
  const base64 = tokens[1];
  if (base64 === undefined) fail('missing-key-data', `The key type is there but the key data after it is missing: ${PASTE_AGAIN}.`);

  const blob = decodeBase64(base64);
  const bits = checkBlob(type, blob);
  const comment = text.slice(type.length).trimStart().slice(base64.length).trim();
  return {
    type,
    base64,
    normalized: `${type} ${base64}`,
    ...(comment ? { comment } : {}),
    bits,
    fingerprint: fingerprintOfBlob(blob),
  };
}
