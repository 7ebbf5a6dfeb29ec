// Manual mode (no Bitbucket API token stored) follows connect's "on what" rule: every repository the key
// would go on is authorised for the person acting before the private key goes anywhere. Mallory
// administers only acme/mallory-tools, whose .gitmodules names acme/crown-jewels and ada-private/payroll;
// her manual connect must neither give her Valohai project the key nor list those repositories as
// to-dos for an admin to follow.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { keys } from '../../src/forge/store/keys';
import { trustCredentials as t, trustSeed } from '../../dev/seed/index';
import { PROJECTS, TOOLS, errorOf, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type Who, uuidOf } from './support/forge-fixture';

const MINE = `acme/${t.malloryRepo}`;
const JEWELS = `acme/${t.crownJewels}`;
const PAYROLL = `${t.otherWorkspace}/${t.payroll}`;

let h: Harness;

before(async () => {
  h = await startHarness({
    seed: trustSeed,
    valohaiSeed: valohaiSeedWithTools,
  });
  // A Valohai token and no Bitbucket API token: the pages offer the manual mode.
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveTrustSettings', { connectors: 'repository-admins', otherWorkspaces: [] }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

const as = (who: Who, fullName: string) => ({ ...h.context(who), repositoryUuid: uuidOf(h, fullName) });
const choices = (projectId: string, submodules = true): StartConnectPayload => ({ projectId, ref: 'main', keyType: 'ed25519', submodules });

async function finished(who: Who, fullName: string, jobId: string): Promise<JobView> {
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, as(who, fullName)));
}

function connectionRecord(fullName: string): Promise<unknown> {
  return h.platform.store.get(keys.connection(h.workspaceId, uuidOf(h, fullName)));
}

describe('manual connect: the "on what" rule', () => {
  test('Mallory connecting her repository with submodules by hand is refused, naming each repository and the way out; nothing is given; her repository alone works', async () => {
    const valohaiBefore = h.stack.valohai.requests.length;
    const keysBefore = h.privateKeys.length;
    const enqueuedBefore = h.platform.enqueued.length;
    const error = errorOf(await h.call('startManualConnect', choices(TOOLS.id), as('mallory', MINE)));
    assert.equal(error.code, 'not-admin');
    assert.match(error.message, /Nothing was changed/);
    assert.match(error.message, new RegExp(`${JEWELS} \\(submodule vendor/jewels\\): you do not administer it`));
    assert.match(error.message, new RegExp(`${PAYROLL} \\(submodule vendor/payroll\\): in workspace ${t.otherWorkspace}, not this one`));
    assert.doesNotMatch(error.message, new RegExp(`${MINE}\\b`), 'her own repository is not refused');
    assert.match(error.fix, /Ask the admin of each repository named/);
    assert.match(error.fix, /connect this repository only \(without submodules/);

    // No job, no key made, Valohai untouched, no connection (so no page listing to-dos).
    assert.equal(h.platform.enqueued.length, enqueuedBefore, 'no job was queued');
    assert.equal(h.privateKeys.length, keysBefore, 'no key was generated');
    assert.equal(h.stack.valohai.state.hasKey(TOOLS.repositoryId), false, 'Valohai got no private key');
    assert.deepEqual(h.stack.valohai.state.repository(TOOLS.repositoryId)?.url, '', "the project's repository settings are unchanged");
    assert.ok(!h.stack.valohai.requests.slice(valohaiBefore).some((r) => r.method !== 'GET'), 'no Valohai setting was written');
    assert.equal(await connectionRecord(MINE), undefined);
    const page = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    assert.equal(page.state, 'ready');
    assert.equal(page.manual, undefined);
    assert.ok(!JSON.stringify(page).includes(t.crownJewels), 'the page lists no repository she may not give the key to');

    // The way out works: her repository only, by hand, and the page lists it alone.
    const { jobId } = valueOf(await h.call('startManualConnect', choices(TOOLS.id, false), as('mallory', MINE)));
    const job = await finished('mallory', MINE, jobId);
    assert.equal(job.status, 'done', job.result?.error ?? job.error);
    assert.equal(h.stack.valohai.state.hasKey(TOOLS.repositoryId), true);
    const manual = valueOf(await h.call('getRepositoryPage', {}, as('mallory', MINE)));
    assert.equal(manual.state, 'manual');
    assert.deepEqual(
      manual.manual?.targets.map((x) => `${x.workspace}/${x.slug}`),
      [MINE],
    );
    assert.ok(!JSON.stringify(manual).includes(t.crownJewels));
  });

  test('a .gitmodules changed between the click and the job: the new repository is refused before any key is made', async () => {
    const REPO = 'acme/training-lib';
    const state = h.stack.bitbucket.state;
    h.platform.holdQueue();
    const { jobId } = valueOf(await h.call('startManualConnect', choices(PROJECTS.training.id), as('admin', REPO)));

    // Someone with write access vendors the crown jewels before the job runs.
    const git = (ws: string, slug: string, ...args: string[]) =>
      execFileSync('git', ['--git-dir', state.findRepo(ws, slug)?.path ?? '', ...args], { encoding: 'utf8' });
    const gitmodules = git('acme', 'training-lib', 'show', 'main:.gitmodules');
    await state.pushCommit('acme', 'training-lib', {
      branch: 'main',
      message: 'Vendor the jewels',
      files: { '.gitmodules': `${gitmodules}[submodule "vendor/jewels"]\n\tpath = vendor/jewels\n\turl = ../${t.crownJewels}.git\n` },
      gitlinks: { 'vendor/jewels': git('acme', t.crownJewels, 'rev-parse', 'main').trim() },
    });

    const keysBefore = h.privateKeys.length;
    const valohaiBefore = h.stack.valohai.requests.length;
    h.platform.releaseQueue();
    const job = await finished('admin', REPO, jobId);
    assert.equal(job.status, 'failed');
    const error = job.result?.error ?? job.error ?? '';
    assert.match(error, /Nothing was changed/);
    assert.match(error, new RegExp(`${JEWELS} \\(submodule vendor/jewels\\): it was not among the repositories checked`));
    assert.match(error, /connect this repository only \(without submodules/);
    assert.doesNotMatch(error, /feature-store/, 'the repositories checked at the click pass');
    assert.deepEqual(job.steps.map((s) => s.step), ['read-repository'], 'it stopped at the reading, before the key');
    assert.equal(h.privateKeys.length, keysBefore, 'no key was generated');
    assert.equal(h.stack.valohai.state.hasKey(PROJECTS.training.repositoryId), false, 'Valohai got no private key');
    assert.ok(!h.stack.valohai.requests.slice(valohaiBefore).some((r) => r.method !== 'GET'), 'no Valohai setting was written');
    assert.equal(await connectionRecord(REPO), undefined);
  });
});
