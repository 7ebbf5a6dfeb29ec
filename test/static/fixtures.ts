// Resolver replies for the page tests, typed by the contract so that a contract change breaks them
// at compile time. Each scenario is one situation a user can meet; a reply may depend on the payload
// and on how often that resolver was called (to play a job forward poll by poll).
import type {
  ConnectionStatus,
  JobView,
  PayloadOf,
  Reply,
  RepositoryInfo,
  RepositoryPage,
  ResolverError,
  ResolverName,
  ValueOf,
  WorkspaceSettings,
} from '../../src/forge/contract';
import { DEFAULT_HEALTH_POLICY } from '../../src/forge/contract';
import type { ProgressEvent, WorkflowResult } from '../../src/connect/types';

export type ReplyFn<K extends ResolverName> = (payload: PayloadOf<K>, call: number) => Reply<ValueOf<K>> | Promise<Reply<ValueOf<K>>>;

const slowly = <T>(ms: number, reply: Reply<T>): Promise<Reply<T>> => new Promise((resolve) => setTimeout(() => resolve(reply), ms));

export interface Scenario {
  module: 'workspace' | 'repository';
  replies: { [K in ResolverName]?: ReplyFn<K> };
}

const ok = <T>(value: T): Reply<T> => ({ ok: true, value });
const fail = (error: ResolverError): Reply<never> => ({ ok: false, error });

export const repository: RepositoryInfo = {
  fullName: 'acme/trainer',
  mainBranch: 'main',
  sshUrl: 'git@bitbucket.org:acme/trainer.git',
  accessKeysUrl: 'https://bitbucket.org/acme/trainer/admin/access-keys/',
};

const setup = { valohai: true, bitbucket: true, workspaceSettingsUrl: 'https://bitbucket.org/acme/workspace/settings/forge/valohai' };

export const workspaceSettings: WorkspaceSettings = {
  workspace: { slug: 'acme', name: 'Acme ML' },
  canAdminister: true,
  valohai: { configured: true, host: 'https://app.valohai.com', username: 'ada' },
  bitbucket: {
    configured: true,
    email: 'ada@acme.example',
    accountName: 'Ada Lovelace',
    missingScopes: ['delete:ssh-key:bitbucket'],
  },
  repositories: [
    { fullName: 'acme/trainer', name: 'trainer', state: 'connected', projectName: 'trainer', keyAgeDays: 12, settingsUrl: null, health: 'healthy' },
    { fullName: 'acme/datasets', name: 'datasets', state: 'not-connected', projectName: null, keyAgeDays: null, settingsUrl: null, health: null },
    { fullName: 'acme/features', name: 'features', state: 'manual', projectName: 'features', keyAgeDays: 0, settingsUrl: null, health: null },
  ],
  repositoriesTruncated: false,
  trust: { connectors: 'workspace-admins', otherWorkspaces: [], projectOwners: [] },
  policy: DEFAULT_HEALTH_POLICY,
  automation: { lastRunAt: null, nextRunAt: null, lastRunChecked: 0, lastRunDeferred: 0, rotationsToday: 0 },
  keyNotices: [],
};

export const connection: ConnectionStatus = {
  project: { id: '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10', name: 'trainer', url: 'https://app.valohai.com/p/acme/trainer/' },
  ref: 'main',
  keyType: 'rsa',
  fingerprint: 'SHA256:Yb0mJ9m2T5cGxq0f1oQwQ7cE4n0c3Zp9xg1m2o3p4q8',
  createdAt: '2025-01-10T09:00:00Z',
  keyAgeDays: 200,
  accessKeys: [
    { repository: 'acme/trainer', state: 'present', id: 11, lastUsed: '2025-07-28T10:15:00Z', accessKeysUrl: repository.accessKeysUrl },
    { repository: 'acme/datasets', state: 'present', id: 12, lastUsed: null, accessKeysUrl: 'https://bitbucket.org/acme/datasets/admin/access-keys/' },
  ],
  valohaiCommit: { identifier: '4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39', commitTime: '2025-07-28T10:14:00Z' },
  bitbucketHead: '4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39',
  verifiedAt: '2025-07-28T10:16:00Z',
  lastPushFetch: { at: '2025-07-28T10:14:30Z', commits: 2, errors: [] },
  movedAway: null,
  sync: { state: 'in-sync' },
  warnings: [],
  health: {
    latest: null,
    history: [],
    nextCheckAt: '2025-07-29T10:16:00Z',
    needsAdmin: [],
    recentChanges: [],
    keyNotices: [],
    autoRotateDueAt: null,
  },
};

export const rotatedConnection: ConnectionStatus = {
  ...connection,
  fingerprint: 'SHA256:n3wK3yAft3rR0tat1onQ0f1oQwQ7cE4n0c3Zp9xg1m2',
  createdAt: '2025-07-28T10:20:00Z',
  keyAgeDays: 0,
};

