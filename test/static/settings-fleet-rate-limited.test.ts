// The workspace page's fleet (repositories, bulk actions, the audit) while the stored token's hour is
// spent, in a real browser: the page renders what the app stored (the last audit, the bulk rotate that
// waits for the hour) with every repository named by name, says once whose token it is and when live
// work resumes, and the token form still reaches its resolver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchView, FleetAuditView, Reply, WorkspaceSettings } from '../../src/forge/contract';
import { auditKeys, auditUnreadable, fleetRepositories, fleetSettings, lifetime, type Scenario } from './fixtures';
import { checkState, open, showTab, usePages } from './page-suite';

const RESUMES = '2026-12-07T14:05:00.000Z';
const UUID = /\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?/i;
const ok = <T>(value: T): Reply<T> => ({ ok: true, value });

const settings: WorkspaceSettings = {
  ...fleetSettings,
  bitbucket: { ...fleetSettings.bitbucket, missingScopes: [], hour: { spent: 1000, unattended: 600, limit: 1000, resumesAt: RESUMES } },
};

/** The last audit, finished before the hour ran out: what the app stored. */
function storedAudit(page: number, pageSize: number): FleetAuditView {
  return {
    id: 'audit-7',
    status: 'done',
    startedAt: '2026-12-07T12:40:00.000Z',
    finishedAt: '2026-12-07T12:52:00.000Z',
    progress: 'Done: 57 of 57 repositories read, 30 access keys found; 1 could not be read.',
    repositoriesRead: 57,
    repositoriesTotal: 57,
    keysFound: auditKeys.length,
    unreadable: auditUnreadable,
    requests: { token: 57, app: 2 },
    unusedDays: 90,
    resumesAt: null,
    findings: { weak: 8, unused: 10, shared: 2, lookalike: 1 },
    keys: auditKeys.slice((page - 1) * pageSize, page * pageSize),
    page,
    pageSize,
    matchingKeys: auditKeys.length,
  };
}

/** The bulk rotate that spent the hour, waiting for it to roll. */
const rotating = fleetRepositories.filter((r) => r.state === 'connected').slice(0, 6).map((r) => r.fullName);
function waitingBatch(pageSize: number): BatchView {
  const items = rotating.map((repository, i) => ({ repository, status: i < 4 ? ('done' as const) : ('queued' as const), jobId: null, ...(i < 4 ? { requests: 8 } : {}) }));
  return {
    id: 'batch-3',
    action: 'rotate',
    status: 'waiting',
    startedAt: '2026-12-07T13:00:00.000Z',
    finishedAt: null,
    progress: "4 of 6 done; resumes at about 14:05 UTC when the stored token's hour has room.",
    counts: { queued: 2, running: 0, done: 4, failed: 0, skipped: 0 },
    total: 6,
    failed: [],
    resumesAt: RESUMES,
    requests: { token: 32 },
    items: items.slice(0, pageSize),
    page: 1,
    pageSize,
    matchingItems: items.length,
  };
}

const scenario: Scenario = {
  module: 'workspace',
  replies: {
    getWorkspaceSettings: () => ok(settings),
    getAudit: (p) => ok({ audit: storedAudit(p.page ?? 1, p.pageSize ?? 50) }),
    getBatch: (p) => ok({ batch: waitingBatch(p.pageSize ?? 50) }),
    saveBitbucketToken: (p) => ok({ configured: true, email: p.email, accountName: 'Grace Hopper', missingScopes: [], lifetime: lifetime(new Date().toISOString(), null) }),
  },
};

const pages = usePages({ 'fleet-hour-spent': scenario });

test("the fleet with the token's hour spent: what the app stored, by name, one notice, and a token form that works", async () => {
  const page = await open('fleet-hour-spent', { ready: 'audit-keys--table', tab: 'audit' });

  // One notice on the whole page (every tab's sections stay in it), with whose token it is and when live work resumes.
  const spent = page.getByTestId('token-hour-spent');
  assert.equal(await spent.count(), 1);
  assert.match((await spent.textContent()) ?? '', /Ada Lovelace[\s\S]*about 14:05 UTC/);
  assert.equal(await page.getByTestId('token-hour-waiting').count(), 0, 'not a second notice for the same wait');

  // The last audit, its keys and the repository it could not read, named by name.
  assert.match(await page.getByTestId('audit-progress').innerText(), /^Done: 57 of 57 repositories read/);
  const keys = await page.getByTestId('audit-keys--table').innerText();
  assert.match(keys, /acme\/fleet-001/);
  assert.match(await page.getByTestId('audit-unreadable').innerText(), /acme\/fleet-013/);
  await checkState(page, 'fleet-hour-spent-audit');
  // The bulk rotate that waits, its repositories by name.
  await showTab(page, 'repositories');
  await page.getByTestId('batch-items--table').waitFor();
  assert.match(await page.getByTestId('batch-progress-text').innerText(), /resumes at about 14:05 UTC/);
  const items = await page.getByTestId('batch-items--table').innerText();
  for (const name of rotating) assert.match(items, new RegExp(name));
  const shown = (await page.locator('body').textContent()) ?? '';
  assert.doesNotMatch(shown, UUID, 'no repository is named by its uuid, on any tab');

  await checkState(page, 'fleet-hour-spent');

  // The token form: a token of another account is typed and sent, and the resolver answers.
  await showTab(page, 'setup');
  assert.match(await spent.innerText(), /Ada Lovelace[\s\S]*about 14:05 UTC/);
  await page.getByTestId('bitbucket-replace').click();
  await page.getByTestId('bitbucket-email').fill('grace@acme.example');
  await page.getByTestId('bitbucket-token').fill('ATATT-grace');
  await page.getByTestId('bitbucket-token').press('Enter');
  await page.getByTestId('bitbucket-saved').waitFor();
  const saves = pages.server.invocations.filter((i) => i.scenario === 'fleet-hour-spent' && i.functionKey === 'saveBitbucketToken');
  assert.deepEqual(saves.map((i) => (i.payload as { email: string }).email), ['grace@acme.example']);
  assert.deepEqual(pages.server.refused, [], 'every payload the page sent passed the contract validators');
  await page.close();
});
