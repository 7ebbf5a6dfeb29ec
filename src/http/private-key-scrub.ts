/**
 * The secret part of a private key as the pieces of text that would give it away, so that a scrubber
 * can find any of them in what a server says. A server that echoes only the first few characters of
 * each line of a key it rejected still hands out dozens of secret bits per line; what counts here is
 * every 8 base64 characters in a row (48 bits) and every 12 hex digits (the same 48 bits) at least half
 * of which carry bits of secret bytes.
 *
 * Public parts are left out, so the scrubber never removes what may be shown: the public key line and
 * its fingerprint, the public key an OpenSSH key carries in the clear, and the bytes every key of a kind
 * shares (the openssh-key-v1 header and "none" cipher, key type names, lengths and padding, DER's tags
 * and lengths, versions, the public exponent, an integer's sign byte). The rest of the body counts as the
 * key's even where it holds public values (an RSA key's modulus, the copies of the public key inside an
 * OpenSSH key's private section, its comment): nothing shows them in that encoding except an echo of the
 * private key, so any line of the body is found. A layout this file does not know is secret throughout.
 */
import { createHash } from 'node:crypto';

/** Base64 characters in a row that count as a piece of a key: 48 bits, never met by chance. */
export const KEY_WINDOW = 8;
/** Hex digits in a row that count as a piece of a key: the same 48 bits. */
export const HEX_WINDOW = 12;

/** The pieces of one key's secret part, as base64 (read at every byte alignment) and as lower-case hex. */
export interface KeyWindows {
  base64: ReadonlySet<string>;
  hex: ReadonlySet<string>;
}

const ARMOUR = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** Whether a secret is an armoured private key (PEM or OpenSSH), whose pieces are looked for by window. */
export function isPrivateKey(secret: string): boolean {
  return ARMOUR.test(secret);
}

/** The key's base64 body: armour and PEM header lines (`Proc-Type: ...`) dropped, padding and spaces too. */
function bodyOf(privateKey: string): string {
  return privateKey
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('-----') && !line.includes(':'))
    .join('')
    .replace(/[^A-Za-z0-9+/]/g, '');
}

/** Reads length-prefixed SSH fields, marking the bytes it reads public unless told they are secret. */
class SshFields {
  constructor(
    private readonly bytes: Buffer,
    private readonly secret: Uint8Array,
    public at: number,
  ) {}

  uint32(): number {
    if (this.at + 4 > this.bytes.length) throw new RangeError('truncated');
    const value = this.bytes.readUInt32BE(this.at);
    this.secret.fill(0, this.at, this.at + 4);
    this.at += 4;
    return value;
  }

  /** One string field; returns where its value lies. */
  field(secretValue = false): { start: number; end: number } {
    const length = this.uint32();
    const start = this.at;
    const end = start + length;
    if (end > this.bytes.length) throw new RangeError('truncated');
    if (!secretValue) this.secret.fill(0, start, end);
    this.at = end;
    return { start, end };
  }
}

const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/**
 * How many fields follow the type in an unencrypted OpenSSH private section, per key type (PROTOCOL.key
 * and each type's RFC): needed to find the comment and the next key.
 */
const OPENSSH_FIELDS: Record<string, number> = {
  'ssh-ed25519': 2,
  'ssh-rsa': 6,
  'ssh-dss': 5,
  'ecdsa-sha2-nistp256': 3,
  'ecdsa-sha2-nistp384': 3,
  'ecdsa-sha2-nistp521': 3,
};

