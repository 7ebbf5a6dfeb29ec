// Resolver replies for the page tests, typed by the contract so that a contract change breaks them
// at compile time. Each scenario is one situation a user can meet; a reply may depend on the payload
// and on how often that resolver was called (to play a job forward poll by poll).
import type {
  BatchItemView,
  BatchPlan,
  BatchView,
  ConnectionStatus,
  FleetAuditKey,
  FleetAuditView,
  HealthView,
  KeyNotice,
  TokenLifetime,
  JobView,
  PayloadOf,
  Reply,
  RepositoryInfo,
  RepositoryPage,
  ResolverError,
  ResolverName,
  ValueOf,
  WorkspaceRepository,
  WorkspaceSettings,
} from '../../src/forge/contract';
import { DEFAULT_HEALTH_POLICY, daysUntil } from '../../src/forge/contract';
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

export const setup = { valohai: true, bitbucket: true, workspaceSettingsUrl: 'https://bitbucket.org/acme/workspace/settings/forge/valohai' };

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
    { fullName: 'acme/trainer', name: 'trainer', state: 'connected', projectName: 'trainer', keyAgeDays: 12, settingsUrl: null, health: 'healthy', lastVerifiedAt: '2025-07-28T10:16:00Z' },
    { fullName: 'acme/datasets', name: 'datasets', state: 'not-connected', projectName: null, keyAgeDays: null, settingsUrl: null, health: null, lastVerifiedAt: null },
    { fullName: 'acme/features', name: 'features', state: 'manual', projectName: 'features', keyAgeDays: 0, settingsUrl: null, health: null, lastVerifiedAt: null },
  ],
  repositoriesTruncated: false,
  repositoriesListedAt: '2025-07-28T10:20:00Z',
  repositoriesProblem: null,
  trust: { connectors: 'workspace-admins', otherWorkspaces: [], projectOwners: [] },
  policy: DEFAULT_HEALTH_POLICY,
  automation: { lastRunAt: null, nextRunAt: null, lastRunChecked: 0, lastRunDeferred: 0, rotationsToday: 0 },
  keyNotices: [],
  valohaiOwners: [],
};

