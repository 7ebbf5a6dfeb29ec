/**
 * The world `npm start` and the preview's browser tests run in: the demo world plus `acme/crown-jewels`,
 * a private repository only the workspace admin administers (the writer and the reader have no access).
 * It is what a writer's `.gitmodules` can name to try to have unattended work put a key where no person
 * granted one, so the preview can play that attack from its bar. The demo seed itself stays as it is:
 * the CLI and Forge tests count and name its repositories, and the trust seed adds this same repository
 * to it.
 */
import { demoSeed } from './demo-seed';
import type { Seed, SeedRepo } from './seed-types';

/** The repository a writer may name in `.gitmodules` but can neither read nor administer. */
export const CROWN_JEWELS = 'crown-jewels';

export const crownJewelsRepo: SeedRepo = {
  slug: CROWN_JEWELS,
  name: 'Crown Jewels',
  commits: [{ message: 'The secret sauce', files: { 'README.md': '# Crown jewels\n' } }],
};

export const previewSeed: Seed = {
  ...demoSeed,
  // No repoPermissions entry names it: as workspace owner the admin administers it, and nobody else may.
  workspaces: demoSeed.workspaces.map((ws) => (ws.slug === 'acme' ? { ...ws, repos: [...ws.repos, crownJewelsRepo] } : ws)),
};