/** Marks the public bytes of an openssh-key-v1 key; returns its first public key blob, or undefined when not one. */
function openSsh(bytes: Buffer, secret: Uint8Array): Buffer | undefined {
  if (!bytes.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) return undefined;
  secret.fill(0, 0, OPENSSH_MAGIC.length);
  const r = new SshFields(bytes, secret, OPENSSH_MAGIC.length);
  const cipher = r.field();
  r.field(); // kdf name
  r.field(); // kdf options
  const count = r.uint32();
  let blob: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    const { start, end } = r.field();
    blob ??= bytes.subarray(start, end);
  }
  const section = r.field(true);
  if (bytes.subarray(cipher.start, cipher.end).toString('latin1') !== 'none') return blob ?? Buffer.alloc(0);
  // Two check integers, then each key's type, its fields and comment (their lengths public), and padding.
  const inner = new SshFields(bytes, secret, section.start + 8);
  for (let i = 0; i < count; i++) {
    const type = inner.field();
    const fields = OPENSSH_FIELDS[bytes.subarray(type.start, type.end).toString('latin1')];
    // A type not known here: the rest of the section stays secret.
    if (fields === undefined) return blob ?? Buffer.alloc(0);
    for (let f = 0; f <= fields; f++) inner.field(true);
  }
  if (inner.at <= section.end) secret.fill(0, inner.at, section.end); // padding 1, 2, 3...
  return blob ?? Buffer.alloc(0);
}

interface Tlv {
  /** Where the tag is. */
  at: number;
  tag: number;
  /** Where the contents start and end. */
  start: number;
  end: number;
}

function tlv(bytes: Buffer, at: number, limit: number): Tlv {
  const tag = bytes[at];
  const first = bytes[at + 1];
  if (tag === undefined || first === undefined) throw new RangeError('truncated');
  let start = at + 2;
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('unsupported length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[start + i] ?? Number.NaN);
    start += n;
  }
  const end = start + length;
  if (!Number.isFinite(end) || end > limit) throw new RangeError('truncated');
  return { at, tag, start, end };
}

const DER_INTEGER = 0x02;
const DER_OCTET_STRING = 0x04;
/** Contents shared by every key of a kind: NULL, object identifiers (the algorithm). */
const DER_PUBLIC_TAGS = new Set([0x05, 0x06]);

/**
 * Marks the DER structure (tags, lengths, algorithm identifiers, small integers such as versions and the
 * public exponent) as public, walking into sequences and into an OCTET STRING that holds DER (PKCS#8 wraps
 * the key so). An RSA private key's (nine integers, PKCS#1) modulus and exponent are kept in `rsa`, to
 * make the public key with.
 */
function walkDer(bytes: Buffer, secret: Uint8Array, start: number, end: number, rsa: { n?: Buffer; e?: Buffer }): void {
  const children: Tlv[] = [];
  for (let at = start; at < end; ) {
    const child = tlv(bytes, at, end);
    children.push(child);
    at = child.end;
  }
  for (const c of children) secret.fill(0, c.at, c.start);
  const pkcs1 = children.length === 9 && children.every((c) => c.tag === DER_INTEGER);
  if (pkcs1) {
    const [, n, e] = children as [Tlv, Tlv, Tlv];
    rsa.n = bytes.subarray(n.start, n.end);
    rsa.e = bytes.subarray(e.start, e.end);
  }
  for (const c of children) {
    const size = c.end - c.start;
    if (c.tag & 0x20) {
      walkDer(bytes, secret, c.start, c.end, rsa);
    } else if (c.tag === DER_OCTET_STRING && bytes[c.start] === 0x30) {
      // Only when its contents read as DER: otherwise the octets are the secret itself (an EC key).
      const trial = secret.slice();
      try {
        walkDer(bytes, trial, c.start, c.end, rsa);
        secret.set(trial);
      } catch {
        // Not DER: the contents stay secret.
      }
    } else if (DER_PUBLIC_TAGS.has(c.tag) || (c.tag === DER_INTEGER && size <= 8)) {
      secret.fill(0, c.start, c.end);
    } else if (c.tag === DER_INTEGER && bytes[c.start] === 0) {
      secret[c.start] = 0; // the sign byte before a set top bit, the same in every key
    }
  }
}

function sshString(value: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}

