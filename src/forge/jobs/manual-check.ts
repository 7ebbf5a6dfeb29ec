/**
 * What a Verify of a key added by hand says about each repository it must be on. Without a Bitbucket
 * API token the app cannot list access keys, so this is read from Valohai's fetch, in git's words:
 * a repository whose clone Bitbucket refused lacks the key; one git fetched holds it; one git never
 * reached (it stops at a level that failed) is said to be not reached, never guessed either way.
 */
import type { ManualKeyState, ManualTarget } from '../contract';

const KEY_REFUSED = /Permission denied \(publickey\)|deployment key is not associated/i;
const CLONE_FAILED = /clone of '([^']+)'/g;
/** The repository a Bitbucket address names: git@bitbucket.org:ws/repo.git, ssh://…/ws/repo, https://…/ws/repo. */
const BITBUCKET_REPO = /bitbucket\.org[:/]+([^/\s']+)\/([^/\s']+?)(?:\.git)?\/?$/i;

function repositoryOf(url: string): string | undefined {
  const m = BITBUCKET_REPO.exec(url.trim());
  return m?.[1] && m[2] ? `${m[1]}/${m[2]}`.toLowerCase() : undefined;
}

/** The submodule chain of a target as a list: [] for the superproject, ['libs/training', 'store'] two levels down. */
function chainOf(target: ManualTarget): string[] {
  return target.via === 'superproject' ? [] : target.via.split(' > ');
}

/**
 * Each target's state after a fetch that failed with `errors` (Valohai's own texts). Null when the
 * errors are not Bitbucket refusing the key (the host unreachable, say): then they tell nothing per repository.
 */
export function manualKeyStates(targets: ManualTarget[], errors: string[]): { repository: string; state: ManualKeyState }[] | null {
  const refused = new Set<string>();
  let superRefused = false;
  for (const text of errors) {
    let from = 0;
    let clones = 0;
    for (const match of text.matchAll(CLONE_FAILED)) {
      clones += 1;
      const why = text.slice(from, match.index);
      from = (match.index ?? 0) + match[0].length;
      const repo = repositoryOf(match[1] ?? '');
      if (repo && KEY_REFUSED.test(why)) refused.add(repo);
    }
    // No submodule named: the fetch of the repository itself was refused.
    if (clones === 0 && KEY_REFUSED.test(text)) superRefused = true;
  }
  if (!superRefused && refused.size === 0) return null;
  const failing = targets.filter((t) => refused.has(t.key));
  const depth = failing.length ? Math.min(...failing.map((t) => chainOf(t).length)) : 0;
  const parents = new Set(failing.filter((t) => chainOf(t).length === depth).map((t) => chainOf(t).slice(0, -1).join(' > ')));
  return targets.map((t) => {
    const repository = `${t.workspace}/${t.slug}`;
    const chain = chainOf(t);
    if (superRefused) return { repository, state: chain.length === 0 ? 'missing' : 'not-reached' };
    if (refused.has(t.key)) return { repository, state: 'missing' };
    // git clones a level side by side and goes deeper only once it all worked: what is above the
    // first refusal, and beside it under the same parent, was fetched.
    const fetched = chain.length < depth || (chain.length === depth && parents.has(chain.slice(0, -1).join(' > ')));
    return { repository, state: fetched ? 'present' : 'not-reached' };
  });
}

/** The Verify's words when per-repository states are known: the repositories to add the key to, by name. */
export function manualVerifyError(states: { repository: string; state: ManualKeyState }[]): string {
  const missing = states.filter((s) => s.state === 'missing').map((s) => s.repository);
  const present = states.filter((s) => s.state === 'present').map((s) => s.repository);
  const unreached = states.filter((s) => s.state === 'not-reached').map((s) => s.repository);
  const lines = [
    `The key is not on ${names(missing)} yet (Valohai's fetch was refused there): add it (Repository settings > Access keys > Add key), then verify again.`,
  ];
  if (present.length) lines.push(`Valohai fetched ${names(present)} with it: the key is in place there.`);
  if (unreached.length) {
    lines.push(`Valohai stopped before reaching ${names(unreached)}; verify again once the key is added above, and it checks ${unreached.length === 1 ? 'that one' : 'those'} too.`);
  }
  return lines.join('\n');
}

function names(list: string[]): string {
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}
