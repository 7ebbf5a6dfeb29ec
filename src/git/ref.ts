/**
 * The fetch reference: the branch Valohai fetches on every push, as a person types it on the
 * repository page or as the CLI's `--ref`. One rule for both, so the two never disagree on what
 * they accept; it runs in the browser too, so it uses nothing of Node.
 */

/** Longest fetch reference taken: far more than any branch name a person types. */
export const REF_MAX_LENGTH = 255;

// Control characters and DEL: never legitimate in a ref.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A git ref a user may type as the fetch reference: a branch or tag name, `refs/...`, or a commit
 * hash. Follows `git check-ref-format`'s rules that matter here.
 */
export function isValidRef(ref: string): boolean {
  if (ref.length === 0 || ref.length > REF_MAX_LENGTH) return false;
  if (/[\s~^:?*[\\]/.test(ref) || CONTROL.test(ref)) return false;
  if (ref.startsWith('-') || ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.')) return false;
  if (ref.includes('..') || ref.includes('//') || ref.includes('@{') || ref === '@') return false;
  return ref.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * The fetch reference is a branch: Valohai fetches it on every push, and the app checks Valohai sees
 * its head. `refs/heads/<branch>` is taken as that branch; a tag or a commit id is refused by name
 * (fetchRefProblem), so nobody is told a commit is "a missing branch".
 */
export function branchOfRef(ref: string): string {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
}

/**
 * Why a typed fetch reference (already trimmed) is refused, as the end of a sentence naming it
 * ("--ref "v1" names a tag: ..."); null when it names a branch. The first three reasons are worded
 * as for every other typed field, so a form shows them alike.
 */
export function fetchRefProblem(ref: string): string | null {
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > REF_MAX_LENGTH) return `must be at most ${REF_MAX_LENGTH} characters`;
  if (CONTROL.test(ref)) return 'must not contain control characters';
  if (/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(ref)) return 'is a commit id: enter the branch that holds it, e.g. main';
  if (ref.startsWith('refs/tags/')) return 'names a tag: enter a branch, e.g. main';
  if (ref.startsWith('refs/') && !ref.startsWith('refs/heads/')) return 'must be a branch, e.g. main or refs/heads/main';
  if (!isValidRef(branchOfRef(ref))) return 'must be a branch name, e.g. main or feature/data';
  return null;
}