/** Marks the public bytes of a DER key; returns the SSH public key blob of an RSA key. */
function der(bytes: Buffer, secret: Uint8Array): Buffer | undefined {
  if (bytes[0] !== 0x30) return undefined;
  const rsa: { n?: Buffer; e?: Buffer } = {};
  walkDer(bytes, secret, 0, bytes.length, rsa);
  // DER INTEGER contents are SSH mpints already: two's complement, a zero byte before a set top bit.
  return rsa.n && rsa.e ? Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshString(rsa.e), sshString(rsa.n)]) : undefined;
}

/** Each key byte, 1 when secret; and the public key blob when the layout gives it. */
function layout(bytes: Buffer): { secret: Uint8Array; blob: Buffer | undefined } {
  const secret = new Uint8Array(bytes.length).fill(1);
  try {
    const blob = openSsh(bytes, secret) ?? der(bytes, secret);
    return { secret, blob };
  } catch {
    // Damaged or unknown: every byte counts as secret.
    return { secret: secret.fill(1), blob: undefined };
  }
}

/**
 * The windows of `text`: into `secretOut` those at least half of whose characters carry secret bits, into
 * `shownOut` those with none. One that is mostly a header every key of the kind shares, with a character
 * or three of the secret after it, is neither: it would match ordinary text that quotes the header and
 * goes on with a word whose first letter happens to fit.
 */
function windows(text: string, size: number, isSecret: (i: number) => boolean, secretOut: Set<string>, shownOut: Set<string>): void {
  let secretInWindow = 0;
  for (let i = 0; i < text.length; i++) {
    if (isSecret(i)) secretInWindow++;
    if (i >= size && isSecret(i - size)) secretInWindow--;
    if (i < size - 1) continue;
    if (secretInWindow * 2 >= size) secretOut.add(text.slice(i - size + 1, i + 1));
    else if (secretInWindow === 0) shownOut.add(text.slice(i - size + 1, i + 1));
  }
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** The windows of a private key's secret part; none when the text holds no key body. */
export function keyWindows(privateKey: string): KeyWindows {
  const bytes = Buffer.from(bodyOf(privateKey), 'base64');
  const { secret, blob } = layout(bytes);
  const base64 = new Set<string>();
  const shown = new Set<string>();
  // The body as written, and the same bytes base64-encoded from the second and third byte: a server that
  // decodes the key and quotes part of it re-encoded is caught as well.
  for (const shift of [0, 1, 2]) {
    const text = base64Of(bytes.subarray(shift));
    // Character i holds bits 6i..6i+5: bytes ⌊6i/8⌋ and ⌊(6i+5)/8⌋ of the shifted bytes.
    windows(text, KEY_WINDOW, (i) => secret[shift + ((6 * i) >> 3)] === 1 || secret[shift + ((6 * i + 5) >> 3)] === 1, base64, shown);
  }
  const hex = new Set<string>();
  const hexShown = new Set<string>();
  windows(bytes.toString('hex'), HEX_WINDOW, (i) => secret[i >> 1] === 1, hex, hexShown);
  if (blob) {
    // The public key line and the fingerprint may be shown anywhere: none of their windows is a piece of the secret.
    const fingerprint = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
    for (const text of [base64Of(blob), fingerprint]) windows(text, KEY_WINDOW, () => false, new Set(), shown);
  }
  for (const w of shown) base64.delete(w);
  for (const w of hexShown) hex.delete(w);
  return { base64, hex };
}

/**
 * The windows of the private keys among `secrets`, kept with that list for as long as it lives (a job's
 * secrets, a CLI run's), so a key is taken apart once however many texts are scrubbed, and no piece of a
 * key outlives the work that held it.
 */
const byList = new WeakMap<readonly string[], Map<string, KeyWindows>>();

export function privateKeyWindows(secrets: readonly string[]): KeyWindows[] {
  let known = byList.get(secrets);
  const out: KeyWindows[] = [];
  for (const secret of secrets) {
    if (!isPrivateKey(secret)) continue;
    if (!known) {
      known = new Map();
      byList.set(secrets, known);
    }
    let found = known.get(secret);
    if (!found) {
      found = keyWindows(secret);
      known.set(secret, found);
    }
    out.push(found);
  }
  return out;
}
