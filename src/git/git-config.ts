import { GitmodulesSyntaxError } from './errors';

/** One `key = value` of a git config file, named the way `git config --list` names it. */
export interface ConfigEntry {
  /** `section.key` or `section.subsection.key`; section and key lower-case, subsection as written. */
  name: string;
  /** null for a bare `key` (git's boolean true). */
  value: string | null;
  /** Line where the key starts. */
  line: number;
  /** Line of the section header the key belongs to (0 before any header). */
  sectionLine: number;
}

const NL = 10;
const CR = 13;

/**
 * Parses git-config syntax the way git 2.39's config.c does, character for character, so that what we
 * read from `.gitmodules` is what git will read: same escapes, same comment and whitespace rules, same
 * refusals. Linear in the input; never recurses. The caller caps the size.
 */
export function parseGitConfig(text: string): ConfigEntry[] {
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    throw new GitmodulesSyntaxError(
      'nul-byte',
      lineAt(text, nul),
      'contains a NUL byte, so this is not a text file. Save .gitmodules as plain text.',
    );
  }
  return new ConfigParser(text).parse();
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === NL || c === CR;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isKeyChar = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 45; /* '-' */
const lower = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);

class ConfigParser {
  private pos = 0;
  private linenr = 1;
  private eof = false;
  /** Lines in the text, for errors git reports one past the end of the file. */
  private readonly lastLine: number;

  constructor(private readonly text: string) {
    let lines = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    this.lastLine = text.endsWith('\n') && text.length > 0 ? lines - 1 : lines;
  }

  /** git's get_next_char(): CRLF reads as LF, end of input reads as LF (and counts a line). */
  private next(): number {
    if (this.pos >= this.text.length) {
      this.eof = true;
      this.linenr++;
      return NL;
    }
    let c = this.text.charCodeAt(this.pos++);
    if (c === CR && this.text.charCodeAt(this.pos) === NL) {
      this.pos++;
      c = NL;
    }
    if (c === NL) this.linenr++;
    return c;
  }

  private error(reason: ConstructorParameters<typeof GitmodulesSyntaxError>[0], message: string, line = this.linenr): never {
    throw new GitmodulesSyntaxError(reason, Math.max(1, Math.min(line, this.lastLine)), message);
  }

  parse(): ConfigEntry[] {
    if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1; // byte order mark, as Windows editors write it
    const entries: ConfigEntry[] = [];
    let base = '';
    let sectionLine = 0;
    let comment = false;
    for (;;) {
      const c = this.next();
      if (c === NL) {
        if (this.eof) return entries;
        comment = false;
        continue;
      }
      if (comment) continue;
      if (isSpace(c)) continue;
      if (c === 35 /* # */ || c === 59 /* ; */) {
        comment = true;
        continue;
      }
      if (c === 91 /* [ */) {
        sectionLine = this.linenr;
        base = this.sectionHeader();
        continue;
      }
      if (!isAlpha(c)) {
        if (isKeyChar(c) || c === 95 /* _ */) {
          this.error('invalid-key', `a key must start with a letter, not "${String.fromCharCode(c)}". Rename the key or remove the line.`);
        }
        this.error(
          'unexpected-character',
          `unexpected "${printable(c)}"; expected a [section] header, a "key = value" line or a # comment.`,
        );
      }
      entries.push(this.entry(base, c, sectionLine));
    }
  }

  /** git's get_base_var(): `[section]`, `[section.sub]` (legacy, lower-cased) or `[section "sub"]`. */
  private sectionHeader(): string {
    const start = this.linenr;
    let name = '';
    const unclosed = (): never =>
      this.error('bad-section-header', 'the section header has no closing "]". Write it as [submodule "name"].', start);
    for (;;) {
      const c = this.next();
      if (this.eof) unclosed();
      if (c === 93 /* ] */) break;
      if (isSpace(c)) {
        name += this.subsection(c, start);
        break;
      }
      if (!isKeyChar(c) && c !== 46 /* . */) {
        this.error(
          'bad-section-header',
          `"${printable(c)}" is not allowed in a section name. Write the header as [submodule "name"], with the name in double quotes.`,
        );
      }
      name += String.fromCharCode(lower(c));
    }
    if (name === '') this.error('bad-section-header', 'the section header has no name. Write it as [submodule "name"].', start);
    return name;
  }

