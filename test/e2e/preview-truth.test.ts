/**
 * The repository page tells the truth about a connection, in a real browser over the local preview:
 * its sync state comes from the last fetch the app asked Valohai for, never from the newest commit
 * Valohai ever stored. Each case breaks something in the stand-ins the way it breaks in life (a key
 * removed by hand on Bitbucket, the Valohai project re-pointed in Valohai) and reads what the page says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLabelFor } from '../../src/connect/index';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { checkState, openApp, startE2e, text, until, type AppView, type E2e } from './preview-support';

const REPO = 'ml-models';
/** acme/ml-models and the Bitbucket repositories its submodules name. */
const ML_TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
/** Connected by hand, without a Bitbucket API token. */
const MANUAL_REPO = 'inference-api';
/** Its connect is made to fail after the Valohai project is created. */
const FAILING_REPO = 'research-notebooks';
const MANUAL_TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});

after(async () => {
  await e2e?.close();
});

/** Removes this connection's access key from one repository, as someone would by hand on Bitbucket. */
function removeKeyByHand(slug: string): void {
  const keys = connectionKeys(slug);
  assert.equal(keys.length, 1, `acme/${slug} holds the connection's key`);
  for (const k of keys) e2e.preview.stack.bitbucket.state.deleteAccessKey(k);
}

/** The access keys of acme/<slug> labelled for the demo project's connection. */
function connectionKeys(slug: string) {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, `no repository acme/${slug}`);
  return state.listAccessKeys(repo).filter((k) => isLabelFor(k.label, vh.project.id));
}

async function connectedPage(): Promise<AppView> {
  return openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
}

async function finish(view: AppView, button: string, done: RegExp): Promise<void> {
  await view.app.getByTestId(button).click();
  await until(view.app.getByTestId('job-outcome'), done);
  await view.app.getByTestId('connected-view').waitFor();
}

/** Connects acme/ml-models to the demo project with an Ed25519 key, as the admin does on the page. */
async function connectThroughThePage(): Promise<void> {
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
}

