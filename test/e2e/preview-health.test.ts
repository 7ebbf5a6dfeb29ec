/**
 * Connections that look after themselves, as an admin meets them in the local preview: the hourly
 * check run from the preview bar, a key removed by hand put back by the next check, the timeline
 * growing one mark per check, the key aging past 180 days as the bar moves the clock on, and a
 * refused token pausing automatic work (said as paused with the fix, never as a broken connection).
 * The page is read in a real browser; the stand-ins' state is read beside it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLabelFor } from '../../src/connect/index';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { PEOPLE } from '../../dev/preview/people';
import { checkState, openApp, startE2e, text, until, type AppView, type E2e } from './preview-support';

const REPO = 'ml-models';

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
  const admin = { workspaceId: e2e.preview.stack.bitbucket.state.findWorkspace('acme')?.uuid ?? '', accountId: PEOPLE.admin.accountId };
  const r = e2e.preview.backend.resolvers;
  // The token forms have their own browser tests; here they are only the way in.
  assert.equal((await r.saveValohaiToken({ token: vh.admin.token }, admin)).ok, true);
  assert.equal((await r.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, admin)).ok, true);
  const repo = e2e.preview.stack.bitbucket.state.findRepo('acme', REPO);
  assert.ok(repo);
  const started = await r.startConnect({ projectId: vh.project.id, ref: 'main', keyType: 'ed25519', submodules: true }, { ...admin, repositoryUuid: repo.uuid });
  assert.equal(started.ok, true, JSON.stringify(started));
  await e2e.preview.platform.idle();
});

after(async () => {
  await e2e?.close();
});

function connectionKeys(slug: string) {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, `no repository acme/${slug}`);
  return state.listAccessKeys(repo).filter((k) => isLabelFor(k.label, vh.project.id));
}

/** The bar's "Run the hourly check": the app's frame reloads with what the check found. */
async function runHourlyCheck(view: AppView, expect: RegExp): Promise<void> {
  await view.page.getByTestId('run-schedule').click();
  await until(view.page.getByTestId('push-status'), expect);
  await view.app.getByTestId('health-card').waitFor();
}

/** The bar's clock control: the host page reloads, its bar saying how far ahead the clock runs. */
async function moveClockOn(view: AppView, days: '1' | '30' | '181' | '365'): Promise<void> {
  await Promise.all([view.page.waitForURL(/notice=/), view.page.getByTestId('clock-days').selectOption(days)]);
  await until(view.page.getByTestId('host-notice'), /days ahead/);
  await view.app.getByTestId('health-card').waitFor();
}

const marks = (view: AppView) => view.app.getByTestId('health-timeline-mark').count();

describe('a connection that looks after itself, in the preview', () => {
  test('the first hourly check finds it healthy and starts the timeline', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    assert.match(await text(view.app.getByTestId('connection-verdict-label')), /not checked yet/i);
    await runHourlyCheck(view, /checked acme\/ml-models/);
    await until(view.app.getByTestId('connection-verdict-label'), /^Healthy$/i, 10_000);
    assert.match(await text(view.app.getByTestId('health-when')), /Last checked just now by a scheduled check/);
    assert.match(await text(view.app.getByTestId('health-when')), /Next scheduled check/);
    assert.equal(await marks(view), 1);
    assert.deepEqual(await checkState(view, 'health-e2e-healthy'), []);
    await view.page.close();
  });

  test('a key removed by hand is back after the next day\'s check, and the page says when and where', async () => {
    const [gone] = connectionKeys('datasets');
    assert.ok(gone);
    e2e.preview.stack.bitbucket.state.deleteAccessKey(gone);
    assert.deepEqual(connectionKeys('datasets'), []);

    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    // Checked an hour ago: not due yet, so nothing is asked.
    await runHourlyCheck(view, /no connection was due/);
    assert.deepEqual(connectionKeys('datasets'), []);

    await moveClockOn(view, '1');
    await runHourlyCheck(view, /checked acme\/ml-models/);
    const back = connectionKeys('datasets');
    assert.equal(back.length, 1, 'the key is on acme/datasets again');
    assert.equal(back[0]?.key, gone.key, 'the same public key, not a new one');
    await until(view.app.getByTestId('health-changes'), /acme\/datasets/, 10_000);
    assert.match(await text(view.app.getByTestId('health-change-key-restored')), /Put the key back on acme\/datasets/);
    assert.equal(await marks(view), 2);
    // Valohai fetches with it again: the sync state follows the check's own fetch.
    assert.match(await text(view.app.getByTestId('sync-state')), /^In sync$/);
    assert.deepEqual(await checkState(view, 'health-e2e-repaired'), []);
    await view.page.close();
  });

  test('a key past 180 days is a warning in the check and on the timeline', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    await moveClockOn(view, '181');
    await runHourlyCheck(view, /checked acme\/ml-models/);
    await until(view.app.getByTestId('connection-verdict-label'), /^Needs attention$/i, 10_000);
    // Said once, at the top with its fix: the check's finding of it is not listed again.
    assert.match(await text(view.app.getByTestId('key-age-message')), /over 180 days/);
    assert.equal(await view.app.getByTestId('health-finding-key-age-warning').count(), 0);
    assert.match(await text(view.app.getByTestId('fact-key-age')), /^18\d days$/);
    assert.equal(await marks(view), 3);
    assert.deepEqual(await checkState(view, 'health-e2e-key-age'), []);
    await view.page.close();
  });

  test('a token Bitbucket refuses pauses automatic work: paused with the fix, not broken, and the connection stays', async () => {
    const faults = e2e.preview.stack.bitbucket.faults;
    // Bitbucket answers 401 to the stored token while the check runs, as it does once a token is revoked.
    const rule = faults.add({ method: 'GET', path: '/deploy-keys/?$', status: 401, body: 'Unauthorized' });
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    try {
      await moveClockOn(view, '1');
      await runHourlyCheck(view, /checked acme\/ml-models/);
    } finally {
      faults.remove(rule);
    }
    await view.page.reload();
    await view.app.getByTestId('health-card').waitFor();
    await until(view.app.getByTestId('health-paused'), /Store a new token/, 10_000);
    assert.match(await text(view.app.getByTestId('connection-verdict-label')), /^Paused$/i);
    assert.doesNotMatch(await text(view.app.getByTestId('health-card')), /Broken/);
    assert.equal(await view.app.getByTestId('connected-view').count(), 1, 'still shown as connected');
    assert.deepEqual(await checkState(view, 'health-e2e-paused'), []);

    // The workspace page says so too, and the next run asks nothing while paused.
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'repositories-section', 'repositories');
    await until(ws.app.getByTestId('repositories-section'), /Paused/, 10_000);
    await ws.page.close();
    await moveClockOn(view, '1');
    await runHourlyCheck(view, /paused: a stored token is refused or expired/);
    await view.page.close();
  });
});
