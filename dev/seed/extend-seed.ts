/** Small builders for seeds that add to the demo world (the benchmarks and the bounded-work tests). */
import { demoSeed } from './demo-seed';
import type { Seed, SeedRepo } from './seed-types';

/** `count` repositories `lib-0`, `lib-1`, … with one commit each. */
export function libraryRepos(count: number): SeedRepo[] {
  return Array.from({ length: count }, (_, i) => `lib-${i}`).map((slug) => ({ slug, commits: [{ message: slug, files: { 'README.md': `# ${slug}\n` } }] }));
}

/** The demo seed with `repos` added to workspace `acme`. */
export function demoWithRepos(repos: SeedRepo[], extra: Partial<Seed> = {}): Seed {
  return {
    ...demoSeed,
    ...extra,
    workspaces: demoSeed.workspaces.map((ws) => (ws.slug === 'acme' ? { ...ws, repos: [...ws.repos, ...repos] } : ws)),
  };
}