const readyPage: RepositoryPage = {
  state: 'ready',
  repository,
  canAdminister: true,
  setup,
  ready: {
    projects: [
      { id: '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10', name: 'trainer', owner: 'acme', repositoryUrl: null, inUseBy: null },
      { id: '0f9a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b', name: 'legacy', owner: 'acme:research', repositoryUrl: 'https://github.com/acme/legacy.git', inUseBy: null },
    ],
    ownershipOptions: [
      { value: 'acme', label: 'acme' },
      { value: 'acme:research', label: 'acme / research' },
    ],
    defaultRef: 'main',
  },
};

const connectedPage: RepositoryPage = { state: 'connected', repository, canAdminister: true, setup, connection };

/** A connect job as polls see it: one more step each poll, done on the fourth. */
export function connectJob(jobId: string, poll: number): JobView {
  const all: ProgressEvent[] = [
    { step: 'read-repository', status: 'done', message: 'Read acme/trainer' },
    { step: 'generate-key', status: 'done', message: 'Generated an RSA 4096 key' },
    { step: 'add-key:acme/trainer', status: 'done', message: 'Added the access key to acme/trainer' },
    { step: 'valohai-fetch', status: 'done', message: 'Valohai fetched 2 commits' },
  ];
  const shown = all.slice(0, Math.min(poll, all.length)).map((s, i, arr) =>
    i === arr.length - 1 && poll < all.length ? { ...s, status: 'running' as const } : s,
  );
  const done = poll >= all.length;
  return {
    id: jobId,
    kind: 'connect',
    status: done ? 'done' : 'running',
    steps: shown,
    startedAt: '2025-07-28T10:00:00Z',
    ...(done ? { finishedAt: '2025-07-28T10:00:09Z' } : {}),
    ...(done
      ? {
          result: {
            repository: 'acme/trainer',
            sshUrl: repository.sshUrl,
            ref: 'main',
            headCommit: connection.bitbucketHead,
            keyType: 'rsa',
            fingerprint: connection.fingerprint,
            accessKeys: [{ repository: 'acme/trainer', id: 11, status: 'added' }],
            warnings: [],
            valohai: { projectId: connection.project.id, repositoryId: 7, fetchedCommit: connection.bitbucketHead },
            verified: true,
            outcome: 'done',
          },
        }
      : {}),
  };
}

/**
 * A job that runs for one poll (so the page shows its steps) and has ended on every later poll.
 * `result` is laid over a verified connect result of acme/trainer.
 */
export function finishedJob(
  jobId: string,
  poll: number,
  job: { kind: JobView['kind']; status: 'done' | 'failed' | 'unverified'; steps: ProgressEvent[]; error?: string; result: Partial<WorkflowResult> },
): JobView {
  if (poll < 2) {
    return { id: jobId, kind: job.kind, status: 'running', steps: job.steps.slice(0, 1).map((s) => ({ ...s, status: 'running' })), startedAt: '2025-07-28T10:00:00Z' };
  }
  return {
    id: jobId,
    kind: job.kind,
    status: job.status,
    steps: job.steps,
    startedAt: '2025-07-28T10:00:00Z',
    finishedAt: '2025-07-28T10:00:09Z',
    ...(job.error ? { error: job.error } : {}),
    result: {
      repository: 'acme/trainer',
      sshUrl: repository.sshUrl,
      ref: 'main',
      headCommit: connection.bitbucketHead,
      keyType: 'rsa',
      fingerprint: connection.fingerprint,
      accessKeys: [],
      warnings: [],
      valohai: { projectId: connection.project.id, repositoryId: 7, fetchedCommit: null },
      verified: false,
      outcome: job.status,
      ...job.result,
    },
  };
}

const manualLabel = 'valohai:acme/trainer:5b7c0c4e';

/** What a disconnect without a Bitbucket API token leaves for the admin: one key per repository to remove by hand. */
export const orphanKeyWarnings = ['trainer', 'datasets'].map((slug) => ({
  code: 'orphan-key' as const,
  repository: `acme/${slug}`,
  message: `Valohai no longer holds the key. If the access key "${manualLabel}" (${connection.fingerprint}) was added to acme/${slug}, remove it at https://bitbucket.org/acme/${slug}/admin/access-keys/`,
}));

export const submoduleWarning = {
  code: 'https-submodule' as const,
  repository: 'acme/trainer',
  message:
    'Submodule "vendor" (path vendor) uses https:// ("https://github.com/acme/vendor.git"), which Valohai cannot fetch with an SSH access key. ' +
    'Change .gitmodules line 5 to: url = git@github.com:acme/vendor.git',
};

