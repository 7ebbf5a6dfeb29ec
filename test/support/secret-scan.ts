/**
 * Looks for secrets in text the way someone reading it could recover them: as written, URL-encoded
 * (once or twice, `+` for spaces), inside JSON strings (`\n`, `\/`, `\u002b`), and for key bodies in
 * pieces: a key cut into short lines or interleaved with escapes is found by reading the text's base64
 * characters as one stream. Used by every test that asserts a secret never surfaced.
 */
import { createHash } from 'node:crypto';

/**
 * How long a piece of a key's secret part must be to count as a leak: 8 base64 characters (48 bits) or,
 * for the key's bytes written as hex, 12 hex digits (the same 48 bits). Shorter pieces occur by chance.
 */
const PIECE = 8;
const HEX_PIECE = 12;
const KEY_CHARS = /[A-Za-z0-9+/]/;

function decodePercent(text: string): string {
  // Byte by byte, so a stray "%" or a partial UTF-8 sequence cannot stop the decoding.
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function decodeEscapes(text: string): string {
  return text
    .replace(/\\u([0-9A-Fa-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\\([nrt/"'\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c as 'n' | 'r' | 't'] ?? c)
    .replace(/&#(?:x([0-9A-Fa-f]+)|(\d+));/g, (_, hex: string | undefined, dec: string | undefined) => String.fromCharCode(hex ? parseInt(hex, 16) : Number(dec)));
}

/** The text and every decoding of it that could reveal a secret. */
export function readings(text: string): string[] {
  const out = [text];
  let current = text;
  for (let i = 0; i < 3; i++) {
    const next = decodeEscapes(decodePercent(current));
    if (next === current) break;
    out.push(next);
    current = next;
  }
  // Form encoding writes spaces as "+": the armour line then reads "BEGIN+OPENSSH+PRIVATE+KEY".
  out.push(current.replace(/\+/g, ' '));
  return out;
}

/** The base64 body of a PEM or OpenSSH private key, armour, line breaks and padding removed. */
export function keyBody(privateKey: string): string {
  return privateKey
    .split(/\r?\n/)
    .filter((l) => !l.trim().startsWith('-----'))
    .join('')
    .replace(/[\s=]+/g, '');
}

/** Reads a DER TLV at `at`: where its contents start and end. */
function derItem(bytes: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = bytes[at] as number;
  let length = bytes[at + 1] as number;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = bytes.readUIntBE(start, n);
    start += n;
  }
  return { tag, start, end: start + length };
}

/**
 * The key's bytes, which of them are secret (the private scalars: an Ed25519 seed; an RSA key's d, p, q
 * and the values made from them; every byte of a layout not read here) and the public key blob when the
 * layout gives it. Reads the two layouts the product writes: OpenSSH (unencrypted) and PKCS#1 RSA.
 */
function secretLayout(privateKey: string): { bytes: Buffer; secret: boolean[]; blob?: Buffer } {
  const bytes = Buffer.from(keyBody(privateKey), 'base64');
  const secret = new Array<boolean>(bytes.length).fill(false);
  const mark = (start: number, end: number) => secret.fill(true, start, end);
  const magic = Buffer.from('openssh-key-v1\0');
  if (bytes.subarray(0, magic.length).equals(magic)) {
    let at = magic.length;
    const field = () => {
      const length = bytes.readUInt32BE(at);
      const value = { start: at + 4, end: at + 4 + length };
      at = value.end;
      return value;
    };
    field(); // cipher
    field(); // kdf
    field(); // kdf options
    at += 4; // number of keys
    const blob = field();
    at += 4 + 8; // the private section's length, its two check integers
    const typeField = field();
    const type = bytes.subarray(typeField.start, typeField.end).toString();
    if (type === 'ssh-ed25519') {
      field(); // public key
      const priv = field();
      mark(priv.start, priv.start + 32);
    } else if (type === 'ssh-rsa') {
      field(); // n
      field(); // e
      for (let i = 0; i < 4; i++) {
        const value = field();
        mark(value.start, value.end);
      }
    } else {
      mark(blob.end, bytes.length);
    }
    return { bytes, secret, blob: bytes.subarray(blob.start, blob.end) };
  }
  if (/BEGIN RSA PRIVATE KEY/.test(privateKey)) {
    const sequence = derItem(bytes, 0);
    const integers: { start: number; end: number }[] = [];
    for (let at = sequence.start; at < sequence.end; ) {
      const item = derItem(bytes, at);
      integers.push(item);
      at = item.end;
    }
    // The values, each without the sign byte before a set top bit (the same in every key).
    for (const int of integers.slice(3)) mark(bytes[int.start] === 0 ? int.start + 1 : int.start, int.end);
    const [, n, e] = integers;
    const sshString = (b: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(b.length);
      return Buffer.concat([length, b]);
    };
    const blob = n && e ? Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshString(bytes.subarray(e.start, e.end)), sshString(bytes.subarray(n.start, n.end))]) : undefined;
    return { bytes, secret, ...(blob ? { blob } : {}) };
  }
  mark(0, bytes.length);
  return { bytes, secret };
}

/**
 * Sorts the windows of `text`: at least half of their characters secret (a piece of the secret), none
 * secret (public). One mostly over a header every key shares, its last character or three secret, is
 * neither: too little of the secret to count, and met in text that quotes the header.
 */
function windowsOf(text: string, size: number, isSecret: (i: number) => boolean, secretOut: Set<string>, shownOut: Set<string>): void {
  for (let i = 0; i + size <= text.length; i++) {
    let secret = 0;
    for (let j = i; j < i + size; j++) if (isSecret(j)) secret++;
    if (secret * 2 >= size) secretOut.add(text.slice(i, i + size));
    else if (secret === 0) shownOut.add(text.slice(i, i + size));
  }
}

/**
 * The pieces of a private key's secret part, as 8 base64 characters of its body and as 12 hex digits of
 * its bytes, at least half of them carrying bits of secret bytes. What may be shown is left out: windows of the public
 * key line's base64 and of the fingerprint, and any that also occur over public bytes only (the headers,
 * the public key the OpenSSH format carries in the clear).
 */
export function secretPieces(privateKey: string): { base64: Set<string>; hex: Set<string> } {
  const { bytes, secret, blob } = secretLayout(privateKey);
  const base64 = new Set<string>();
  const shown = new Set<string>();
  const body = bytes.toString('base64').replace(/=+$/, '');
  windowsOf(body, PIECE, (i) => Boolean(secret[Math.floor((6 * i) / 8)] || secret[Math.floor((6 * i + 5) / 8)]), base64, shown);
  if (blob) {
    const fingerprint = createHash('sha256').update(blob).digest('base64');
    for (const text of [blob.toString('base64'), fingerprint]) windowsOf(text.replace(/=+$/, ''), PIECE, () => false, new Set(), shown);
  }
  for (const w of shown) base64.delete(w);
  const hex = new Set<string>();
  const hexShown = new Set<string>();
  windowsOf(bytes.toString('hex'), HEX_PIECE, (i) => Boolean(secret[i >> 1]), hex, hexShown);
  for (const w of hexShown) hex.delete(w);
  return { base64, hex };
}

export interface Secret {
  name: string;
  value: string;
  /** A private key: its body is also looked for in pieces. */
  key?: boolean;
}

/** Every secret `text` gives away, by name (never the secret itself). */
export function secretsIn(text: string, secrets: readonly Secret[]): string[] {
  const views = readings(text);
  const found = new Set<string>();
  if (views.some((v) => /PRIVATE[ +]KEY-----/.test(v))) found.add('a PRIVATE KEY armour line');
  const streams = views.map((v) => [...v].filter((c) => KEY_CHARS.test(c)).join(''));
  const hexRuns = views.flatMap(hexDigitRuns);
  for (const secret of secrets) {
    if (views.some((v) => v.includes(secret.value.trim()))) found.add(secret.name);
    if (!secret.key) continue;
    const pieces = piecesOf(secret.value);
    if (streams.some((s) => holds(s, pieces.base64, PIECE)) || hexRuns.some((s) => holds(s, pieces.hex, HEX_PIECE))) found.add(secret.name);
  }
  return [...found];
}

const pieceCache = new Map<string, { base64: Set<string>; hex: Set<string> }>();

function piecesOf(privateKey: string): { base64: Set<string>; hex: Set<string> } {
  let pieces = pieceCache.get(privateKey);
  if (!pieces) {
    pieces = secretPieces(privateKey);
    pieceCache.set(privateKey, pieces);
  }
  return pieces;
}

function holds(stream: string, pieces: Set<string>, size: number): boolean {
  for (let i = 0; i + size <= stream.length; i++) if (pieces.has(stream.slice(i, i + size))) return true;
  return false;
}

/**
 * The text's runs of hex digits, lower case, read across spaces, punctuation and `0x`/`\x` prefixes; a
 * letter past f ends a run, so words do not read as hex.
 */
function hexDigitRuns(text: string): string[] {
  return text
    .replace(/(?:0x|\\x)(?=[0-9a-fA-F])/g, '')
    .split(/[g-zG-Z]+/)
    .map((run) => run.replace(/[^0-9a-fA-F]/g, '').toLowerCase())
    .filter((run) => run.length >= HEX_PIECE);
}

/** The ways a server or a page could echo a private key that a plain search would miss. */
export function echoes(privateKey: string): { how: string; text: string }[] {
  const body = keyBody(privateKey);
  const shortLines = (n: number) => body.match(new RegExp(`.{1,${n}}`, 'g'))?.join('\n') ?? '';
  const armour = privateKey.trim().split('\n');
  const rewrapped = (n: number) => [armour[0], shortLines(n), armour[armour.length - 1]].join('\n');
  return [
    { how: 'URL-encoded', text: encodeURIComponent(privateKey) },
    { how: 'URL-encoded twice', text: encodeURIComponent(encodeURIComponent(privateKey)) },
    { how: 'form-encoded', text: new URLSearchParams({ ssh_private_key: privateKey }).toString() },
    { how: 'in a JSON string', text: JSON.stringify({ ssh_private_key: privateKey }).replace(/\//g, '\\/') },
    { how: 'cut into lines of 10', text: rewrapped(10) },
    { how: 'its body cut into lines of 12, no armour', text: shortLines(12) },
    { how: 'its body cut into lines of 6, URL-encoded', text: encodeURIComponent(shortLines(6)) },
  ];
}
