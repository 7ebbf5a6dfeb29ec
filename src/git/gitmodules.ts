import { GitmodulesSyntaxError, GitmodulesTooLargeError } from './errors';
import { parseGitConfig } from './git-config';

export interface Submodule {
  /** The name in `[submodule "name"]` (lower-cased in the legacy `[submodule.name]` form, as git reads it). */
  name: string;
  path?: string;
  /** As written: possibly relative (`../lib.git`); see resolveSubmoduleUrl. */
  url?: string;
  branch?: string;
  /** Line of the (first) `[submodule]` header. */
  line: number;
  /** Line of the `url` that took effect. */
  urlLine?: number;
}

export interface ParseGitmodulesOptions {
  /** Refuse larger input (UTF-8 bytes). Default 1 MiB. */
  maxBytes?: number;
}

export const DEFAULT_GITMODULES_MAX_BYTES = 1024 * 1024;

/** Keys whose bare form (no `= value`) git refuses in a submodule section ("missing value"). */
const NEEDS_VALUE = new Set(['path', 'url', 'branch']);

/**
 * Reads `.gitmodules` as git does when it initialises submodules from a checkout: repeated sections
 * of one name merge and later values win; other sections and unknown keys are ignored; names git
 * calls suspicious (empty, or with a `..` component) are skipped as git skips them. Throws
 * GitmodulesSyntaxError where git would fail, GitmodulesTooLargeError above the size cap.
 */
export function parseGitmodules(text: string, options: ParseGitmodulesOptions = {}): Submodule[] {
  const limit = options.maxBytes ?? DEFAULT_GITMODULES_MAX_BYTES;
  // UTF-16 length never exceeds the UTF-8 byte length, so the cheap test settles most large inputs.
  if (text.length > limit) throw new GitmodulesTooLargeError(Buffer.byteLength(text, 'utf8'), limit);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) throw new GitmodulesTooLargeError(bytes, limit);

  const byName = new Map<string, Submodule>();
  for (const entry of parseGitConfig(text)) {
    const firstDot = entry.name.indexOf('.');
    const lastDot = entry.name.lastIndexOf('.');
    if (firstDot < 0 || firstDot === lastDot || entry.name.slice(0, firstDot) !== 'submodule') continue;
    const name = entry.name.slice(firstDot + 1, lastDot);
    const key = entry.name.slice(lastDot + 1);
    if (!isAcceptedName(name)) continue;

    let submodule = byName.get(name);
    if (!submodule) {
      submodule = { name, line: entry.sectionLine };
      byName.set(name, submodule);
    }
    if (!NEEDS_VALUE.has(key)) continue;
    if (entry.value === null) {
      throw new GitmodulesSyntaxError(
        'missing-value',
        entry.line,
        `"${key}" in [submodule "${shortName(name)}"] has no value. Write it as ${key} = ${example(key)}.`,
      );
    }
    if (key === 'path') submodule.path = entry.value;
    else if (key === 'branch') submodule.branch = entry.value;
    else {
      submodule.url = entry.value;
      submodule.urlLine = entry.line;
    }
  }
  return [...byName.values()];
}

/** git's check_submodule_name(): not empty, no `..` between separators (either slash). */
function isAcceptedName(name: string): boolean {
  if (name === '') return false;
  return !name.split(/[/\\]/).includes('..');
}

function shortName(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name;
}

function example(key: string): string {
  if (key === 'url') return 'git@bitbucket.org:workspace/repo.git';
  if (key === 'path') return 'the/submodule/folder';
  return 'main';
}
