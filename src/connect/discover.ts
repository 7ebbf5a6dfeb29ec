/**
 * Finds every repository the connection's key must be on: the superproject and, through `.gitmodules`
 * read at the fetched commit, each Bitbucket submodule repository, recursively (depth-limited and
 * cycle-safe). Submodule URLs that an SSH key cannot serve become warnings naming the line to change.
 */
import { parseGitmodules, submoduleTargets, GitmodulesSyntaxError } from '../git/index';
import type { BitbucketApi, RepositoryInfo } from './ports';
import { mapBounded } from './saga';
import type { Target, Warning } from './types';

export interface DiscoverInput {
  workspace: string;
  repo: string;
  /** Branch Valohai fetches; default: the repository's main branch. */
  ref?: string;
  submodules: boolean;
  maxDepth?: number;
  /** Parallel requests at most (default DISCOVERY_LIMITS.concurrency). */
  concurrency?: number;
}

/**
 * How far discovery goes. Anyone who can push writes `.gitmodules`, and every submodule followed costs
 * requests of the workflow's credentials (about 1,000 an hour per Bitbucket user), so the work is capped:
 * submodules beyond a cap are not followed and get no key, and a warning says so with these numbers.
 */
export const DISCOVERY_LIMITS = { perLevel: 50, total: 100, depth: 5, concurrency: 8 } as const;

export interface Plan {
  repository: RepositoryInfo;
  ref: string;
  headCommit: string;
  targets: Target[];
  warnings: Warning[];
}

export class EmptyRepositoryError extends Error {
  constructor(readonly repository: string) {
    super(`${repository} has no branches yet. Push a first commit, then connect again.`);
    this.name = 'EmptyRepositoryError';
  }
}

export class SubmoduleRepositoryError extends Error {
  constructor(readonly repository: string, readonly via: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`Submodule ${via} points to ${repository}, which could not be read: ${why}`);
    this.name = 'SubmoduleRepositoryError';
  }
}


