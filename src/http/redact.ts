/**
 * Scrubbing of text that came from a server before it goes into an error message. A server may echo
 * what it was sent (a rejected private key, a key body in a validation message); whatever it says,
 * the secrets this process holds must not reach a log through an error.
 */

import { HEX_WINDOW, isPrivateKey, KEY_WINDOW, privateKeyWindows, type KeyWindows } from './private-key-scrub';

/**
 * The text as a reader of its encodings sees it: percent-escapes (also doubly encoded, `%252B`), JSON
 * and JavaScript escapes (`\n`, `\/`, `\u002b`) and numeric HTML entities decoded, each decoded
 * character remembering which characters of the original it came from. Secrets are looked for here, so
 * a key echoed URL-encoded or inside a JSON string is found like a plain one.
 */
interface DecodedView {
  text: string;
  /** Original index where decoded character i starts. */
  from: number[];
  /** Original index just after decoded character i. */
  to: number[];
}

const JSON_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '/': '/', '"': '"', "'": "'" };

function decodeAt(text: string, i: number): { char: string; length: number } {
  const c = text[i] as string;
  if (c === '%') {
    const doubled = /^%25([0-9A-Fa-f]{2})/.exec(text.slice(i, i + 5));
    if (doubled) return { char: String.fromCharCode(parseInt(doubled[1] as string, 16)), length: 5 };
    const single = /^%([0-9A-Fa-f]{2})/.exec(text.slice(i, i + 3));
    if (single) return { char: String.fromCharCode(parseInt(single[1] as string, 16)), length: 3 };
  } else if (c === '\\') {
    const unicode = /^\\u([0-9A-Fa-f]{4})/.exec(text.slice(i, i + 6));
    if (unicode) return { char: String.fromCharCode(parseInt(unicode[1] as string, 16)), length: 6 };
    const escaped = JSON_ESCAPES[text[i + 1] ?? ''];
    if (escaped !== undefined) return { char: escaped, length: 2 };
  } else if (c === '&') {
    const entity = /^&#(?:x([0-9A-Fa-f]{1,4})|([0-9]{1,5}));/.exec(text.slice(i, i + 9));
    if (entity) {
      const code = entity[1] !== undefined ? parseInt(entity[1], 16) : Number(entity[2]);
      return { char: String.fromCharCode(code), length: entity[0].length };
    }
  }
  return { char: c, length: 1 };
}

function decodedView(text: string): DecodedView {
  const view: DecodedView = { text: '', from: [], to: [] };
  const chars: string[] = [];
  for (let i = 0; i < text.length; ) {
    const { char, length } = decodeAt(text, i);
    chars.push(char);
    view.from.push(i);
    view.to.push(i + length);
    i += length;
  }
  view.text = chars.join('');
  return view;
}

/** What a range is replaced with; a merged range takes the strongest. */
type Mark = 'private key' | 'secret' | 'public key';
const PLACEHOLDER: Record<Mark, string> = { 'private key': '[private key redacted]', secret: '[redacted]', 'public key': '[key redacted]' };
const STRENGTH: Record<Mark, number> = { 'private key': 3, secret: 2, 'public key': 1 };

/** A range of the decoded view, [start, end). */
interface Range {
  start: number;
  end: number;
  mark: Mark;
}

/** Armour as it reads after decoding; a `+` is how a form encoding writes the spaces. */
const PRIVATE_KEY_BLOCK = /-----BEGIN[A-Z0-9 +]*PRIVATE[ +]KEY-----[\s\S]*?(?:-----END[A-Z0-9 +]*PRIVATE[ +]KEY-----|$)/g;
const PUBLIC_KEY_BODY = /\b(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+)[\s+]+([A-Za-z0-9+/]{16,}={0,3})/dg;
/** Long base64 runs: a stray line of a key body even without its armour. */
const LONG_BASE64 = /[A-Za-z0-9+/]{60,}={0,3}/g;
/** A line that is nothing but base64: one piece of a key body cut into short lines. */
const BASE64_LINE = /^[ \t]*[A-Za-z0-9+/]{4,}={0,2}[ \t]*$/;
/** Characters of key bodies and tokens: the alphabet secrets are compared in, everything else skipped. */
const KEY_CHAR = /[A-Za-z0-9+/=_-]/;
const WINDOW = 16;

function matches(re: RegExp, text: string, mark: Mark, out: Range[]): void {
  for (const m of text.matchAll(re)) {
    const group = m.indices?.[1];
    if (group) out.push({ start: group[0], end: group[1], mark });
    else out.push({ start: m.index, end: m.index + m[0].length, mark });
  }
}

/**
 * Runs of consecutive lines that are each only base64 and together read as a key body (60 characters or
 * more, upper and lower case and digits): a key re-wrapped into short lines that no single line gives away.
 * The block takes with it the base64 that ends the line before it and starts the line after it: a server
 * that quotes such a key puts its own words before the first piece and after the last on those lines.
 */
