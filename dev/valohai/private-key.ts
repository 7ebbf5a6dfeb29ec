/**
 * Checks an SSH private key the way a fetch would need it: a whole, unencrypted private key in a
 * format OpenSSH's client loads (OpenSSH, PEM PKCS#1/SEC1, PKCS#8 RSA/ECDSA). Returns its public fingerprint so tests and
 * the state API can tell which key is set without ever handing the key itself out.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import ssh2 from 'ssh2';
import { sha256Fingerprint } from '../ssh-host/public-key';

const { utils } = ssh2;

export type PrivateKeyProblem = 'not-a-key' | 'public-key' | 'encrypted' | 'unsupported';

export class SshPrivateKeyError extends Error {
  constructor(
    readonly problem: PrivateKeyProblem,
    message: string,
  ) {
    super(message);
    this.name = 'SshPrivateKeyError';
  }
}

export interface CheckedPrivateKey {
  /** The key with LF line ends and one trailing newline (OpenSSH refuses some keys without it). */
  normalised: string;
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ... */
  type: string;
  /** OpenSSH's `SHA256:...` fingerprint of the public half. */
  fingerprint: string;
}

const MESSAGES: Record<PrivateKeyProblem, string> = {
  'not-a-key':
    'This is not an SSH private key. Paste the whole private key, from the "-----BEGIN ... PRIVATE KEY-----" line to the "-----END ... PRIVATE KEY-----" line.',
  'public-key': 'This is a public key. Paste the private key (the file without .pub) instead.',
  encrypted: 'This SSH private key is protected with a passphrase. Use a key without a passphrase (ssh-keygen -N "").',
  unsupported:
    'This SSH private key could not be read. Use an OpenSSH private key or a PEM RSA key (ssh-keygen -t rsa -b 4096 -m PEM -N "").',
};

const fail = (problem: PrivateKeyProblem) => new SshPrivateKeyError(problem, MESSAGES[problem]);

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const trimmed = unsigned.subarray(i);
  return sshString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

/** The SSH wire form of a PKCS#8 key's public half (ssh2 cannot read PKCS#8; Node can, as a JWK). */
function blobFromJwk(jwk: JsonWebKey): { type: string; blob: Buffer } | undefined {
  // Ed25519 in PKCS#8 is left out on purpose: OpenSSH's client (9.2) cannot load it, so a fetch would fail.
  if (jwk.kty === 'RSA') {
    const type = 'ssh-rsa';
    return { type, blob: Buffer.concat([sshString(Buffer.from(type)), mpint(b64u(jwk.e)), mpint(b64u(jwk.n))]) };
  }
  if (jwk.kty === 'EC') {
    const curve = { 'P-256': 'nistp256', 'P-384': 'nistp384', 'P-521': 'nistp521' }[jwk.crv ?? ''];
    if (!curve) return undefined;
    const type = `ecdsa-sha2-${curve}`;
    const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
    return { type, blob: Buffer.concat([sshString(Buffer.from(type)), sshString(Buffer.from(curve)), sshString(point)]) };
  }
  return undefined;
}

/** Throws SshPrivateKeyError (whose message never quotes the key) when the key cannot be used. */
export function checkPrivateKey(input: string): CheckedPrivateKey {
  const text = input.replace(/\r\n?/g, '\n').trim();
  if (/^(ssh-|ecdsa-|sk-)\S+\s+AAAA/.test(text) || /^-----BEGIN (RSA |EC )?PUBLIC KEY-----/.test(text) || text.startsWith('---- BEGIN SSH2 PUBLIC KEY')) {
    throw fail('public-key');
  }
  const block = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\n[\s\S]+\n-----END \1PRIVATE KEY-----$/.exec(text);
  if (!block) throw fail('not-a-key');
  if (block[1] === 'ENCRYPTED ' || /^Proc-Type: 4,ENCRYPTED$/m.test(text)) throw fail('encrypted');
  const normalised = `${text}\n`;

  const parsed = utils.parseKey(normalised);
  if (!(parsed instanceof Error)) {
    if (!parsed.isPrivateKey()) throw fail('public-key');
    return { normalised, type: parsed.type, fingerprint: sha256Fingerprint(parsed.getPublicSSH()) };
  }
  if (/encrypted|passphrase/i.test(parsed.message)) throw fail('encrypted');
  // PKCS#8 ("BEGIN PRIVATE KEY"): OpenSSH loads its RSA and ECDSA keys, ssh2 does not, Node does.
  try {
    const jwk = createPublicKey(createPrivateKey(normalised)).export({ format: 'jwk' });
    const wire = blobFromJwk(jwk);
    if (!wire) throw fail('unsupported');
    return { normalised, type: wire.type, fingerprint: sha256Fingerprint(wire.blob) };
  } catch (err) {
    if (err instanceof SshPrivateKeyError) throw err;
    if ((err as { code?: unknown }).code === 'ERR_MISSING_PASSPHRASE') throw fail('encrypted');
    throw fail(block[1] === 'OPENSSH ' ? 'unsupported' : 'not-a-key');
  }
}