/** Calls a resolver from inside the page's frame, as the page's own buttons do. */
async function resolver(view: AppView, functionKey: string, payload: unknown): Promise<void> {
  const frame = await view.frame();
  const reply = await frame.evaluate(
    async ({ functionKey, payload }) => {
      const res = await fetch(`/api/invoke${window.location.search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ functionKey, payload }),
      });
      return (await res.json()) as { ok: boolean };
    },
    { functionKey, payload },
  );
  assert.equal(reply.ok, true, `${functionKey} answered ${JSON.stringify(reply)}`);
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

    await connectThroughThePage();
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
    // The page lists no keys to load: Verify is the live read that finds the key gone.
    await finish(view, 'verify-button', /Verifying[\s\S]*(not verified|failed)/i);
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

  test('4. with the Valohai token removed, the connection stays on the page and Disconnect still removes its keys', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    await resolver(ws, 'clearCredentials', { which: 'valohai' });
    await ws.page.reload();
    await until(ws.app.getByTestId('valohai-state'), /Not set/);
    await ws.page.close();

    const view = await connectedPage();
    assert.match(await text(view.app.getByTestId('valohai-token-missing')), /cannot check it with Valohai, verify it or rotate its key/);
    assert.equal(await view.app.getByTestId('not-set-up').count(), 0, 'not "Valohai is not set up": the connection is still here');
    assert.equal(await view.app.getByTestId('verify-button').count(), 0);
    assert.equal(await view.app.getByTestId('rotate-button').count(), 0);
    const rows = await view.app.getByTestId('access-keys--table').locator('tbody tr').count();
    assert.equal(rows, ML_TARGETS.length, 'every repository holding the key is listed');
    assert.deepEqual(await checkState(view, 'truth-no-valohai-token'), []);

    await view.app.getByTestId('disconnect-button').click();
    assert.match(await text(view.app.getByTestId('disconnect-confirm')), /Without a Valohai token the key stays in the Valohai project/);
    await view.app.getByTestId('disconnect-confirm-confirm').click();
    const outcome = await until(view.app.getByTestId('job-outcome'), /Disconnecting from Valohai: done, with 1 thing to do by hand/);
    assert.match(outcome, /remove it from the repository settings of Valohai project ml-models by hand/);
    for (const slug of ML_TARGETS) assert.deepEqual(connectionKeys(slug), [], `acme/${slug} no longer holds the key`);
    await view.page.close();

    // The token back, and the repository connected again for what follows.
    const again = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    await again.app.getByTestId('valohai-token').fill(vh.admin.token);
    await again.app.getByTestId('valohai-save').click();
    await until(again.app.getByTestId('valohai-saved'), /Saved/);
    await again.page.close();
    await connectThroughThePage();
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

  test('5. a connect that fails after creating its Valohai project says the project stays, not "nothing was changed"', async () => {
    const faults = e2e.preview.stack.bitbucket.faults;
    const rule = faults.add({ method: 'POST', path: '/deploy-keys$', status: 500, body: { type: 'error', error: { message: 'Something went wrong' } } });
    try {
      const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: FAILING_REPO }), 'connect-form');
      const { app } = view;
      await app.getByTestId('mode-new--radio-input').check();
      const name = await app.getByTestId('project-name').inputValue();
      await app.getByTestId('key-ed25519--radio-input').check();
      await app.getByTestId('connect-button').click();
      const outcome = await until(app.getByTestId('job-outcome'), /Connecting to Valohai: failed/);
      assert.doesNotMatch(outcome, /Nothing was changed/, 'a project was created: something was changed');
      assert.match(outcome, new RegExp(`The new Valohai project \\S+/${name} stays in Valohai: choose it under "Use an existing project"`));
      assert.ok(e2e.preview.stack.valohai.state.projectByName(vh.organization, name), 'the project is there, as the page says');
      const repo = e2e.preview.stack.bitbucket.state.findRepo('acme', FAILING_REPO);
      assert.ok(repo);
      assert.deepEqual(e2e.preview.stack.bitbucket.state.listAccessKeys(repo), [], 'no access key was left behind');
      await view.page.close();
    } finally {
      faults.remove(rule);
    }
  });

  test('3. by hand: the key made is a next step, discarding says so, Rotate is not offered, and Disconnect says what it leaves to do', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'bitbucket-section');
    await resolver(ws, 'clearCredentials', { which: 'bitbucket' });
    await ws.page.close();

    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: MANUAL_REPO }), 'connect-form');
    const { app } = view;
    const connectByHand = async (project: 'new' | 'existing') => {
      if (project === 'new') {
        await app.getByTestId('mode-new--radio-input').check();
      } else {
        // The project the first attempt created: discarding the key leaves the project in Valohai.
        await app.locator('#project-select').fill(MANUAL_REPO);
        await app.locator('#project-select').press('Enter');
      }
      await app.getByTestId('key-ed25519--radio-input').check();
      await app.getByTestId('connect-button').click();
      const outcome = await until(app.getByTestId('job-outcome'), /The key is made: now add it by hand/);
      assert.doesNotMatch(outcome, /done|Finished/, 'five steps remain: nothing is done yet');
      await app.getByTestId('manual-view').waitFor();
    };
    await connectByHand('new');
    assert.deepEqual(await checkState(view, 'truth-manual-key-made'), []);

    await app.getByTestId('manual-cancel').click();
    await app.getByTestId('manual-cancel-confirm-confirm').click();
    const discarded = await until(app.getByTestId('job-outcome'), /Discarding the key for connecting by hand: done/);
    assert.doesNotMatch(discarded, /Disconnecting/);
    await app.getByTestId('connect-form').waitFor();

    await connectByHand('existing');
    const publicKey = await app.getByTestId('public-key').inputValue();
    const label = await app.getByTestId('key-label').inputValue();
    const state = e2e.preview.stack.bitbucket.state;
    for (const slug of MANUAL_TARGETS) {
      const repo = state.findRepo('acme', slug);
      assert.ok(repo);
      state.addAccessKey(repo, { key: publicKey, label });
    }
    await app.getByTestId('verify-manual-button').click();
    await until(app.getByTestId('job-outcome'), /Verifying the key added by hand: done/);
    await app.getByTestId('connected-view').waitFor();
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    assert.equal(await app.getByTestId('rotate-button').count(), 0, 'Rotate needs a Bitbucket API token: not offered');
    assert.match(await text(app.getByTestId('rotate-needs-token')), /needs a Bitbucket API token/);

    await app.getByTestId('disconnect-button').click();
    const question = await text(app.getByTestId('disconnect-confirm'));
    assert.match(question, new RegExp(`lists the access key on ${MANUAL_TARGETS.length} repositories for you to remove by hand`));
    assert.doesNotMatch(question, /This removes the access key/);
    await app.getByTestId('disconnect-confirm-confirm').click();
    const outcome = await until(app.getByTestId('job-outcome'), new RegExp(`done, with ${MANUAL_TARGETS.length} things to do by hand`));
    assert.match(outcome, /The app forgot the connection\. Finish by hand what is listed below\./);
    for (const slug of MANUAL_TARGETS) {
      const repo = state.findRepo('acme', slug);
      assert.ok(repo);
      assert.equal(state.listAccessKeys(repo).filter((k) => k.key === publicKey.split(' ').slice(0, 2).join(' ')).length, 1, `the key on acme/${slug} is left for the admin to remove`);
    }
    assert.deepEqual(await checkState(view, 'truth-manual-disconnected'), []);
    await view.page.close();
  });

  test('8. a token of a non-admin, or a private key pasted as a token, is named for what it is when it is saved', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'bitbucket-section');
    const { app } = ws;
    // A private key in the token field: refused by its shape, before anything is sent, and never echoed.
    const privateKey = e2e.keys.privateKeys.at(-1);
    assert.ok(privateKey, 'a key was made earlier in this file');
    const oneLine = privateKey.replace(/\n/g, '');
    await app.getByTestId('bitbucket-email').fill(bb.writer.email);
    await app.getByTestId('bitbucket-token').fill(oneLine);
    await app.getByTestId('bitbucket-save').click();
    const refused = await until(app.getByTestId('bitbucket-section'), /is an SSH key, not an API token/, 10_000);
    assert.ok(!refused.includes(oneLine.slice(40, 80)), 'the key is not shown back');
    assert.match(await text(app.getByTestId('bitbucket-state')), /^Not set$/);

    // The writer's own API token: stored, but the page says it cannot add keys on repositories it does not administer.
    await app.getByTestId('bitbucket-token').fill(bb.writer.token);
    await app.getByTestId('bitbucket-save').click();
    await until(app.getByTestId('bitbucket-saved'), /Saved/);
    assert.match(await text(app.getByTestId('bitbucket-state')), /^Stored, not an admin$/);
    assert.match(await text(app.getByTestId('token-not-admin')), /is not an admin of this workspace/);
    assert.deepEqual(await checkState(ws, 'truth-token-not-admin'), []);
    await ws.page.close();

    const repo = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: FAILING_REPO }), 'connect-form');
    assert.match(await text(repo.app.getByTestId('token-not-admin')), /only on repositories its account administers/);
    await repo.page.close();
  });
});