export async function discover(bitbucket: BitbucketApi, input: DiscoverInput): Promise<Plan> {
  // With the ref given, the head is read alongside the repository: one round trip fewer. The repository's
  // own error comes first, as it says more ("not found or not visible") than the branch read's would.
  const [repoRead, headRead] = await Promise.allSettled([
    bitbucket.getRepository(input.workspace, input.repo),
    input.ref ? bitbucket.getBranchHead(input.workspace, input.repo, input.ref) : Promise.resolve(undefined),
  ]);
  if (repoRead.status === 'rejected') throw repoRead.reason;
  const repository = repoRead.value;
  // No main branch means no commits at all: say that, not that the branch asked for is missing.
  if (!repository.mainBranch) throw new EmptyRepositoryError(repository.fullName);
  const ref = input.ref ?? repository.mainBranch;
  if (headRead.status === 'rejected') throw headRead.reason;
  const headCommit = headRead.value ?? (await bitbucket.getBranchHead(repository.workspace, repository.slug, ref));

  const root: Target = {
    workspace: repository.workspace,
    slug: repository.slug,
    key: repository.fullName.toLowerCase(),
    via: 'superproject',
  };
  const targets = new Map<string, Target>([[root.key, root]]);
  const warnings: Warning[] = [];
  if (!input.submodules) return { repository, ref, headCommit, targets: [root], warnings };

  // A public repository named by https URLs only is fetched by git without credentials: it needs no key,
  // and its URL no change. Found out when the repository is read; every other https URL is warned about.
  const publicRepos = new Set<string>();
  if (repository.isPrivate === false) publicRepos.add(root.key);
  const httpsWarnings: { key: string; warning: Warning }[] = [];
  const fetchedAnonymously = new Set<string>();

  const maxDepth = input.maxDepth ?? DISCOVERY_LIMITS.depth;
  const concurrency = input.concurrency ?? DISCOVERY_LIMITS.concurrency;

  // Breadth-first so that siblings are read in parallel: one level costs one round of requests.
  let level: { target: Target; url: string; commit: string; chain: string }[] = [
    { target: root, url: repository.sshUrl, commit: headCommit, chain: '' },
  ];
  for (let depth = 0; level.length > 0; depth++) {
    const found = await mapBounded(level, concurrency, async (node) => {
      const text = await bitbucket.getFileAtCommit(node.target.workspace, node.target.slug, node.commit, '.gitmodules');
      if (text === undefined) return [];
      let subs;
      try {
        subs = parseGitmodules(text);
      } catch (err) {
        const where = err instanceof GitmodulesSyntaxError ? ` (line ${err.line})` : '';
        warnings.push({
          code: 'gitmodules-unreadable',
          repository: `${node.target.workspace}/${node.target.slug}`,
          message: `.gitmodules in ${node.target.workspace}/${node.target.slug}${where} could not be read: ${
            err instanceof Error ? err.message : String(err)
          }. Its submodules were skipped; fix the file and connect again.`,
        });
        return [];
      }
      const result = submoduleTargets(node.url, subs);
      for (const w of result.warnings) {
        const warning: Warning = { code: w.code, message: w.message, repository: `${node.target.workspace}/${node.target.slug}` };
        // Whether an https URL needs changing depends on the repository it names: held until that is read.
        if (w.code === 'https-submodule' && w.repository) httpsWarnings.push({ key: w.repository, warning });
        else warnings.push(warning);
      }
      return result.targets.map((t) => ({ parent: node, sub: t }));
    });
    const next: typeof level = [];
    const fresh = found.flat().filter(({ sub }) => {
      if (targets.has(sub.key)) return false; // reached before: cycles and shared submodules stop here
      if (sub.httpsUrl !== undefined && fetchedAnonymously.has(sub.key)) return false;
      return true;
    });
    const unique = [...new Map(fresh.map((f) => [f.sub.key, f])).values()];
    const room = Math.min(DISCOVERY_LIMITS.perLevel, DISCOVERY_LIMITS.total - (targets.size - 1));
    const kept = unique.slice(0, Math.max(0, room));
    if (kept.length < unique.length) {
      const skipped = unique.slice(kept.length);
      warnings.push({
        code: 'submodule-cap',
        repository: `${root.workspace}/${root.slug}`,
        message:
          `${unique.length} submodule repositories were found ${depth === 0 ? 'in .gitmodules' : `${depth + 1} levels down`}; ` +
          `${skipped.length} (${skipped.slice(0, 3).map((f) => f.sub.key).join(', ')}${skipped.length > 3 ? ', …' : ''}) were not followed and get no key: ` +
          `at most ${DISCOVERY_LIMITS.perLevel} per level and ${DISCOVERY_LIMITS.total} in all are followed, ${DISCOVERY_LIMITS.depth} levels deep. ` +
          'Valohai cannot fetch those; remove the submodules it does not need.',
      });
    }
    // Targets are recorded in .gitmodules order before any request, so the plan reads the same every time.
    const placed = kept.map(({ parent, sub }) => {
      const chain = parent.chain ? `${parent.chain} > ${sub.path ?? sub.name}` : (sub.path ?? sub.name);
      const target: Target = { workspace: sub.workspace, slug: sub.slug, key: sub.key, via: chain };
      targets.set(sub.key, target);
      return { sub, target, chain };
    });
    const anonymous = new Set<string>();
    await mapBounded(placed, concurrency, async ({ sub, target, chain }) => {
      if (depth + 1 >= maxDepth) {
        warnings.push({
          code: 'submodule-depth',
          repository: sub.key,
          message: `Submodules nested deeper than ${maxDepth} levels below ${chain} were not followed.`,
        });
        return;
      }
      let info: RepositoryInfo;
      let commit: string;
      try {
        info = await bitbucket.getRepository(sub.workspace, sub.slug);
        if (info.isPrivate === false) publicRepos.add(sub.key);
        if (info.isPrivate === false && sub.httpsUrl !== undefined) anonymous.add(sub.key);
        if (!info.mainBranch) return; // an empty submodule repo has no .gitmodules to follow
        commit = await bitbucket.getBranchHead(info.workspace, info.slug, info.mainBranch);
      } catch (err) {
        throw new SubmoduleRepositoryError(`${sub.workspace}/${sub.slug}`, chain, err);
      }
      // Fetched over https, its relative submodules are too: they resolve against the URL git really uses.
      next.push({ target, url: anonymous.has(sub.key) && sub.httpsUrl !== undefined ? sub.httpsUrl : sub.url, commit, chain });
    });
    for (const key of anonymous) {
      targets.delete(key);
      fetchedAnonymously.add(key);
    }
    warnings.push(...httpsWarnings.splice(0).filter(({ key }) => !publicRepos.has(key)).map(({ warning }) => warning));
    level = next;
  }
  return { repository, ref, headCommit, targets: [...targets.values()], warnings };
}
