/**
 * The fleet on the workspace page, as an admin uses it in the local preview: two repositories
 * connected through the resolvers and a key someone added by hand to two others; then, in a real
 * browser, the repositories table filtered, the access-key audit run to the end and its finding read,
 * and the two connections rotated in bulk. The stand-ins say afterwards that each repository has a
 * new key and not the old one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { PEOPLE } from '../../dev/preview/people';
import { generateKeyPair } from '../../src/ssh/index';
import { checkState, openApp, showTab, startE2e, text, until, type AppView, type E2e } from './preview-support';

const CONNECTED = ['ml-models', 'docs-site'];
/** Where a key was added by hand, the same on both: the audit calls it shared. */
const BY_HAND = ['scratch', 'research-notebooks'];
/** How the app labels the keys it makes. */
const APP_LABEL = /^Valohai .*\[vh:[0-9a-z]{12}\]\s*$/i;

let e2e: E2e;

function appKeys(slug: string): string[] {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, `no repository acme/${slug}`);
  return state
    .listAccessKeys(repo)
    .filter((k) => APP_LABEL.test(k.label))
    .map((k) => k.key);
}

before(async () => {
  e2e = await startE2e();
  const state = e2e.preview.stack.bitbucket.state;
  const admin = { workspaceId: state.findWorkspace('acme')?.uuid ?? '', accountId: PEOPLE.admin.accountId };
  const r = e2e.preview.backend.resolvers;
  assert.equal((await r.saveValohaiToken({ token: vh.admin.token }, admin)).ok, true);
  assert.equal((await r.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, admin)).ok, true);
  const choices = [
    { projectId: vh.project.id, ref: 'main', keyType: 'ed25519' as const, submodules: true },
    { newProject: { name: 'docs-site', owner: vh.organization }, ref: 'main', keyType: 'ed25519' as const, submodules: false },
  ];
  for (const [i, slug] of CONNECTED.entries()) {
    const repo = state.findRepo('acme', slug);
    assert.ok(repo);
    const started = await r.startConnect(choices[i] as (typeof choices)[number], { ...admin, repositoryUuid: repo.uuid });
    assert.equal(started.ok, true, JSON.stringify(started));
    await e2e.preview.platform.idle();
  }
  const byHand = await generateKeyPair({ type: 'ed25519', comment: 'laptop' });
  for (const slug of BY_HAND) {
    const repo = state.findRepo('acme', slug);
    assert.ok(repo);
    state.addAccessKey(repo, { key: byHand.publicKey, label: 'deploy from my laptop' });
  }
});

after(async () => {
  await e2e?.close();
});

async function choose(view: AppView, testId: string, label: string): Promise<void> {
  await view.app.getByTestId(`${testId}-select--container`).click();
  await view.app.getByRole('option', { name: label, exact: true }).click();
}

describe('the fleet on the workspace page, in the preview', () => {
  test('filter the table, audit every key, rotate two connections in bulk', async () => {
    for (const slug of CONNECTED) assert.equal(appKeys(slug).length, 1, `acme/${slug} has its connection's key`);
    const before = new Map(CONNECTED.map((slug) => [slug, appKeys(slug)[0]]));

    const view = await openApp(e2e.browser, e2e.preview.pageUrl(), 'repositories-section', 'repositories');
    const { app } = view;
    const rows = () => app.getByTestId('repositories--table').locator('tbody tr').allInnerTexts();

    await app.getByTestId('repo-search').fill('docs');
    await until(app.getByTestId('repositories-count'), /^1 of \d+ repositories match\.$/, 10_000);
    const docs = await rows();
    assert.equal(docs.length, 1);
    assert.match(docs[0] ?? '', /acme\/docs-site\s+Connected[\s\S]*docs-site\s+today/);
    await app.getByTestId('repo-search').fill('');
    await choose(view, 'repo-filter', 'Not connected');
    const notConnected = await rows();
    assert.ok(notConnected.length > 0);
    assert.ok(notConnected.every((t) => /Not connected/.test(t) && !/ml-models|docs-site/.test(t)), notConnected.join('\n'));
    await choose(view, 'repo-filter', 'All repositories');

    await showTab(view, 'audit');
    await app.getByTestId('audit-start').click();
    await until(app.getByTestId('audit-progress'), /^Done: /);
    assert.match(await text(app.getByTestId('audit-finding-shared')), /^Shared\s+2 keys: /);
    await choose(view, 'audit-filter', 'Shared');
    const table = app.getByTestId('audit-keys--table');
    await until(table, /acme\/scratch/, 10_000);
    const shared = await table.locator('tbody tr').allInnerTexts();
    assert.equal(shared.length, 2);
    assert.ok(shared.every((t) => /deploy from my laptop[\s\S]*none[\s\S]*Shared/.test(t)), shared.join('\n'));
    assert.match(shared.join('\n'), /acme\/research-notebooks/);
    assert.deepEqual(await checkState(view, 'fleet-audit-done'), []);

    await showTab(view, 'repositories');
    for (const slug of CONNECTED) await app.getByTestId(`repo-select-acme/${slug}--hidden-checkbox`).check();
    await app.getByTestId('batch-plan-rotate').click();
    const dialog = app.getByRole('dialog');
    await until(dialog, /Rotate 2 repositories\?/, 10_000);
    assert.match(await text(app.getByTestId('batch-plan-duration')), /^2 repositories, about \d+ stored-token requests/);
    assert.deepEqual(await checkState(view, 'fleet-plan'), []);
    await app.getByTestId('batch-plan-start').click();
    const summary = await until(app.getByTestId('batch-summary'), /Bulk rotate done/);
    assert.match(summary, /Bulk rotate done: 2 repositories rotated/);
    assert.deepEqual(await checkState(view, 'fleet-rotated'), []);

    for (const slug of CONNECTED) {
      const now = appKeys(slug);
      assert.equal(now.length, 1, `acme/${slug} has one key of the app`);
      assert.notEqual(now[0], before.get(slug), `acme/${slug} has a new key, not the old one`);
    }
    assert.deepEqual(view.errors, []);
    await view.page.close();
  });
});