  /** git's get_extended_base_var(): the quoted part of `[section "sub"]`, escapes taken literally. */
  private subsection(first: number, start: number): string {
    let c = first;
    do {
      if (c === NL) this.error('bad-section-header', 'the section header has no closing "]". Write it as [submodule "name"].', start);
      c = this.next();
    } while (isSpace(c));
    if (c !== 34 /* " */) {
      this.error('bad-section-header', 'a section name with spaces must be quoted: write [submodule "name"].');
    }
    let sub = '.';
    for (;;) {
      c = this.next();
      if (c === NL) {
        this.error('unterminated-quote', 'the quoted name in the section header is not closed. Add the closing " before ].', start);
      }
      if (c === 34) break;
      if (c === 92 /* \ */) {
        c = this.next();
        if (c === NL) {
          this.error('unterminated-quote', 'the quoted name in the section header is not closed. Add the closing " before ].', start);
        }
      }
      sub += String.fromCharCode(c);
    }
    if (this.next() !== 93) {
      this.error('bad-section-header', 'expected "]" right after the closing quote. Write it as [submodule "name"].', start);
    }
    return sub;
  }

  /** git's get_value(): a key, then end of line (bare key) or `=` and a value. */
  private entry(base: string, first: number, sectionLine: number): ConfigEntry {
    const line = this.linenr;
    let key = String.fromCharCode(lower(first));
    let c: number;
    for (;;) {
      c = this.next();
      if (this.eof || !isKeyChar(c)) break;
      key += String.fromCharCode(lower(c));
    }
    const glued = c !== 32 && c !== 9;
    while (c === 32 || c === 9) c = this.next();
    let value: string | null = null;
    if (c !== NL) {
      if (c !== 61 /* = */) {
        if (glued && c !== 35 && c !== 59 && !isSpace(c)) {
          this.error(
            'invalid-key',
            `"${printable(c)}" is not allowed in a key ("${short(key)}…"): keys hold only letters, digits and "-". Rename the key.`,
          );
        }
        this.error('invalid-key', `expected "=" after the key "${short(key)}". Write it as ${short(key)} = value.`);
      }
      value = this.value(key);
    }
    return { name: base === '' ? key : `${base}.${key}`, value, line, sectionLine };
  }

  /** git's parse_value(): quotes, escapes, comments, continuation lines, whitespace folding. */
  private value(key: string): string {
    let quote = false;
    let comment = false;
    let space = 0;
    let out = '';
    for (;;) {
      let c = this.next();
      if (c === NL) {
        if (quote) {
          this.error('unterminated-quote', `the value of "${short(key)}" opens a double quote (") that is never closed on its line. Close it or remove it.`, this.linenr - 1);
        }
        return out;
      }
      if (comment) continue;
      if (isSpace(c) && !quote) {
        if (out.length > 0) space++;
        continue;
      }
      if (!quote && (c === 59 || c === 35)) {
        comment = true;
        continue;
      }
      if (space > 0) {
        out += ' '.repeat(space);
        space = 0;
      }
      if (c === 92 /* \ */) {
        c = this.next();
        switch (c) {
          case NL:
            continue; // line continuation
          case 116 /* t */:
            out += '\t';
            continue;
          case 98 /* b */:
            out += '\b';
            continue;
          case 110 /* n */:
            out += '\n';
            continue;
          case 92:
          case 34:
            out += String.fromCharCode(c);
            continue;
          default:
            this.error(
              'bad-escape',
              `the value of "${short(key)}" has an unknown escape "\\${printable(c)}". ` +
                'Only \\\\, \\", \\n, \\t and \\b are escapes: write \\\\ for a backslash.',
            );
        }
      }
      if (c === 34) {
        quote = !quote;
        continue;
      }
      out += String.fromCharCode(c);
    }
  }
}

function printable(c: number): string {
  if (c < 32 || c === 127) return `\\x${c.toString(16).padStart(2, '0')}`;
  return String.fromCharCode(c);
}

function short(key: string): string {
  return key.length > 40 ? `${key.slice(0, 40)}…` : key;
}
