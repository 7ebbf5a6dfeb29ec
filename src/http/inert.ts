/**
 * Characters a terminal or a text renderer acts on rather than shows: C0 controls, DEL, C1 controls
 * (U+0080-U+009F, where 0x9B alone starts an escape sequence on some terminals) and the bidirectional
 * formatting characters that reorder what a reader sees.
 */

const BIDI = new Set([0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]);

/** Whether the code point is a control or bidi formatting character (tab and newline included). */
export function isControlCodePoint(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || BIDI.has(cp);
}

export function hasControlCharacter(text: string): boolean {
  for (const c of text) if (isControlCodePoint(c.codePointAt(0) as number)) return true;
  return false;
}

function shown(cp: number): string {
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * `text` safe to show: every control and bidi character written out visibly (`\x1b`, `\u202E`), so
 * an escape sequence from a repository or a server shows as text instead of moving the cursor,
 * retitling the window or reordering a line. With `keepLines`, newline and tab stay as they are
 * (a message of several lines); a carriage return never does.
 */
export function inert(text: string, options: { keepLines?: boolean } = {}): string {
  let out = '';
  for (const c of text) {
    const cp = c.codePointAt(0) as number;
    if (!isControlCodePoint(cp) || (options.keepLines && (c === '\n' || c === '\t'))) out += c;
    else out += shown(cp);
  }
  return out;
}
