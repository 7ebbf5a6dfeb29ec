/**
 * A repository connected with the CLI, adopted on the app's page, in a real browser over the local
 * preview with the built CLI beside it (issue 22): the page suspects the connection from Valohai alone,
 * finds its keys when asked and says "Connected from the CLI"; Connect refuses to replace it and offers
 * Adopt; Adopt moves Valohai to the app's key, in sync; the CLI's status then names the app's connection
 * as in use (not a stray), its disconnect removes only its own keys and leaves Valohai's, and the app's
 * next check finds the connection healthy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { assertInvariant, DEMO_TARGETS, runCli } from '../support/e2e';
import { checkState, openApp, privateKeyLines, saveAdminTokens, startE2e, text, until, type AppView, type E2e } from './preview-support';

const REPO = 'ml-models';
const FULL = `acme/${REPO}`;

let e2e: E2e;
let stateDir = '';
let env: Record<string, string> = {};

before(async () => {
  e2e = await startE2e();
  stateDir = await mkdtemp(join(tmpdir(), 'vb-adopt-cli-'));
  env = { ...e2e.preview.stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
});

after(async () => {
  await e2e?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

function keysOn(slug: string) {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, slug);
  return state.listAccessKeys(repo);
}

const valohaiKey = () => e2e.preview.stack.valohai.state.keyFor(vh.project.repositoryId) ?? null;

async function repositoryPage(ready: string): Promise<AppView> {
  return openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), ready);
}

describe('a repository connected with the CLI, adopted on the page', () => {
  let cli: { fingerprint: string; accessKeys: { repository: string; id: number }[] };

  test('setup: tokens stored in the app, and the repository connected with the CLI', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    await saveAdminTokens(ws.app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
    await ws.page.close();

    const r = await runCli(['connect', FULL, '--project', `${vh.project.owner}/${vh.project.name}`, '--key-type', 'ed25519', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    cli = JSON.parse(r.stdout) as typeof cli;
    assert.deepEqual(cli.accessKeys.map((k) => k.repository), DEMO_TARGETS.map((s) => `acme/${s}`));
  });

  test('the page suspects it from Valohai, then, asked, lists its keys: "Connected from the CLI"', async () => {
    const view = await repositoryPage('other-connection-suspected');
    assert.match(await text(view.app.getByTestId('other-connection-suspected')), /Valohai project ml-models already fetches this repository/);
    // The form stays: the note only says what Valohai says.
    await view.app.getByTestId('connect-form').waitFor();

    await view.app.getByTestId('other-connection-look').click();
    const shown = await until(view.app.getByTestId('other-connection'), /Connected from the CLI/, 20_000);
    assert.match(shown, /Valohai project ml-models fetches this repository at main with a key made with the CLI/);
    const table = await text(view.app.getByTestId('other-connection-keys--table'));
    assert.match(table, / cli \[vh:[0-9a-z]{12}\]/, 'the label, with the CLI\'s word');
    assert.ok(table.includes(`${cli.fingerprint.slice(0, 19)}…`), `the short fingerprint of the CLI's key (${cli.fingerprint})`);
    assert.match(table, /In use/i);
    for (const slug of DEMO_TARGETS) assert.ok(table.includes(`acme/${slug}`), `the key is named on acme/${slug}`);
    assert.equal(await view.app.getByTestId('connect-form').count(), 0, 'the form gave way to the adopt view');
    assert.deepEqual(await checkState(view, 'adopt-connected-from-cli'), []);
    await view.page.close();
  });

  test('Connect without adopting refuses, changes nothing, and the page offers Adopt again', async () => {
    const keysBefore = DEMO_TARGETS.map((s) => keysOn(s).map((k) => k.id));
    const heldBefore = valohaiKey();
    const view = await repositoryPage('other-connection-suspected');
    await view.app.getByTestId('other-connection-look').click();
    await view.app.getByTestId('connect-other-button').click();
    const { app } = view;
    await app.getByTestId('connect-form').waitFor();
    // The project that fetches this repository is chosen for the admin.
    await until(app.getByTestId('connect-form'), /ml-models \(acme\)/, 10_000);
    await app.getByTestId('key-ed25519--radio-input').check();
    await app.getByTestId('connect-button').click();
    const outcome = await until(app.getByTestId('job-outcome'), /Connecting to Valohai: failed/);
    assert.match(outcome, /by a connection the app does not record/);
    assert.match(outcome, /made with the CLI/);
    assert.match(outcome, /choose Adopt/);
    await until(app.getByTestId('other-connection'), /Connected from the CLI/, 10_000);
    assert.deepEqual(DEMO_TARGETS.map((s) => keysOn(s).map((k) => k.id)), keysBefore, 'no key added or removed');
    assert.equal(valohaiKey(), heldBefore, "Valohai's key as it was");
    await view.page.close();
  });

  test("Adopt gives Valohai the app's key, and the page shows the app's connection, in sync", async () => {
    const heldBefore = valohaiKey();
    const view = await repositoryPage('other-connection-suspected');
    const { app } = view;
    await app.getByTestId('other-connection-look').click();
    await app.getByTestId('other-connection').waitFor();
    await app.getByTestId('key-ed25519--radio-input').check();
    await app.getByTestId('adopt-button').click();
    const outcome = await until(app.getByTestId('job-outcome'), /Connecting to Valohai: done/);
    assert.match(outcome, /Adopted the connection made with the CLI/);
    assert.match(outcome, /remove them with the CLI's disconnect/);
    await app.getByTestId('connected-view').waitFor();
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    assert.notEqual(valohaiKey(), heldBefore, 'Valohai holds a new key');
    const held = await assertInvariant(e2e.preview.stack, vh.project.repositoryId);
    for (const slug of DEMO_TARGETS) {
      const keys = keysOn(slug);
      assert.ok(keys.some((k) => k.key === held), `the app's key is on acme/${slug}`);
      const cliKey = cli.accessKeys.find((k) => k.repository === `acme/${slug}`);
      assert.ok(keys.some((k) => k.id === cliKey?.id), `the CLI's key stays on acme/${slug}`);
    }
    assert.deepEqual(await checkState(view, 'adopt-adopted'), []);
    await view.page.close();
  });

  test("the CLI's status then names the app's connection as in use, and its disconnect leaves Valohai's key", async () => {
    const status = await runCli(['status', FULL, '--project', `${vh.project.owner}/${vh.project.name}`], env);
    assert.match(status.stdout, /in use by another connection \(made in the app\)/, status.stdout + status.stderr);
    assert.doesNotMatch(status.stdout, /remove it on/, 'the app\'s key is not advised away');

    const held = valohaiKey();
    const gone = await runCli(['disconnect', FULL, '--project', `${vh.project.owner}/${vh.project.name}`, '--yes'], env);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /fetches with another connection's key/);
    assert.equal(valohaiKey(), held, "Valohai keeps the app's key");
    const app = await assertInvariant(e2e.preview.stack, vh.project.repositoryId);
    for (const slug of DEMO_TARGETS) assert.deepEqual(keysOn(slug).map((k) => k.key), [app], `only the app's key is left on acme/${slug}`);
  });

  test("the app's next check finds its connection healthy", async () => {
    const view = await repositoryPage('connected-view');
    await view.page.getByTestId('run-schedule').click();
    await until(view.page.getByTestId('push-status'), /checked acme\/ml-models/);
    await until(view.app.getByTestId('connection-verdict-label'), /^Healthy$/i, 10_000);
    await view.page.close();

    // The key the app made never reached the browser.
    await e2e.settleAnswers();
    const lines = e2e.keys.privateKeys.flatMap(privateKeyLines);
    assert.ok(lines.length > 0);
    for (const a of e2e.answers) for (const line of lines) assert.ok(!a.body.includes(line), `${a.functionKey} answered with a piece of a private key`);
  });
});