function base64Blocks(text: string, out: Range[]): void {
  let block: { start: number; end: number; body: string; lines: number } | undefined;
  /** Where the base64 run that ends the previous line starts (that line's end when there is none). */
  let previousTail = 0;
  const close = (next: string, nextStart: number) => {
    if (block && block.lines >= 2 && block.body.length >= 60 && /[A-Z]/.test(block.body) && /[a-z]/.test(block.body) && /[0-9]/.test(block.body)) {
      const head = /^[A-Za-z0-9+/]*={0,2}/.exec(next)?.[0].length ?? 0;
      out.push({ start: Math.min(block.start, previousTail), end: head > 0 ? nextStart + head : block.end, mark: 'secret' });
    }
    block = undefined;
  };
  let lineStart = 0;
  let tail = 0;
  for (const line of text.split('\n')) {
    const bare = line.replace(/\r$/, '');
    if (BASE64_LINE.test(bare)) {
      const trimmed = bare.trim();
      const start = lineStart + bare.indexOf(trimmed);
      if (!block) previousTail = tail;
      block ??= { start, end: start, body: '', lines: 0 };
      block.end = start + trimmed.length;
      block.body += trimmed;
      block.lines++;
    } else {
      close(bare, lineStart);
      const run = /[A-Za-z0-9+/]*={0,2}$/.exec(bare)?.[0].length ?? 0;
      tail = lineStart + bare.length - run;
    }
    lineStart += line.length + 1;
  }
  close('', lineStart);
}

/** A secret's body in the key alphabet: armour lines dropped, every other character skipped. */
function keyAlphabet(secret: string): string {
  return secret
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('-----'))
    .join('')
    .split('')
    .filter((c) => KEY_CHAR.test(c))
    .join('');
}

/**
 * Pieces of the secrets, wherever they are: the text's key characters are read as one stream (line
 * breaks, spaces, quotes and escapes skipped), and every 16 characters in a row that a secret also has
 * are marked, so a secret cut off, re-wrapped into lines of any length or interleaved with escapes is
 * found whole.
 */
function secretPieces(text: string, secrets: readonly string[], out: Range[]): void {
  const windows = new Set<string>();
  for (const secret of secrets) {
    const body = keyAlphabet(secret);
    for (let i = 0; i + WINDOW <= body.length; i++) windows.add(body.slice(i, i + WINDOW));
  }
  if (windows.size === 0) return;
  const at: number[] = [];
  let stream = '';
  for (let i = 0; i < text.length; i++) {
    if (KEY_CHAR.test(text[i] as string)) {
      stream += text[i];
      at.push(i);
    }
  }
  let run: { start: number; end: number } | undefined;
  for (let i = 0; i + WINDOW <= stream.length; i++) {
    if (!windows.has(stream.slice(i, i + WINDOW))) continue;
    if (run && i <= run.end) run.end = i + WINDOW;
    else {
      if (run) out.push({ start: at[run.start] as number, end: (at[run.end - 1] as number) + 1, mark: 'secret' });
      run = { start: i, end: i + WINDOW };
    }
  }
  if (run) out.push({ start: at[run.start] as number, end: (at[run.end - 1] as number) + 1, mark: 'secret' });
}

/** A stream of the text's characters of one alphabet, each remembering where it stood in the text. */
interface Stream {
  chars: string;
  at: number[];
}

/** Stands in the stream where a run is broken: no window holds it, so no window matches across it. */
const BREAK = '!';
const BASE64_CHAR = /[A-Za-z0-9+/]/;
const BASE64_RUN_CHAR = /[A-Za-z0-9+/=]/;
const HEX_CHAR = /[0-9a-fA-F]/;

/** The text's base64 characters, everything else skipped: a key cut into lines or pieces reads whole. */
function base64Stream(text: string): Stream {
  const chars: string[] = [];
  const at: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (!BASE64_CHAR.test(c)) continue;
    chars.push(c);
    at.push(i);
  }
  return { chars: chars.join(''), at };
}

/**
 * The text's hex digits in lower case: spaces, colons and other punctuation between them skipped, a
 * `0x` or `\x` before a byte too; any other letter ends a run, so words do not read as hex.
 */
function hexStream(text: string): Stream {
  const chars: string[] = [];
  const at: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '0' && /[xX]/.test(text[i + 1] ?? '') && HEX_CHAR.test(text[i + 2] ?? '')) {
      i++;
    } else if (HEX_CHAR.test(c)) {
      chars.push(c.toLowerCase());
      at.push(i);
    } else if (/[xX]/.test(c) && text[i - 1] === '\\') {
      // `\xde`: the escape's letter, skipped
    } else if (/[\p{L}\p{N}]/u.test(c)) {
      chars.push(BREAK);
      at.push(i);
    }
  }
  return { chars: chars.join(''), at };
}

