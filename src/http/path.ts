/**
 * Path segments for API URLs. Values are refused, not escaped, when they could change which resource a
 * request names (`/`, `\`, `..`, `?`, `#`), the same rule Forge's `route` applies, so a request never
 * reaches a different endpoint than the one the code spells out.
 */

export class InvalidPathSegmentError extends Error {
  override readonly name = 'InvalidPathSegmentError';

  constructor(
    /** What the value was meant to be, e.g. "workspace". */
    readonly what: string,
    message: string,
  ) {
    super(message);
  }
}

const FORBIDDEN = ['/', '\\', '?', '#'];

function hasControlCharacter(value: string): boolean {
  return [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** One URL path segment: a slug, a `{uuid}`, an id or a commit hash. */
export function encodePathSegment(value: string, what: string): string {
  if (value.length === 0) throw new InvalidPathSegmentError(what, `The ${what} is empty: give the ${what} name.`);
  const bad = FORBIDDEN.find((c) => value.includes(c)) ?? (value.includes('..') ? '..' : undefined);
  if (bad !== undefined || hasControlCharacter(value)) {
    throw new InvalidPathSegmentError(
      what,
      `The ${what} ${show(value)} contains ${bad === undefined ? 'a control character' : `"${bad}"`}, which cannot be part of a ${what}. ` +
        `Give only the ${what} itself (as it appears in the URL), not a path or a URL.`,
    );
  }
  return encodeURIComponent(value);
}

/**
 * A git ref name in one segment: `/` is allowed and encoded as %2F (branch names like `feature/x`);
 * what git itself forbids in ref names that would matter here (`..`, empty parts) is refused.
 */
export function encodeRefSegment(value: string, what = 'branch'): string {
  if (value.length === 0) throw new InvalidPathSegmentError(what, `The ${what} is empty: give the ${what} name.`);
  if (value.includes('..') || value.startsWith('/') || value.endsWith('/') || value.includes('//') || value.includes('\\') || hasControlCharacter(value)) {
    throw new InvalidPathSegmentError(what, `${show(value)} is not a valid ${what} name: check the ${what} (e.g. main).`);
  }
  return encodeURIComponent(value);
}

/** A file path inside a repository: each `/`-separated part encoded, `.`/`..`/empty parts refused. */
export function encodeFilePath(value: string, what = 'file path'): string {
  const parts = value.split('/');
  if (value.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new InvalidPathSegmentError(what, `The ${what} ${show(value)} must be relative to the repository root, like "dir/file.txt", without "." or ".." parts.`);
  }
  return parts.map((p) => encodePathSegment(p, what)).join('/');
}
