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