export const connection: ConnectionStatus = {
  project: { id: '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10', name: 'trainer', url: 'https://app.valohai.com/p/acme/trainer/' },
  ref: 'main',
  keyType: 'rsa',
  keySource: 'app',
  fingerprint: 'SHA256:Yb0mJ9m2T5cGxq0f1oQwQ7cE4n0c3Zp9xg1m2o3p4q8',
  createdAt: '2025-01-10T09:00:00Z',
  keyAgeDays: 200,
  accessKeys: [
    { repository: 'acme/trainer', state: 'present', id: 11, lastUsed: '2025-07-28T10:15:00Z', accessKeysUrl: repository.accessKeysUrl },
    { repository: 'acme/datasets', state: 'present', id: 12, lastUsed: null, accessKeysUrl: 'https://bitbucket.org/acme/datasets/admin/access-keys/' },
  ],
  valohaiCommit: { identifier: '4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39', fetchedAt: '2025-07-28T10:14:00Z' },
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

export const readyPage: RepositoryPage = {
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

export const connectedPage: RepositoryPage = { state: 'connected', repository, canAdminister: true, setup, connection };

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

// Health states are told relative to now ("2 hours ago", "in 206 days"), so their times are too.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();
/** `YYYY-MM-DD`, `days` from today (UTC, as the contract counts). */
export const dateIn = (days: number): string => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);

export function lifetime(savedAt: string, expiresOn: string | null): TokenLifetime {
  const days = expiresOn ? daysUntil(expiresOn, new Date()) : null;
  return { savedAt, expiresOn, expiresInDays: days, level: days === null ? 'ok' : days < 0 ? 'expired' : days <= 30 ? 'warning' : 'ok' };
}

/**
 * Thirty daily checks, oldest first, the last three hours ago; `verdictAt` gives some of them another
 * verdict, `latest` makes the last one the connection's latest check.
 */
function history(
  keyAgeNow: number,
  verdictAt: Record<number, HealthView['history'][number]['health']> = {},
  latest?: { at: string; trigger: HealthView['history'][number]['trigger'] },
): HealthView['history'] {
  return Array.from({ length: 30 }, (_, i) => {
    if (i === 29 && latest) return { ...latest, health: verdictAt[i] ?? ('healthy' as const), keyAgeDays: keyAgeNow };
    const daysBack = 29 - i;
    return {
      at: at(-(daysBack * DAY + 3 * HOUR)),
      trigger: i % 7 === 3 ? ('push' as const) : ('schedule' as const),
      health: verdictAt[i] ?? ('healthy' as const),
      keyAgeDays: keyAgeNow - daysBack,
    };
  });
}

const unneededNotice: KeyNotice = {
  kind: 'unneeded',
  repository: 'acme/old-features',
  keyId: 41,
  label: 'valohai:acme/trainer:5b7c0c4e',
  fingerprint: 'SHA256:0ldF3atur3sK3yN0L0ng3rN33d3dBy4nyC0nn3ct10n',
  ageDays: 200,
  lastUsed: at(-40 * DAY),
  connection: 'acme/trainer',
  removable: true,
  seenAt: at(-3 * HOUR),
};

const unusedNotice: KeyNotice = {
  kind: 'unused',
  repository: 'acme/datasets',
  keyId: 12,
  label: 'valohai:acme/trainer:5b7c0c4e',
  fingerprint: connection.fingerprint,
  ageDays: 200,
  lastUsed: at(-120 * DAY),
  connection: 'acme/trainer',
  removable: false,
  seenAt: at(-3 * HOUR),
};

const strayNotice: KeyNotice = {
  kind: 'stray',
  repository: 'acme/datasets',
  keyId: 77,
  label: 'valohai:acme/datasets:9f1e2d3c',
  fingerprint: 'SHA256:Str4yK3yL4b3ll3dL1k3Th34pp5ButR3c0rd3dByN0n3',
  ageDays: 400,
  lastUsed: null,
  connection: null,
  removable: false,
  seenAt: at(-3 * HOUR),
};

const healthyConnection: ConnectionStatus = {
  ...connection,
  keyAgeDays: 40,
  health: {
    latest: { at: at(-3 * HOUR), trigger: 'schedule', health: 'healthy', keyAgeDays: 40, head: connection.bitbucketHead, headSeen: true, findings: [], changes: [] },
    history: history(40, { 9: 'degraded', 10: 'degraded' }),
    nextCheckAt: at(21 * HOUR),
    needsAdmin: [],
    recentChanges: [],
    keyNotices: [],
    autoRotateDueAt: null,
  },
};

const degradedConnection: ConnectionStatus = {
  ...connection,
  keyAgeDays: 200,
  health: {
    latest: {
      at: at(-3 * HOUR),
      trigger: 'push',
      health: 'degraded',
      keyAgeDays: 200,
      head: connection.bitbucketHead,
      headSeen: true,
      findings: [
        { severity: 'degraded', code: 'unused-key', repository: 'acme/datasets', message: 'The key was not used on acme/datasets for 120 days.' },
        {
          severity: 'degraded',
          code: 'key-age-warning',
          message: 'The access key is 200 days old.',
          fix: 'Rotate it: a new key replaces the old one on every repository and on Valohai.',
        },
      ],
      changes: [],
    },
    history: history(200, { 29: 'degraded', 28: 'degraded', 27: 'degraded' }, { at: at(-3 * HOUR), trigger: 'push' }),
    nextCheckAt: at(21 * HOUR),
    needsAdmin: [],
    recentChanges: [],
    keyNotices: [unusedNotice],
    autoRotateDueAt: at(3 * DAY),
  },
};

const brokenConnection: ConnectionStatus = {
  ...connection,
  keyAgeDays: 30,
  accessKeys: [
    connection.accessKeys[0] as ConnectionStatus['accessKeys'][number],
    { repository: 'acme/datasets', state: 'present', id: 52, lastUsed: null, accessKeysUrl: 'https://bitbucket.org/acme/datasets/admin/access-keys/' },
    { repository: 'research/vendor-data', state: 'missing', id: null, lastUsed: null, accessKeysUrl: 'https://bitbucket.org/research/vendor-data/admin/access-keys/' },
  ],
  health: {
    latest: {
      at: at(-2 * HOUR),
      trigger: 'push',
      health: 'broken',
      keyAgeDays: 30,
      head: connection.bitbucketHead,
      headSeen: false,
      findings: [
        { severity: 'broken', code: 'key-missing', repository: 'acme/datasets', message: 'The key had been removed from acme/datasets.' },
        {
          severity: 'broken',
          code: 'needs-admin',
          repository: 'research/vendor-data',
          message: 'The key is not on research/vendor-data, a submodule added in .gitmodules.',
          fix: 'An admin of research/vendor-data adds the key, or connects this repository again.',
        },
        {
          severity: 'broken',
          code: 'fetch-failed',
          message: 'Valohai could not fetch: Permission denied (publickey) for research/vendor-data.',
          fix: 'Once research/vendor-data has the key, press Verify now.',
        },
      ],
      changes: [{ kind: 'key-restored', repository: 'acme/datasets', at: at(-2 * HOUR) }],
    },
    history: history(30, { 29: 'broken', 20: 'degraded' }, { at: at(-2 * HOUR), trigger: 'push' }),
    nextCheckAt: at(22 * HOUR),
    needsAdmin: [{ repository: 'research/vendor-data', reason: 'the connection\u2019s account (Ada Lovelace) is not an admin of it' }],
    recentChanges: [{ kind: 'key-restored', repository: 'acme/datasets', at: at(-2 * HOUR) }],
    keyNotices: [unneededNotice, strayNotice],
    autoRotateDueAt: null,
  },
};

const refusedToken = {
  reason: 'Bitbucket refused the stored API token (401): it was revoked or has expired.',
  fix: 'A workspace admin makes a new Atlassian API token at https://id.atlassian.com/manage-profile/security/api-tokens and saves it on Workspace settings \u203a Valohai.',
};

const pausedConnection: ConnectionStatus = {
  ...connection,
  keyAgeDays: 40,
  health: {
    latest: {
      at: at(-3 * HOUR),
      trigger: 'schedule',
      health: 'paused',
      keyAgeDays: 40,
      head: null,
      headSeen: null,
      findings: [{ severity: 'broken', code: 'token-refused', message: refusedToken.reason, fix: refusedToken.fix }],
      changes: [],
    },
    history: history(40, { 28: 'paused', 29: 'paused' }),
    nextCheckAt: null,
    paused: refusedToken,
    needsAdmin: [],
    recentChanges: [],
    keyNotices: [],
    autoRotateDueAt: null,
  },
};

const expiringTokenNotice = {
  message: `The Bitbucket API token expires on ${dateIn(12)}, in 12 days.`,
  fix: 'A workspace admin makes a new Atlassian API token at https://id.atlassian.com/manage-profile/security/api-tokens and saves it on Workspace settings \u203a Valohai.',
};

export const healthWorkspaceSettings: WorkspaceSettings = {
  ...workspaceSettings,
  valohai: { ...workspaceSettings.valohai, lifetime: lifetime(at(-3 * DAY), dateIn(206)) },
  bitbucket: { ...workspaceSettings.bitbucket, missingScopes: [], lifetime: lifetime(at(-340 * DAY), dateIn(12)) },
  repositories: [
    { ...(workspaceSettings.repositories[0] as WorkspaceSettings['repositories'][number]), health: 'broken' },
    { fullName: 'acme/evaluator', name: 'evaluator', state: 'connected', projectName: 'evaluator', keyAgeDays: 200, settingsUrl: null, health: 'degraded', lastVerifiedAt: null },
    { fullName: 'acme/reports', name: 'reports', state: 'connected', projectName: 'reports', keyAgeDays: 3, settingsUrl: null, health: 'healthy', lastVerifiedAt: null },
    ...workspaceSettings.repositories.slice(1),
  ],
  policy: { drift: 'repair', unneededKeys: 'offer', autoRotate: { enabled: true, everyDays: 180, perDay: 5 }, unusedDays: 90 },
  automation: { lastRunAt: at(-5 * HOUR), nextRunAt: at(19 * HOUR), lastRunChecked: 12, lastRunDeferred: 3, rotationsToday: 1 },
  keyNotices: [unneededNotice, unusedNotice, strayNotice],
};


// ---------------------------------------------------------------------------------------------
// The fleet: a workspace of sixty repositories, an access-key audit and a bulk rotate played poll by poll
// ---------------------------------------------------------------------------------------------

const TEAMS = ['vision', 'speech', 'forecast'] as const;

/** `acme/fleet-001` … `acme/fleet-057`: every third not connected, the rest of mixed health and key age. */
export const fleetRepositories: WorkspaceRepository[] = Array.from({ length: 57 }, (_, n) => {
  const i = n + 1;
  const slug = `fleet-${String(i).padStart(3, '0')}`;
  const connected = i % 3 !== 0;
  return {
    fullName: `acme/${slug}`,
    name: slug,
    state: connected ? 'connected' : 'not-connected',
    projectName: connected ? `${TEAMS[i % 3]}-${slug}` : null,
    keyAgeDays: connected ? (i * 37) % 420 : null,
    settingsUrl: `https://bitbucket.org/acme/${slug}/admin/addon/admin/valohai-bitbucket/valohai-repo-settings`,
    health: connected ? (i % 5 === 1 ? 'degraded' : i % 7 === 2 ? 'broken' : i % 11 === 3 ? 'paused' : 'healthy') : null,
    lastVerifiedAt: connected ? at(-(i % 9) * HOUR - 5 * 60_000) : null,
  };
});

export const fleetSettings: WorkspaceSettings = {
  ...healthWorkspaceSettings,
  repositories: [...workspaceSettings.repositories, ...fleetRepositories],
  keyNotices: [],
  valohaiOwners: ['acme', 'acme:ml-team'],
};

const auditBase = {
  id: 'audit-1',
  startedAt: at(-4 * 60_000),
  repositoriesTotal: 500,
  unreadable: [],
  requests: { token: 212, app: 9 },
  unusedDays: 90,
  page: 1,
  pageSize: 0,
  matchingKeys: 0,
  keys: [],
} satisfies Partial<FleetAuditView>;

/** Thirty keys over the first repositories: some weak, one shared, one labelled like the app's. */
export const auditKeys: FleetAuditKey[] = Array.from({ length: 30 }, (_, n): FleetAuditKey => {
  const repo = fleetRepositories[n % 20] as WorkspaceRepository;
  const weak = n % 4 === 1;
  const shared = n === 7 || n === 8;
  const ours = repo.state === 'connected' && n % 4 === 0;
  return {
    repository: repo.fullName,
    id: 100 + n,
    label: ours ? `Valohai ${repo.projectName} [vh:${String(n).padStart(12, 'a')}]` : n === 10 ? 'Valohai old-trainer [vh:0123456789ab]' : `deploy ${n}`,
    type: weak ? 'ssh-rsa' : 'ssh-ed25519',
    bits: weak ? 2048 : 256,
    fingerprint: `SHA256:${'k'.repeat(10)}${String(n).padStart(3, '0')}F1ng3rpr1ntOfTh1sK3y0nBitbucket`,
    createdOn: at(-(n * 17) * DAY),
    ageDays: n * 17,
    lastUsed: n % 3 === 0 ? at(-(n + 1) * DAY) : null,
    connection: ours ? { repository: repo.fullName, projectId: '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10', projectName: repo.projectName ?? '', current: true, keySource: n === 2 ? 'valohai' : 'app' } : null,
    findings: [
      ...((n * 17 >= 90 && n % 3 !== 0) ? (['unused'] as const) : []),
      ...(weak ? (['weak'] as const) : []),
      ...(shared ? (['shared'] as const) : []),
      ...(n === 10 ? (['lookalike'] as const) : []),
    ],
  };
});

function countAuditFindings(keys: FleetAuditKey[]): Record<string, number> {
  const counts: Record<string, number> = { unused: 0, weak: 0, shared: 0, lookalike: 0 };
  for (const k of keys) for (const f of k.findings) counts[f] = (counts[f] ?? 0) + 1;
  return counts;
}

export const auditUnreadable = [{ repository: 'acme/fleet-013', error: 'Bitbucket refused to list its access keys (403): the token\u2019s account is not an admin of it.' }];
export const auditCsv = `repository,label,fingerprint\n${auditKeys.map((k) => `${k.repository},${k.label},${k.fingerprint}`).join('\n')}\n`;

/** The audit as polls see it: none, started, read in part, waiting for the budget, then done. */
function auditAt(poll: number, payload: PayloadOf<'getAudit'>): FleetAuditView | null {
  if (poll <= 1 && !payload.pageSize) return null;
  if (poll === 2 && !payload.pageSize) {
    return { ...auditBase, status: 'running', finishedAt: null, progress: '212 of 500 repositories read, 31 access keys found\u2026', repositoriesRead: 212, keysFound: 31, resumesAt: null, findings: {} };
  }
  if (poll === 3 && !payload.pageSize) {
    return {
      ...auditBase,
      status: 'waiting',
      finishedAt: null,
      progress: "300 of 500 repositories read, 30 access keys found; resumes at about 14:05 UTC when the stored token's hour has room.",
      repositoriesRead: 300,
      keysFound: 30,
      resumesAt: at(20 * 60_000),
      findings: {},
    };
  }
  const pageSize = payload.pageSize ?? 50;
  const page = payload.page ?? 1;
  const chosen = auditKeys.filter((k) => (payload.finding ? k.findings.includes(payload.finding) : true));
  return {
    ...auditBase,
    status: 'done',
    finishedAt: at(-60_000),
    progress: 'Done: 500 of 500 repositories read, 30 access keys found; 1 could not be read.',
    repositoriesRead: 500,
    keysFound: 30,
    unreadable: auditUnreadable,
    resumesAt: null,
    findings: countAuditFindings(auditKeys),
    keys: chosen.slice((page - 1) * pageSize, page * pageSize),
    page,
    pageSize,
    matchingKeys: chosen.length,
  };
}

export const batchFailure =
  'Bitbucket refused the access key for acme/fleet-002 (403 Forbidden): the stored API token lacks write:ssh-key:bitbucket. Make a token with it at https://id.atlassian.com/manage-profile/security/api-tokens, then rotate again.';

export function fleetPlan(payload: PayloadOf<'planBatch'>): BatchPlan {
  const named = payload.repositories ?? [];
  const byName = new Map(fleetSettings.repositories.map((r) => [r.fullName, r]));
  if (payload.action === 'connect') {
    // The first names two submodule repositories; the plan could not read the second's .gitmodules.
    const [first, second] = named.filter((n) => byName.get(n)?.state === 'not-connected');
    const act = [
      ...(first ? [{ repository: first, targets: 3, requests: 12, project: first.split('/')[1], repositories: [first, 'acme/datasets', 'acme/training-lib'] }] : []),
      ...(second ? [{ repository: second, targets: 1, requests: 4, project: second.split('/')[1], submodulesUnread: true }] : []),
    ];
    const total = act.reduce((n, a) => n + a.requests, 0);
    return {
      action: 'connect',
      keyType: payload.keyType ?? 'rsa',
      act,
      skip: [],
      requests: { total, perTarget: 4, source: 'at most 4 requests per repository the key goes on' },
      budget: { perHour: 600, leftThisHour: 540, refillsAt: null },
      extraHours: 0,
      duration: `${act.length} repositories, about ${total} stored-token requests: fits in this hour, as bulk actions may still make 540 of their 600 requests an hour with the stored token; 3 repositories at a time.`,
    };
  }
  const act = named.filter((n) => byName.get(n)?.state === 'connected');
  const skip = named.filter((n) => byName.get(n)?.state !== 'connected');
  return {
    action: payload.action,
    keyType: payload.action === 'rotate' ? (payload.keyType ?? null) : null,
    act: act.map((repository) => ({ repository, targets: 2, requests: 8 })),
    skip: skip.map((repository) => ({ repository, reason: 'not connected to Valohai' })),
    requests: { total: act.length * 8, perTarget: 4, source: 'four requests per repository the key is on: list, add, list again, remove' },
    budget: { perHour: 600, leftThisHour: 540, refillsAt: null },
    extraHours: 0,
    duration: `${act.length} repositories, about ${act.length * 8} stored-token requests: fits in what automatic work may still spend of the token's hour (540 of 600 left), 3 repositories at a time.`,
  };
}

/** A bulk rotate of acme/fleet-001 and acme/fleet-002 (acme/datasets skipped) as its polls see it; fleet-002 fails. */
function batchAt(phase: number, payload: PayloadOf<'getBatch'>): BatchView {
  const item = (repository: string, status: BatchItemView['status'], extra: Partial<BatchItemView> = {}): BatchItemView => ({ repository, status, jobId: null, ...extra });
  const stages: { items: BatchItemView[]; status: BatchView['status']; progress: string }[] = [
    {
      status: 'running',
      progress: '0 of 2 done, 2 running, 1 skipped\u2026',
      items: [item('acme/fleet-001', 'running'), item('acme/fleet-002', 'running'), item('acme/datasets', 'skipped', { reason: 'not connected to Valohai' })],
    },
    {
      status: 'running',
      progress: '1 of 2 done, 1 running, 1 skipped\u2026',
      items: [item('acme/fleet-001', 'done', { requests: 8 }), item('acme/fleet-002', 'running'), item('acme/datasets', 'skipped', { reason: 'not connected to Valohai' })],
    },
    {
      status: 'done',
      progress: 'Done (1 of 2), 1 failed, 1 skipped.',
      items: [
        item('acme/fleet-001', 'done', { requests: 8 }),
        item('acme/fleet-002', 'failed', { error: batchFailure, requests: 3 }),
        item('acme/datasets', 'skipped', { reason: 'not connected to Valohai' }),
      ],
    },
  ];
  const stage = stages[Math.min(Math.max(phase, 1), stages.length) - 1] as (typeof stages)[number];
  const counts = { queued: 0, running: 0, done: 0, failed: 0, skipped: 0 };
  for (const i of stage.items) counts[i.status] += 1;
  const pageSize = payload.pageSize ?? 50;
  return {
    id: 'batch-1',
    action: 'rotate',
    status: stage.status,
    startedAt: at(-30_000),
    finishedAt: stage.status === 'done' ? at(0) : null,
    progress: stage.progress,
    counts,
    total: 3,
    failed: stage.items.filter((i) => i.status === 'failed').map((i) => ({ repository: i.repository, error: i.error ?? '' })),
    resumesAt: null,
    requests: { token: counts.done * 8 },
    items: stage.items.slice(0, pageSize),
    page: payload.page ?? 1,
    pageSize,
    matchingItems: stage.items.length,
  };
}

const noFleetWork = {
  getAudit: () => ok({ audit: null }),
  getBatch: () => ok({ batch: null }),
} satisfies Scenario['replies'];

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
          : ok({ configured: true, host: p.host ?? 'https://app.valohai.com', username: 'grace', lifetime: lifetime(at(0), p.expiresOn ?? null) }),
      saveBitbucketToken: (p) =>
        p.token === 'ATATT-fewer-scopes' && !p.confirmWorse
          ? fail({
              code: 'worse-token',
              message:
                'The stored Bitbucket API token was kept: the new one does less. It lacks write:ssh-key:bitbucket, which the stored token has: adding access keys, so Connect and Rotate fail would stop working.',
              fix: 'Save a token with every scope the stored one has, of a workspace admin, or choose Replace anyway to store this one instead.',
            })
          : ok({
              configured: true,
              email: p.email,
              accountName: 'Grace Hopper',
              missingScopes: p.token === 'ATATT-fewer-scopes' ? ['write:ssh-key:bitbucket'] : [],
              lifetime: lifetime(at(0), p.expiresOn ?? null),
            }),
      clearCredentials: () => ok(workspaceSettings),
      ...noFleetWork,
    },
  },
  // The repository list could not be read again (the app's own rate limit): the kept one, its time and why; Refresh list reads it.
  'workspace-list-kept': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: (p) =>
        ok(
          p.refreshRepositories
            ? { ...workspaceSettings, repositoriesListedAt: at(0), repositoriesProblem: null }
            : {
                ...workspaceSettings,
                repositoriesListedAt: at(-14 * 60_000),
                repositoriesProblem: {
                  code: 'rate-limited',
                  message:
                    "Bitbucket's rate limit was reached while listing the workspace's repositories (429) and did not clear while retrying. Bitbucket allows about 1,000 API calls per hour per user on repository endpoints, counted over a rolling hour.",
                  fix: 'Wait a few minutes, then try again.',
                  temporary: true,
                  at: at(-60_000),
                },
              },
        ),
      ...noFleetWork,
    },
  },
  'workspace-token-expired': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () =>
        ok({
          ...workspaceSettings,
          valohai: { ...workspaceSettings.valohai, lifetime: lifetime(at(-400 * DAY), dateIn(-3)) },
          bitbucket: { ...workspaceSettings.bitbucket, missingScopes: [], lifetime: lifetime(at(-400 * DAY), dateIn(-3)) },
        }),
      ...noFleetWork,
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
  'workspace-health': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () => ok(healthWorkspaceSettings),
      // The server's own word on a field: it is marked there, like a rule the page checks itself.
      saveHealthPolicy: (p) =>
        p.autoRotate.enabled && p.autoRotate.everyDays <= p.unusedDays
          ? fail({
              code: 'invalid-payload',
              field: 'autoRotate.everyDays',
              message: `The rotation interval must be longer than the unused-key age (${p.unusedDays} days), or every rotated key would be listed as unused first.`,
              fix: 'Correct it, then send it again.',
            })
          : ok(p),
      removeUnneededKey: (p) => ok({ repository: p.repository, keyId: p.keyId }),
      ...noFleetWork,
    },
  },
  'workspace-fleet': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () => ok(fleetSettings),
      getAudit: () => ok({ audit: null }),
      planBatch: (p) => ok(fleetPlan(p)),
      // The first start runs; a second one meets the batch another admin started meanwhile.
      startBatch: (p, call) =>
        call === 1
          ? ok({ ...batchAt(0, { pageSize: 0 }), action: p.action })
          : fail({
              code: 'job-running',
              message: 'A bulk verify is under way in this workspace: 3 of 40 done, 3 running\u2026',
              fix: 'Wait for it to finish, or cancel it; one bulk action runs at a time.',
              temporary: true,
            }),
      // Call 1 is the page opening (none yet); after the start every poll asks for progress, then the page of items.
      getBatch: (p, call) => ok({ batch: call === 1 ? null : batchAt(Math.floor(call / 2), p) }),
      cancelBatch: () => ok({ ...batchAt(1, { pageSize: 0 }), status: 'cancelling' }),
    },
  },
  'workspace-audit': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () => ok(fleetSettings),
      getBatch: () => ok({ batch: null }),
      startAudit: () =>
        ok({ ...auditBase, status: 'running', finishedAt: null, progress: '0 repositories read, 0 access keys found\u2026', repositoriesRead: 0, repositoriesTotal: null, keysFound: 0, resumesAt: null, findings: {} }),
      // Progress polls (pageSize 0) move it on; once done, pages of keys are read.
      getAudit: (p, call) => ok({ audit: auditAt(p.pageSize ? 4 : call, p) }),
      exportAudit: (p) =>
        ok(
          p.format === 'csv'
            ? { format: 'csv', filename: 'access-keys-acme-2025-07-28.csv', complete: true, text: auditCsv }
            : { format: 'json', filename: 'access-keys-acme-2025-07-28.json', complete: true, text: JSON.stringify({ keys: auditKeys }) },
        ),
    },
  },
  'workspace-member': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () =>
        ok({
          ...healthWorkspaceSettings,
          canAdminister: false,
          // As the backend answers a member (pages/workspace.ts memberSettings): no repositories, no keys.
          repositories: [],
          keyNotices: [],
          valohai: { ...healthWorkspaceSettings.valohai, lifetime: lifetime(at(-400 * DAY), dateIn(-4)) },
          automation: { ...healthWorkspaceSettings.automation, nextRunAt: null, paused: refusedToken },
        }),
    },
  },
  'repo-health-healthy': {
    module: 'repository',
    replies: { getRepositoryPage: () => ok({ ...connectedPage, connection: healthyConnection }) },
  },
  'repo-health-degraded': {
    module: 'repository',
    replies: { getRepositoryPage: () => ok({ ...connectedPage, connection: degradedConnection }) },
  },
  'repo-health-broken': {
    module: 'repository',
    replies: {
      getRepositoryPage: () => ok({ ...connectedPage, connection: brokenConnection }),
      removeUnneededKey: (p) => ok({ repository: p.repository, keyId: p.keyId }),
    },
  },
  'repo-health-paused': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        ok({ ...connectedPage, setup: { ...setup, tokenNotices: [{ message: refusedToken.reason, fix: refusedToken.fix }] }, connection: pausedConnection }),
    },
  },
  'repo-ready-token-expiring': {
    module: 'repository',
    replies: { getRepositoryPage: () => ok({ ...readyPage, setup: { ...setup, tokenNotices: [expiringTokenNotice] } }) },
  },
  'repo-manual-token-expiring': {
    module: 'repository',
    replies: {
      getRepositoryPage: async () => {
        const manual = await (scenarios['repo-manual']?.replies.getRepositoryPage as ReplyFn<'getRepositoryPage'>)({}, 1);
        return manual.ok ? ok({ ...manual.value, setup: { ...manual.value.setup, tokenNotices: [expiringTokenNotice] } }) : manual;
      },
    },
  },
  // The stored token's hour is spent (by the app's own count): the pages render what the app stored.
  'workspace-hour-spent': {
    module: 'workspace',
    replies: {
      getWorkspaceSettings: () =>
        ok({
          ...workspaceSettings,
          bitbucket: { ...workspaceSettings.bitbucket, hour: { spent: 1000, unattended: 600, limit: 1000, resumesAt: '2026-12-07T14:05:00.000Z' } },
        }),
      saveBitbucketToken: (p) => ok({ configured: true, email: p.email, accountName: 'Grace Hopper', missingScopes: [], lifetime: lifetime(at(0), null) }),
      ...noFleetWork,
    },
  },
  'repo-hour-spent': {
    module: 'repository',
    replies: {
      getRepositoryPage: () =>
        ok({
          ...connectedPage,
          setup: {
            ...setup,
            tokenNotices: [
              {
                message: "The stored Bitbucket API token (Ada Lovelace) has used its hour: 1000 of its 1000 requests, by the app's count.",
                fix: 'Actions that need the token can start again about 14:05 UTC. This page shows what the app stored, and the token forms work as usual.',
              },
            ],
          },
          connection: { ...connection, keysSeenAt: at(-1) },
        }),
    },
  },
  'repo-next-check-due': {
    module: 'repository',
    replies: {
      // The check's time has passed and no run has taken it up yet.
      getRepositoryPage: () =>
        ok({ ...connectedPage, connection: { ...healthyConnection, health: { ...healthyConnection.health, nextCheckAt: at(-2 * HOUR) } } }),
    },
  },
  'repo-connect-unverified': {
    module: 'repository',
    replies: {
      // A connect that put the keys in place and gave Valohai the key, but whose fetch Valohai could not do.
      getRepositoryPage: (_p, call) =>
        ok(call === 1 ? { state: 'running', repository, canAdminister: true, setup, activeJob: { jobId: 'job-connect-unverified-1', kind: 'connect' } } : connectedPage),
      getJob: (p, call) =>
        ok(
          finishedJob(p.jobId, call, {
            kind: 'connect',
            status: 'unverified',
            steps: [
              { step: 'read-repository', status: 'done', message: 'Read acme/trainer' },
              { step: 'valohai-fetch', status: 'failed', message: 'Valohai fetched the repository' },
            ],
            error: 'Valohai could not fetch acme/trainer: the submodule acme/datasets refused the key.\nAdd the key to acme/datasets, then Verify now.',
            result: { verified: false, outcome: 'unverified' },
          }),
        ),
    },
  },
  'repo-left-by-hand': {
    module: 'repository',
    replies: {
      // Disconnected without an API token: the keys to remove by hand, until the admin says they are gone.
      getRepositoryPage: (_p, call) =>
        ok({
          ...readyPage,
          ...(call === 1
            ? {
                leftByHand: {
                  at: '2025-07-28T10:00:09Z',
                  projectName: 'trainer',
                  label: manualLabel,
                  fingerprint: connection.fingerprint,
                  repositories: ['trainer', 'datasets'].map((slug) => ({ repository: `acme/${slug}`, accessKeysUrl: `https://bitbucket.org/acme/${slug}/admin/access-keys/` })),
                },
              }
            : {}),
        }),
      dismissLeftByHand: () => ok({ dismissed: true }),
    },
  },
};
