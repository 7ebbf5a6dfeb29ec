/**
 * The demo world behind `npm start` and the end-to-end tests: workspace `acme` with a machine-learning
 * superproject whose submodules cover every Bitbucket URL form the product must handle (and that Valohai
 * can fetch once the access keys are in place), a clean SSH-only superproject for the happy path, a repo
 * with a submodule on another host, users with different permissions and tokens with different scopes.
 */
import { ed25519PublicKeyFor } from './deterministic';
import type { Seed } from './seed-types';

/** Every scope the emulator's routes ask for. */
export const ALL_BITBUCKET_SCOPES = [
  'read:repository:bitbucket',
  'admin:repository:bitbucket',
  'write:ssh-key:bitbucket',
  'delete:ssh-key:bitbucket',
  'read:workspace:bitbucket',
  'read:user:bitbucket',
] as const;

/** The submodule of `research-notebooks` on a host other than Bitbucket; its gitlink names a commit no seeded repo has. */
export const FOREIGN_SUBMODULE_SHA = '0123456789abcdef0123456789abcdef01234567';

const adminAccountKey = ed25519PublicKeyFor('demo:admin-account-key', 'ada@laptop');

/** Credentials and names of the demo seed, for tests, `npm start` and the other stand-ins. */
export const demoBitbucketCredentials = {
  workspace: 'acme',
  otherWorkspace: 'umbrella',
  /** Workspace owner (admin on every acme repo), token with every scope the product needs. */
  admin: {
    email: 'admin@acme.test',
    token: 'ATATT3xDemoAdminFullScopes0001',
    accountId: '712020:0a1b2c3d-0001-4e5f-8a9b-acmeadmin001',
    nickname: 'ada-admin',
    displayName: 'Ada Admin',
    /** An account SSH key of this user: Bitbucket refuses it as an access key. */
    accountSshKey: adminAccountKey,
  },
  /** Same admin user, a second token that lacks `write:ssh-key:bitbucket`. */
  adminWithoutWriteSshKey: {
    email: 'admin@acme.test',
    token: 'ATATT3xDemoAdminNoWriteKey0002',
    missingScope: 'write:ssh-key:bitbucket',
  },
  /** A collaborator with write (not admin) on the acme repos, token with every scope. */
  writer: {
    email: 'writer@acme.test',
    token: 'ATATT3xDemoWriterFullScopes003',
    accountId: '712020:0a1b2c3d-0002-4e5f-8a9b-acmewriter02',
    nickname: 'wes-writer',
    displayName: 'Wes Writer',
  },
  /** A member with read on ml-models only. */
  reader: {
    email: 'reader@acme.test',
    token: 'ATATT3xDemoReaderFullScopes004',
    accountId: '712020:0a1b2c3d-0003-4e5f-8a9b-acmereader03',
    nickname: 'rita-reader',
    displayName: 'Rita Reader',
  },
  /** Owner of the other workspace, with no access to acme. */
  outsider: {
    email: 'owner@umbrella.test',
    token: 'ATATT3xDemoOutsiderScopes00005',
    accountId: '712020:0a1b2c3d-0004-4e5f-8a9b-umbrella0004',
    nickname: 'olga-owner',
    displayName: 'Olga Owner',
  },
  /** Bearer repository access token on acme/ml-models with admin scope: still refused on access keys. */
  repositoryAccessToken: { token: 'ATCTT3xDemoRepositoryAccessTokenMlModels', repo: 'ml-models' },
  /** Bearer workspace access token on acme. */
  workspaceAccessToken: { token: 'ATCTT3xDemoWorkspaceAccessTokenAcme' },
} as const;

/** Repositories of the demo, by role. */
export const demoRepos = {
  /**
   * Superproject: `../datasets.git`, `git@bitbucket.org:acme/training-lib.git` (which nests
   * `../feature-store.git`) and `https://bitbucket.org/acme/docs-site.git` (public). Every one is on
   * Bitbucket, so Valohai can fetch it once the access keys are in place.
   */
  superproject: 'ml-models',
  /** Superproject whose submodules are all relative (SSH-inheriting): the clean path. */
  cleanSuperproject: 'inference-api',
  datasets: 'datasets',
  /** Has the nested submodule feature-store. */
  trainingLib: 'training-lib',
  nested: 'feature-store',
  /** Public; reached through an https:// submodule URL. */
  docsSite: 'docs-site',
  /** A submodule on github.com (gitlink FOREIGN_SUBMODULE_SHA) beside a relative `../datasets.git`. */
  foreignSubmodules: 'research-notebooks',
  /** No commits: mainbranch is null. */
  empty: 'scratch',
  /** A branch whose name holds a slash, on ml-models. */
  slashBranch: 'feature/new-model',
} as const;

const c = demoBitbucketCredentials;

