/**
 * The demo world plus what the trust-model tests attack with: Mallory administers only
 * `acme/mallory-tools`, whose `.gitmodules` names the private `acme/crown-jewels` (she has no access)
 * and, through a relative URL, `ada-private/payroll`, a private repository in another workspace that
 * only the workspace admin owns. The stored API token (the admin's) reaches all three; Mallory does not.
 */
import { demoBitbucketCredentials, demoSeed } from './demo-seed';
import { CROWN_JEWELS, crownJewelsRepo } from './preview-seed';
import type { Seed } from './seed-types';

export const trustCredentials = {
  mallory: {
    email: 'mallory@acme.test',
    token: 'ATATT3xTrustMalloryScopes00006',
    accountId: '712020:0a1b2c3d-0006-4e5f-8a9b-acmemallory6',
    nickname: 'mallory',
    displayName: 'Mallory Maker',
  },
  /** Administered by Mallory only (and, as for every acme repository, the workspace owner). */
  malloryRepo: 'mallory-tools',
  crownJewels: CROWN_JEWELS,
  /** The admin's own workspace, where Mallory is nobody. */
  otherWorkspace: 'ada-private',
  payroll: 'payroll',
} as const;

const t = trustCredentials;
const admin = demoBitbucketCredentials.admin;

export const trustSeed: Seed = {
  ...demoSeed,
  workspaces: [
    ...demoSeed.workspaces.map((ws) =>
      ws.slug !== 'acme'
        ? ws
        : {
            ...ws,
            repos: [
              ...ws.repos,
              crownJewelsRepo,
              {
                slug: t.malloryRepo,
                name: 'Mallory Tools',
                commits: [
                  { message: 'Tools', files: { 'README.md': '# Tools\n', 'valohai.yaml': '- step:\n    name: tool\n    image: python:3.12\n    command: "true"\n' } },
                  {
                    message: 'Vendor some libraries',
                    submodules: [
                      { path: 'vendor/jewels', url: `../${t.crownJewels}.git`, target: { repo: `acme/${t.crownJewels}` } },
                      { path: 'vendor/payroll', url: `../../${t.otherWorkspace}/${t.payroll}.git`, target: { repo: `${t.otherWorkspace}/${t.payroll}` } },
                    ],
                  },
                ],
              },
            ],
          },
    ),
    {
      slug: t.otherWorkspace,
      name: 'Ada (private)',
      repos: [{ slug: t.payroll, name: 'Payroll', commits: [{ message: 'Salaries', files: { 'salaries.csv': 'name,salary\n' } }] }],
    },
  ],
  users: [
    ...demoSeed.users,
    { email: t.mallory.email, accountId: t.mallory.accountId, displayName: t.mallory.displayName, nickname: t.mallory.nickname },
  ],
  apiTokens: [
    ...(demoSeed.apiTokens ?? []),
    { email: t.mallory.email, token: t.mallory.token, scopes: [...(demoSeed.apiTokens?.[0]?.scopes ?? [])] },
  ],
  memberships: [
    ...(demoSeed.memberships ?? []),
    { workspace: 'acme', email: t.mallory.email, role: 'member' },
    { workspace: t.otherWorkspace, email: admin.email, role: 'owner' },
  ],
  repoPermissions: [...(demoSeed.repoPermissions ?? []), { workspace: 'acme', repo: t.malloryRepo, email: t.mallory.email, permission: 'admin' }],
};
