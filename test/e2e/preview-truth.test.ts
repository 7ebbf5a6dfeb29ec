/**
 * The repository page tells the truth about a connection, in a real browser over the local preview:
 * its sync state comes from the last fetch the app asked Valohai for, never from the newest commit
 * Valohai ever stored. Each case breaks something in the stand-ins the way it breaks in life (a key
 * removed by hand on Bitbucket, the Valohai project re-pointed in Valohai) and reads what the page says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator } from 'playwright-core';
import { isLabelFor } from '../../src/connect/index';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { checkState, openApp, startE2e, type AppView, type E2e } from './preview-support';

const JOB_TIMEOUT = 60_000;
const REPO = 'ml-models';

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});

after(async () => {
  await e2e?.close();
});

const text = (locator: Locator) => locator.innerText();

async function until(locator: Locator, pattern: RegExp, timeout = JOB_TIMEOUT): Promise<string> {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout });
  return text(locator.first());
}

/** Removes this connection's access key from one repository, as someone would by hand on Bitbucket. */
function removeKeyByHand(slug: string): void {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, `no repository acme/${slug}`);
  const keys = state.listAccessKeys(repo).filter((k) => isLabelFor(k.label, vh.project.id));
  assert.equal(keys.length, 1, `acme/${slug} holds the connection's key`);
  for (const k of keys) state.deleteAccessKey(k);
}

async function connectedPage(): Promise<AppView> {
  return openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
}

async function finish(view: AppView, button: string, done: RegExp): Promise<void> {
  await view.app.getByTestId(button).click();
  await until(view.app.getByTestId('job-outcome'), done);
  await view.app.getByTestId('connected-view').waitFor();
}

describe('the repository page tells the truth about a connection', () => {
  test('setup: tokens stored and acme/ml-models connected, in sync', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    await ws.app.getByTestId('valohai-token').fill(vh.admin.token);
    await ws.app.getByTestId('valohai-save').click();
    await until(ws.app.getByTestId('valohai-saved'), /Saved/);
    await ws.app.getByTestId('bitbucket-email').fill(bb.admin.email);
    await ws.app.getByTestId('bitbucket-token').fill(bb.admin.token);
    await ws.app.getByTestId('bitbucket-token').press('Enter');
    await until(ws.app.getByTestId('bitbucket-saved'), /Saved/);
    await ws.page.close();

    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connect-form');
    await view.app.locator('#project-select').fill(vh.project.name);
    await view.app.locator('#project-select').press('Enter');
    await until(view.app.getByTestId('connect-form'), new RegExp(`${vh.project.name} \\(${vh.project.owner}\\)`), 10_000);
    await view.app.getByTestId('key-ed25519--radio-input').check();
    await view.app.getByTestId('connect-button').click();
    await until(view.app.getByTestId('job-outcome'), /Connecting to Valohai: done/);
    await view.app.getByTestId('connected-view').waitFor();
    assert.match(await text(view.app.getByTestId('sync-state')), /^In sync$/);
    await view.page.close();
  });

  test('1. a Verify that fails (key gone from a submodule repository) is not "In sync", though Valohai still has the head', async () => {
    removeKeyByHand('datasets');
    const view = await connectedPage();
    await finish(view, 'verify-button', /Verifying[\s\S]*(not verified|failed)/i);
    const headline = await text(view.app.getByTestId('sync-state'));
    assert.doesNotMatch(headline, /In sync/, 'Valohai has the head commit from before, but its last fetch failed');
    assert.match(headline, /Valohai cannot fetch/);
    const why = await text(view.app.getByTestId('sync-failing'));
    assert.match(why, /acme\/datasets/, 'the failing repository is named');
    // Still the newest commit Valohai ever stored: the page shows it, and it is not what the state is read from.
    assert.ok((await text(view.app.getByTestId('fact-valohai-commit'))).trim().length > 0);
    assert.deepEqual(await checkState(view, 'truth-fetch-failing'), []);

    // Rotating puts a key on every repository again, and the next fetch works: in sync once more.
    await finish(view, 'rotate-button', /Rotating the access key: done/);
    assert.match(await text(view.app.getByTestId('sync-state')), /^In sync$/);
    assert.equal(await view.app.getByTestId('sync-failing').count(), 0);
    await view.page.close();
  });

  test('2. a repository Valohai cannot fetch at all is an error, not a yellow "Not in sync"', async () => {
    removeKeyByHand(REPO);
    const view = await connectedPage();
    const headline = await text(view.app.getByTestId('sync-state'));
    assert.match(headline, /^Valohai cannot fetch$/);
    const why = await text(view.app.getByTestId('sync-failing'));
    assert.match(why, /acme\/ml-models no longer has the connection's access key/);
    assert.match(why, /Rotate/, 'the way out is named');
    assert.equal(await view.app.getByTestId('warning-not-fetched').count(), 0, 'said once, not again as a warning');
    await finish(view, 'rotate-button', /Rotating the access key: done/);
    assert.match(await text(view.app.getByTestId('sync-state')), /^In sync$/);
    await view.page.close();
  });

  test('1b. Verify on a project that now fetches another repository stops, and the page says the project moved', async () => {
    const valohai = e2e.preview.stack.valohai.state;
    const project = valohai.findProject(vh.project.id);
    assert.ok(project?.repository, 'the project has repository settings');
    const ours = project.repository.url;
    // The page was open before someone re-pointed the project in Valohai.
    const view = await connectedPage();
    assert.match(await text(view.app.getByTestId('sync-state')), /^In sync$/);
    project.repository.url = 'git@bitbucket.org:acme/feature-store.git';
    try {
      await finish(view, 'verify-button', /Verifying[\s\S]*failed/i);
      assert.match(await text(view.app.getByTestId('job-outcome')), /now fetches git@bitbucket\.org:acme\/feature-store\.git, not this repository/);
      assert.match(await until(view.app.getByTestId('sync-state'), /moved/i), /Project moved to/);
      assert.equal(await view.app.getByTestId('verify-button').count(), 0, 'nothing left to verify here');
      await view.page.close();
    } finally {
      project.repository.url = ours;
    }
  });
});