export const rotateLeftover = 'new access key 31 on acme/datasets (could not be undone: Bitbucket did not answer (503 Service Unavailable))';

export const scenarios: Record<string, Scenario> = {
  workspace: {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () => ok(workspaceSettings),
      saveValohaiToken: (p) =>
        p.token === 'server-refuses-field'
          ? fail({ code: 'invalid-payload', field: 'token', message: 'The token must be at most 1000 characters.', fix: 'Correct it, then send it again.' })
          : p.token === 'wrong-token'
          ? fail({
              code: 'invalid-token',
              message: 'Valohai refused the token (401).',
              fix: 'Create a new token at https://app.valohai.com/auth/tokens/ and save it here.',
            })
          : ok({ configured: true, host: p.host ?? 'https://app.valohai.com', username: 'grace' }),
      saveBitbucketToken: (p) => ok({ configured: true, email: p.email, accountName: 'Grace Hopper', missingScopes: [] }),
      clearCredentials: () => ok(workspaceSettings),
    },
  },
  'repo-not-set-up': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        ok({ state: 'not-set-up', repository, canAdminister: true, setup: { ...setup, valohai: false, bitbucket: false } }),
    },
  },
  'repo-ready': {
    module: 'repository',
    replies: {
      // Ready until a connect starts; connected once the job is done.
      getRepositoryPage: (_p, call) => ok(call === 1 ? readyPage : connectedPage),
      previewConnect: (p) =>
        ok({
          ref: p.ref ?? 'main',
          headCommit: connection.bitbucketHead,
          sshUrl: repository.sshUrl,
          targets: [
            { workspace: 'acme', slug: 'trainer', key: 'acme/trainer', via: 'superproject', accessKeysUrl: repository.accessKeysUrl },
            ...(p.submodules
              ? [{ workspace: 'acme', slug: 'datasets', key: 'acme/datasets', via: 'data', accessKeysUrl: 'https://bitbucket.org/acme/datasets/admin/access-keys/' }]
              : []),
          ],
          warnings: p.submodules
            ? [
                {
                  code: 'https-submodule',
                  repository: 'acme/trainer',
                  message: 'Submodule "vendor" uses https://github.com/acme/vendor.git, which an SSH key cannot fetch: change its url in .gitmodules to git@github.com:acme/vendor.git.',
                },
              ]
            : [],
        }),
      startConnect: () => ok({ jobId: 'job-connect-1' }),
      getJob: (p, call) => ok(connectJob(p.jobId, call)),
    },
  },
  'repo-manual-ready': {
    module: 'repository',
    replies: {
      getRepositoryPage: () => ok({ ...readyPage, setup: { ...setup, bitbucket: false } }),
      startManualConnect: () => ok({ jobId: 'job-manual-1' }),
    },
  },
  'repo-running': {
    module: 'repository',
    replies: {
      getRepositoryPage: () => ok({ state: 'running', repository, canAdminister: true, setup, activeJob: { jobId: 'job-running-1', kind: 'connect' } }),
      // Never finishes: the page must keep polling and show each new step.
      getJob: (p, call) => ok(connectJob(p.jobId, Math.min(call, 3))),
    },
  },
  'repo-connected': {
    module: 'repository',
    replies: {
      getRepositoryPage: () => ok(connectedPage),
      startVerify: () => ok({ jobId: 'job-verify-1' }),
      startRotate: () => ok({ jobId: 'job-rotate-1' }),
      startDisconnect: () => ok({ jobId: 'job-disconnect-1' }),
      getJob: (p, call) => ok({ ...connectJob(p.jobId, call + 3), kind: 'verify' }),
    },
  },
  'repo-connected-old-key': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        ok({
          ...connectedPage,
          connection: {
            ...connection,
            keyAgeDays: 400,
            bitbucketHead: '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d',
            lastPushFetch: { at: '2025-07-28T10:14:30Z', commits: 0, errors: ['Permission denied (publickey).'] },
            sync: { state: 'behind' },
            warnings: [{ code: 'not-fetched', message: 'Valohai does not have the head commit of main yet.' }],
          },
        }),
    },
  },
  'repo-manual': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        ok({
          state: 'manual',
          repository,
          canAdminister: true,
          setup: { ...setup, bitbucket: false },
          manual: {
            publicKey: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDfakefakefakefakefake valohai-bitbucket acme/trainer',
            fingerprint: connection.fingerprint,
            keyType: 'rsa',
            label: 'valohai:acme/trainer:5b7c0c4e',
            targets: [
              { workspace: 'acme', slug: 'trainer', key: 'acme/trainer', via: 'superproject', accessKeysUrl: repository.accessKeysUrl },
              { workspace: 'acme', slug: 'datasets', key: 'acme/datasets', via: 'data', accessKeysUrl: 'https://bitbucket.org/acme/datasets/admin/access-keys/' },
            ],
            project: { id: connection.project.id, name: 'trainer' },
            ref: 'main',
            warnings: [],
          },
        }),
      verifyManual: () => ok({ jobId: 'job-manual-verify-1' }),
      getJob: (p, call) => ok({ ...connectJob(p.jobId, call), kind: 'manual-verify' }),
    },
  },
  'repo-disconnect-manual': {
    module: 'repository',
    replies: {
      // Connected without a Bitbucket API token; once disconnected, ready for the manual path again.
      getRepositoryPage: (_p, call) =>
        ok(call === 1 ? { ...connectedPage, setup: { ...setup, bitbucket: false } } : { ...readyPage, setup: { ...setup, bitbucket: false } }),
      startDisconnect: () => ok({ jobId: 'job-disconnect-manual-1' }),
      getJob: (p, call) =>
        ok(
          finishedJob(p.jobId, call, {
            kind: 'disconnect',
            status: 'done',
            steps: [
              { step: 'valohai-key', status: 'done', message: 'Removing the private key from Valohai' },
              { step: 'forget-connection', status: 'done', message: 'Forgetting the connection' },
            ],
            result: {
              accessKeys: orphanKeyWarnings.map((w) => ({ repository: w.repository, id: null, status: 'absent' as const })),
              warnings: orphanKeyWarnings,
            },
          }),
        ),
    },
  },
  'repo-connect-submodule-warning': {
    module: 'repository',
    replies: {
      // The page opens while the connect runs; it ends done, with a submodule the key cannot serve.
      getRepositoryPage: (_p, call) =>
        ok(call === 1 ? { state: 'running', repository, canAdminister: true, setup, activeJob: { jobId: 'job-connect-warn-1', kind: 'connect' } } : connectedPage),
      getJob: (p, call) =>
        ok(
          finishedJob(p.jobId, call, {
            kind: 'connect',
            status: 'done',
            steps: [
              { step: 'read-repository', status: 'done', message: 'Read acme/trainer' },
              { step: 'add-key:acme/trainer', status: 'done', message: 'Added the access key to acme/trainer' },
              { step: 'valohai-fetch', status: 'done', message: 'Valohai fetched 2 commits' },
            ],
            result: {
              accessKeys: [{ repository: 'acme/trainer', id: 11, status: 'added' }],
              warnings: [submoduleWarning],
              valohai: { projectId: connection.project.id, repositoryId: 7, fetchedCommit: connection.bitbucketHead },
              verified: true,
            },
          }),
        ),
    },
  },
  // The page read after the job is slow (a busy backend): the outcome must not appear beside the old key.
  'repo-rotate-slow-reload': {
    module: 'repository',
    replies: {
      getRepositoryPage: (_p, call) => (call === 1 ? ok(connectedPage) : slowly(1500, ok({ ...connectedPage, connection: rotatedConnection }))),
      startRotate: () => ok({ jobId: 'job-rotate-slow-1' }),
      getJob: (p, call) =>
        ok(
          finishedJob(p.jobId, call, {
            kind: 'rotate',
            status: 'done',
            steps: [
              { step: 'add-key:acme/trainer', status: 'done', message: 'Added the access key to acme/trainer' },
              { step: 'verify', status: 'done', message: 'Valohai fetched the repository and sees its head commit' },
            ],
            result: {},
          }),
        ),
    },
  },
  'repo-rotate-failed': {
    module: 'repository',
    replies: {
      getRepositoryPage: () => ok(connectedPage),
      startRotate: () => ok({ jobId: 'job-rotate-failed-1' }),
      getJob: (p, call) =>
        ok(
          finishedJob(p.jobId, call, {
            kind: 'rotate',
            status: 'failed',
            steps: [
              { step: 'add-key:acme/trainer', status: 'undone', message: 'Added the access key to acme/trainer' },
              { step: 'add-key:acme/datasets', status: 'failed', message: 'Adding the access key to acme/datasets' },
            ],
            error:
              'Bitbucket refused the access key for acme/datasets (403 Forbidden): the stored API token lacks write:ssh-key:bitbucket.\n' +
              'Start it again to clean up.',
            result: {
              accessKeys: [
                { repository: 'acme/trainer', id: 30, status: 'deleted' },
                { repository: 'acme/datasets', id: 31, status: 'added' },
              ],
              leftovers: [rotateLeftover],
            },
          }),
        ),
    },
  },
  'repo-error': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        fail({
          code: 'valohai-error',
          message: 'Valohai did not answer (503 Service Unavailable).',
          fix: 'Check https://status.valohai.com and try again in a few minutes.',
          temporary: true,
        }),
    },
  },
};
