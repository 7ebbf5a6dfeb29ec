/**
 * Looks for secrets in text the way someone reading it could recover them: as written, URL-encoded
 * (once or twice, `+` for spaces), inside JSON strings (`\n`, `\/`, `\u002b`), and for key bodies in
 * pieces: a key cut into short lines or interleaved with escapes is found by reading the text's base64
 * characters as one stream. Used by every test that asserts a secret never surfaced.
 */

/** How long a piece of a key body must be to count as a leak (short pieces occur by chance). */
const PIECE = 24;
const KEY_CHARS = /[A-Za-z0-9+/=]/;

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

/** The base64 body of a PEM or OpenSSH private key, armour and line breaks removed. */
export function keyBody(privateKey: string): string {
  return privateKey
    .split(/\r?\n/)
    .filter((l) => !l.trim().startsWith('-----'))
    .join('')
    .replace(/\s+/g, '');
}

/**
 * The base64 of the public key blob an OpenSSH private key carries in the clear: that part may be shown
 * (it is the public key), so it does not count as a piece of the secret. None for PEM keys.
 */
function publicBlobOf(privateKey: string): string | undefined {
  const bytes = Buffer.from(keyBody(privateKey), 'base64');
  const magic = Buffer.from('openssh-key-v1\0');
  if (!bytes.subarray(0, magic.length).equals(magic)) return undefined;
  let at = magic.length;
  const field = () => {
    const length = bytes.readUInt32BE(at);
    const value = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  field(); // cipher
  field(); // kdf
  field(); // kdf options
  at += 4; // number of keys
  return field().toString('base64');
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
  for (const secret of secrets) {
    if (views.some((v) => v.includes(secret.value.trim()))) found.add(secret.name);
    if (!secret.key) continue;
    const body = keyBody(secret.value);
    const shown = publicBlobOf(secret.value) ?? '';
    const pieces = new Set<string>();
    for (let i = 0; i + PIECE <= body.length; i++) {
      const piece = body.slice(i, i + PIECE);
      if (!shown.includes(piece)) pieces.add(piece);
    }
    const hit = streams.some((s) => {
      for (let i = 0; i + PIECE <= s.length; i++) if (pieces.has(s.slice(i, i + PIECE))) return true;
      return false;
    });
    if (hit) found.add(secret.name);
  }
  return [...found];
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