export const demoSeed: Seed = {
  workspaces: [
    {
      slug: 'acme',
      name: 'Acme Machine Learning',
      repos: [
        {
          slug: 'feature-store',
          name: 'Feature Store',
          commits: [
            {
              message: 'Feature store definitions',
              files: {
                'README.md': '# Feature store\n\nShared feature definitions.\n',
                'features/customer.py': 'FEATURES = ["tenure", "spend_30d"]\n',
              },
            },
          ],
        },
        {
          slug: 'datasets',
          name: 'Datasets',
          commits: [
            {
              message: 'Add training data',
              files: {
                'README.md': '# Datasets\n',
                'data/train.csv': 'x,y\n1,2\n3,4\n',
                'data/schema/columns.json': '{"columns": ["x", "y"]}\n',
              },
            },
          ],
        },
        {
          slug: 'training-lib',
          name: 'Training Library',
          commits: [
            {
              message: 'Training library skeleton',
              files: {
                'README.md': '# Training library\n',
                'training_lib/__init__.py': 'VERSION = "0.1.0"\n',
              },
            },
            {
              message: 'Use the shared feature store',
              submodules: [{ path: 'vendor/feature-store', url: '../feature-store.git', target: { repo: 'acme/feature-store' } }],
            },
          ],
        },
        {
          slug: 'docs-site',
          name: 'Docs Site',
          isPrivate: false,
          commits: [{ message: 'Docs home page', files: { 'index.md': '# Acme ML docs\n' } }],
        },
        {
          slug: 'ml-models',
          name: 'ML Models',
          description: 'Model training pipelines',
          commits: [
            {
              message: 'Initial training pipeline',
              files: {
                'README.md': '# ML models\n',
                'train.py': 'print("training")\n',
                'valohai.yaml': '- step:\n    name: train\n    image: python:3.12\n    command: python train.py\n',
                'models/config/params.json': '{"epochs": 10}\n',
              },
            },
            {
              message: 'Add submodules',
              submodules: [
                { path: 'datasets', url: '../datasets.git', target: { repo: 'acme/datasets' } },
                { path: 'libs/training-lib', url: 'git@bitbucket.org:acme/training-lib.git', target: { repo: 'acme/training-lib' } },
                { path: 'docs', url: 'https://bitbucket.org/acme/docs-site.git', target: { repo: 'acme/docs-site' } },
              ],
            },
          ],
          branches: [
            {
              name: 'feature/new-model',
              commits: [{ message: 'Try a bigger model', files: { 'models/config/params.json': '{"epochs": 50}\n' } }],
            },
          ],
        },
        {
          slug: 'inference-api',
          name: 'Inference API',
          commits: [
            {
              message: 'Inference service with its libraries',
              files: {
                'README.md': '# Inference API\n',
                'serve.py': 'print("serving")\n',
                'valohai.yaml': '- step:\n    name: serve\n    image: python:3.12\n    command: python serve.py\n',
              },
              submodules: [
                { path: 'datasets', url: '../datasets.git', target: { repo: 'acme/datasets' } },
                { path: 'libs/training-lib', url: '../training-lib.git', target: { repo: 'acme/training-lib' } },
              ],
            },
          ],
        },
        {
          slug: 'research-notebooks',
          name: 'Research Notebooks',
          commits: [
            {
              message: 'Notebooks with the data and the shared tools',
              files: { 'README.md': '# Research notebooks\n\nExploratory work on the training data.\n' },
              submodules: [
                { path: 'datasets', url: '../datasets.git', target: { repo: 'acme/datasets' } },
                { path: 'tools', url: 'git@github.com:example/tools.git', target: { sha: FOREIGN_SUBMODULE_SHA } },
              ],
            },
          ],
        },
        { slug: 'scratch', name: 'Scratch' },
      ],
    },
    {
      slug: 'umbrella',
      name: 'Umbrella Corp',
      repos: [{ slug: 'vault', commits: [{ message: 'Secrets', files: { 'README.md': '# Vault\n' } }] }],
    },
  ],
  users: [
    { email: c.admin.email, accountId: c.admin.accountId, displayName: c.admin.displayName, nickname: c.admin.nickname, sshKeys: [adminAccountKey] },
    { email: c.writer.email, accountId: c.writer.accountId, displayName: c.writer.displayName, nickname: c.writer.nickname },
    { email: c.reader.email, accountId: c.reader.accountId, displayName: c.reader.displayName, nickname: c.reader.nickname },
    { email: c.outsider.email, accountId: c.outsider.accountId, displayName: c.outsider.displayName, nickname: c.outsider.nickname },
  ],
  apiTokens: [
    { email: c.admin.email, token: c.admin.token, scopes: [...ALL_BITBUCKET_SCOPES] },
    {
      email: c.adminWithoutWriteSshKey.email,
      token: c.adminWithoutWriteSshKey.token,
      scopes: ALL_BITBUCKET_SCOPES.filter((s) => s !== c.adminWithoutWriteSshKey.missingScope),
    },
    { email: c.writer.email, token: c.writer.token, scopes: [...ALL_BITBUCKET_SCOPES] },
    { email: c.reader.email, token: c.reader.token, scopes: [...ALL_BITBUCKET_SCOPES] },
    { email: c.outsider.email, token: c.outsider.token, scopes: [...ALL_BITBUCKET_SCOPES] },
  ],
  accessTokens: [
    {
      token: c.repositoryAccessToken.token,
      kind: 'repository',
      workspace: 'acme',
      repo: c.repositoryAccessToken.repo,
      scopes: ['read:repository:bitbucket', 'admin:repository:bitbucket', 'write:ssh-key:bitbucket', 'delete:ssh-key:bitbucket'],
    },
    { token: c.workspaceAccessToken.token, kind: 'workspace', workspace: 'acme', scopes: ['read:repository:bitbucket'] },
  ],
  memberships: [
    { workspace: 'acme', email: c.admin.email, role: 'owner' },
    { workspace: 'acme', email: c.writer.email, role: 'collaborator' },
    { workspace: 'acme', email: c.reader.email, role: 'member' },
    { workspace: 'umbrella', email: c.outsider.email, role: 'owner' },
  ],
  repoPermissions: [
    ...['ml-models', 'inference-api', 'datasets', 'training-lib', 'feature-store', 'docs-site', 'research-notebooks', 'scratch'].map((repo) => ({
      workspace: 'acme',
      repo,
      email: c.writer.email,
      permission: 'write' as const,
    })),
    { workspace: 'acme', repo: 'ml-models', email: c.reader.email, permission: 'read' },
  ],
};
