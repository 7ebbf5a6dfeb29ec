/**
 * Checks a submitted access key the way Bitbucket does: one OpenSSH authorized_keys line of an
 * accepted type and size. Parsing goes through ssh2 so the emulator judges keys independently of the
 * project's own key code.
 */
import ssh2 from 'ssh2';

const { utils } = ssh2;

export type AccessKeyProblem = 'missing' | 'invalid' | 'private-key' | 'unsupported-type' | 'rsa-too-short';

export class AccessKeyFormatError extends Error {
  constructor(
    readonly problem: AccessKeyProblem,
    message: string,
    /** The request field the problem is in, as Bitbucket's 400 names it. */
    readonly field: 'key' | 'label' | 'comment' = 'key',
  ) {
    super(message);
    this.name = 'AccessKeyFormatError';
  }
}

export interface ParsedAccessKey {
  type: string;
  base64: string;
  /** Everything after the base64 field, trimmed ('' when none). */
  comment: string;
  /** `type base64`: the form Bitbucket echoes and compares. */
  normalized: string;
  /** Modulus size, for RSA keys. */
  rsaBits?: number;
}

const ACCEPTED = new Set(['ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
export const MIN_RSA_BITS = 2048;

function readSshString(buf: Buffer, offset: number): { value: Buffer; next: number } {
  if (offset + 4 > buf.length) throw new AccessKeyFormatError('invalid', 'The key data is truncated.');
  const len = buf.readUInt32BE(offset);
  const end = offset + 4 + len;
  if (end > buf.length) throw new AccessKeyFormatError('invalid', 'The key data is truncated.');
  return { value: buf.subarray(offset + 4, end), next: end };
}

function rsaModulusBits(blob: Buffer): number {
  const type = readSshString(blob, 0);
  const e = readSshString(blob, type.next);
  let n = readSshString(blob, e.next).value;
  while (n.length > 0 && n[0] === 0) n = n.subarray(1);
  if (n.length === 0) return 0;
  return (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number));
}

export function parseAccessKey(input: unknown): ParsedAccessKey {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new AccessKeyFormatError('missing', 'The "key" field is required: paste one OpenSSH public key line.');
  }
  const line = input.trim();
  if (line.includes('PRIVATE KEY')) {
    throw new AccessKeyFormatError('private-key', 'That is a private key. Paste the public key (the .pub file) instead.');
  }
  if (/[\r\n]/.test(line)) {
    throw new AccessKeyFormatError('invalid', 'The key must be a single line in OpenSSH authorized_keys format.');
  }
  const m = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(line);
  if (!m) {
    throw new AccessKeyFormatError('invalid', 'The key is not in OpenSSH format ("<type> <base64> [comment]").');
  }
  const [, type, base64] = m as unknown as [string, string, string];
  const comment = (m[3] ?? '').trim();
  if (!ACCEPTED.has(type)) {
    throw new AccessKeyFormatError(
      'unsupported-type',
      `Key type "${type}" is not accepted. Use ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (2048 bits or more) or ssh-dss.`,
    );
  }
  const parsed = utils.parseKey(`${type} ${base64}`);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new AccessKeyFormatError('invalid', 'The key is not a valid OpenSSH public key: its data does not decode.');
  }
  if (parsed.isPrivateKey()) {
    throw new AccessKeyFormatError('private-key', 'That is a private key. Paste the public key (the .pub file) instead.');
  }
  if (parsed.type !== type) {
    throw new AccessKeyFormatError('invalid', `The key says "${type}" but its data is a "${parsed.type}" key.`);
  }
  const result: ParsedAccessKey = { type, base64, comment, normalized: `${type} ${base64}` };
  if (type === 'ssh-rsa') {
    result.rsaBits = rsaModulusBits(parsed.getPublicSSH());
    if (result.rsaBits < MIN_RSA_BITS) {
      throw new AccessKeyFormatError(
        'rsa-too-short',
        `RSA keys must be at least ${MIN_RSA_BITS} bits; this one has ${result.rsaBits}. Generate a new key with "ssh-keygen -t rsa -b 4096".`,
      );
    }
  }
  return result;
}