/**
 * Marks each run of `runChar` characters in the text that holds a window of the stream found in
 * `pieces`: the whole run, so no shorter piece of the key is left beside the mark.
 */
function markRuns(text: string, stream: Stream, size: number, isPiece: (window: string) => boolean, runChar: RegExp, out: Range[]): void {
  let run: { start: number; end: number } | undefined;
  const close = () => {
    if (!run) return;
    let start = stream.at[run.start] as number;
    let end = (stream.at[run.end - 1] as number) + 1;
    while (start > 0 && runChar.test(text[start - 1] as string)) start--;
    while (end < text.length && runChar.test(text[end] as string)) end++;
    out.push({ start, end, mark: 'secret' });
    run = undefined;
  };
  for (let i = 0; i + size <= stream.chars.length; i++) {
    if (!isPiece(stream.chars.slice(i, i + size))) continue;
    // Overlapping windows are one piece; pieces that only meet (two echoed lines) are marked apart.
    if (run && i < run.end) run.end = i + size;
    else {
      close();
      run = { start: i, end: i + size };
    }
  }
  close();
}

/**
 * Pieces of private keys: every run of base64 characters (read across line breaks, spaces and escapes)
 * that holds 8 characters in a row of a key's secret part, and every run of hex digits that holds 12.
 */
function privateKeyPieces(text: string, keys: readonly KeyWindows[], out: Range[]): void {
  if (keys.length === 0) return;
  markRuns(text, base64Stream(text), KEY_WINDOW, (w) => keys.some((k) => k.base64.has(w)), BASE64_RUN_CHAR, out);
  markRuns(text, hexStream(text), HEX_WINDOW, (w) => keys.some((k) => k.hex.has(w)), HEX_CHAR, out);
}

/**
 * `text` with private keys scrubbed and nothing else touched: armoured blocks and any piece of a given
 * key's secret part (see privateKeyPieces), looked for in the text as decoded. For text whose public
 * keys, fingerprints and other base64 must stay as they are (a `--json` document, a state file).
 */
export function scrubPrivateKeys(text: string, privateKeys: readonly string[]): string {
  const keys = privateKeyWindows(privateKeys);
  if (keys.length === 0) return text;
  const view = decodedView(text);
  const found: Range[] = [];
  privateKeyPieces(view.text, keys, found);
  matches(PRIVATE_KEY_BLOCK, view.text, 'private key', found);
  return replaced(text, view, found);
}

/**
 * `text` with private-key blocks, public-key bodies, base64 key bodies and the given secrets replaced by
 * placeholders. Everything is looked for in the text as decoded (percent-escapes, JSON escapes, HTML
 * entities), and the original characters it came from are replaced. A secret is found whole or in
 * pieces: any 16 key characters in a row it shares with the text, across line breaks and escapes, so a
 * token echoed cut off or URL-encoded is caught too; a private key among the secrets by any 8 base64
 * characters (or 12 hex digits) of its secret part, its public parts left alone.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  const view = decodedView(text);
  const found: Range[] = [];
  for (const secret of secrets) {
    const whole = secret.trim();
    if (whole.length < 8) continue;
    for (let i = view.text.indexOf(whole); i >= 0; i = view.text.indexOf(whole, i + whole.length)) {
      found.push({ start: i, end: i + whole.length, mark: 'secret' });
    }
  }
  secretPieces(view.text, secrets.filter((s) => !isPrivateKey(s)), found);
  privateKeyPieces(view.text, privateKeyWindows(secrets), found);
  matches(PRIVATE_KEY_BLOCK, view.text, 'private key', found);
  matches(PUBLIC_KEY_BODY, view.text, 'public key', found);
  matches(LONG_BASE64, view.text, 'secret', found);
  base64Blocks(view.text, found);
  return replaced(text, view, found);
}

/** The original text with the found ranges of its decoded view replaced, merged where they touch. */
function replaced(text: string, view: DecodedView, found: Range[]): string {
  if (found.length === 0) return text;
  const ranges = found
    .filter((r) => r.end > r.start)
    .map((r) => ({ start: view.from[r.start] as number, end: view.to[r.end - 1] as number, mark: r.mark }))
    .sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number; mark: Mark }[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.start < last.end) {
      last.end = Math.max(last.end, r.end);
      if (STRENGTH[r.mark] > STRENGTH[last.mark]) last.mark = r.mark;
    } else {
      merged.push({ ...r });
    }
  }
  let out = '';
  let cursor = 0;
  for (const r of merged) {
    out += text.slice(cursor, r.start) + PLACEHOLDER[r.mark];
    cursor = r.end;
  }
  return out + text.slice(cursor);
}

/** Server text shortened for a message: an HTML page to its title, tags dropped, whitespace folded, at most `max` characters. */
export function excerpt(text: string, max = 300): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
  const plain = (title ?? text).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}
