// The bar's push as a chosen person, over HTTP without a browser: a writer's push really changes
// .gitmodules and the gitlink at the main branch's head (read back through the Bitbucket emulator's API)
// and fires the push trigger; someone without write access is refused as Bitbucket refuses them; every
// field is checked; the host page offers the choices with labels.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFetchTransport } from '../../../src/bitbucket/index';
import { parseGitmodules } from '../../../src/git/index';
import { branchTip } from '../../../dev/bitbucket/git-reader';
import { startPreview, type Preview, type PushOutcome } from '../../../dev/preview/server';
import { PEOPLE } from '../../../dev/preview/people';
import { demoValohaiCredentials as vh } from '../../../dev/valohai/index';

let buildDir: string;
let preview: Preview;

before(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'vb-preview-build-'));
  writeFileSync(join(buildDir, 'index.html'), '<!doctype html><title>app</title>');
  preview = await startPreview({ buildDir });
  // ml-models connected by the admin, so that its pushes reach the app's push handling.
  const state = preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', 'ml-models');
  assert.ok(repo);
  const admin = { workspaceId: repo.workspace.uuid, accountId: PEOPLE.admin.accountId };
  const r = preview.backend.resolvers;
  assert.equal((await r.saveValohaiToken({ token: vh.admin.token }, admin)).ok, true);
  assert.equal((await r.saveBitbucketToken({ email: PEOPLE.admin.email, token: PEOPLE.admin.token }, admin)).ok, true);
  const started = await r.startConnect({ projectId: vh.project.id, ref: 'main', keyType: 'ed25519', submodules: true }, { ...admin, repositoryUuid: repo.uuid });
  assert.equal(started.ok, true, JSON.stringify(started));
  await preview.platform.idle();
});

after(async () => {
  await preview?.close();
  rmSync(buildDir, { recursive: true, force: true });
});

const push = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${preview.url}/preview/push`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** What Bitbucket's API serves of ml-models at its main branch, read as the admin. */
async function source(path: string, meta = false): Promise<{ status: number; text: string }> {
  const bitbucket = createFetchTransport({ baseUrl: preview.stack.bitbucket.url, email: PEOPLE.admin.email, apiToken: PEOPLE.admin.token });
  const res = await bitbucket.request({ method: 'GET', path: `/repositories/acme/ml-models/src/main/${path}${meta ? '?format=meta' : ''}` });
  return { status: res.status, text: res.text };
}

async function submodulesAtHead(): Promise<{ path?: string; url?: string }[]> {
  const file = await source('.gitmodules');
  assert.equal(file.status, 200, file.text);
  return parseGitmodules(file.text).map(({ path, url }) => ({ path, url }));
}

async function head(slug: string): Promise<string | undefined> {
  const repo = preview.stack.bitbucket.state.findRepo('acme', slug);
  assert.ok(repo);
  return branchTip(repo.path, repo.mainBranch);
}

describe('the push as a chosen person', () => {
  test("a writer's push adding crown-jewels changes .gitmodules and the gitlink at the head, and fires the push trigger", async () => {
    const fetchesBefore = preview.stack.valohai.state.fetches(vh.project.id).length;
    const res = await push({ workspace: 'acme', repository: 'ml-models', as: 'writer', addSubmodule: 'crown-jewels' });
    assert.equal(res.status, 200);
    const outcome = (await res.json()) as PushOutcome;
    assert.equal(outcome.pushedBy, 'writer');
    assert.equal(outcome.commit, await head('ml-models'), 'the commit is the head of main');
    assert.deepEqual(outcome.added, { name: 'vendor/crown-jewels', path: 'vendor/crown-jewels', url: 'git@bitbucket.org:acme/crown-jewels.git' });
    assert.match(outcome.message, /^Pushed [0-9a-f]{7} to main as Wes Writer, adding submodule vendor\/crown-jewels \(git@bitbucket\.org:acme\/crown-jewels\.git\)\./);

    // What Bitbucket serves: the new section beside the three the seed wrote, and a gitlink git sees as a submodule.
    assert.deepEqual(await submodulesAtHead(), [
      { path: 'datasets', url: '../datasets.git' },
      { path: 'libs/training-lib', url: 'git@bitbucket.org:acme/training-lib.git' },
      { path: 'docs', url: 'https://bitbucket.org/acme/docs-site.git' },
      { path: 'vendor/crown-jewels', url: 'git@bitbucket.org:acme/crown-jewels.git' },
    ]);
    const link = await source('vendor/crown-jewels', true);
    assert.equal(link.status, 200, link.text);
    assert.equal((JSON.parse(link.text) as { attributes?: string }).attributes, 'subrepository');
    assert.match((await source('vendor/crown-jewels')).text, new RegExp(`a submodule at commit ${await head('crown-jewels')}`));

    // The push trigger ran: the connection's sync was queued and Valohai was asked to fetch.
    assert.equal(outcome.trigger, 'queued');
    assert.ok(preview.stack.valohai.state.fetches(vh.project.id).length > fetchesBefore, 'Valohai was asked to fetch after the push');
  });

  test("a reader's push, or an outsider's, is refused as Bitbucket refuses it, and nothing is committed", async () => {
    const before = await head('ml-models');
    const reader = await push({ workspace: 'acme', repository: 'ml-models', as: 'reader', addSubmodule: 'crown-jewels' });
    assert.equal(reader.status, 403);
    assert.equal(
      ((await reader.json()) as { message: string }).message,
      'Rita Reader may only read acme/ml-models, and Bitbucket takes a push only from someone with write access. Push as Ada Admin or Wes Writer instead.',
    );
    const outsider = await push({ workspace: 'acme', repository: 'ml-models', as: 'outsider' });
    assert.equal(outsider.status, 403);
    assert.match(((await outsider.json()) as { message: string }).message, /^Olga Owner has no access to acme\/ml-models/);
    // The writer has no access to crown-jewels itself either.
    const jewels = await push({ workspace: 'acme', repository: 'crown-jewels', as: 'writer' });
    assert.equal(jewels.status, 403);
    assert.match(((await jewels.json()) as { message: string }).message, /^Wes Writer has no access to acme\/crown-jewels.*Push as Ada Admin instead\.$/);
    assert.equal(await head('ml-models'), before);
    await assert.rejects(preview.pushCommit('ml-models', { as: 'reader' }), /Rita Reader may only read/);
  });

  test('removing a submodule takes it out of .gitmodules and takes its gitlink away', async () => {
    const res = await push({ workspace: 'acme', repository: 'ml-models', as: 'writer', removeSubmodule: 'vendor/crown-jewels' });
    assert.equal(res.status, 200);
    const outcome = (await res.json()) as PushOutcome;
    assert.equal(outcome.removed?.path, 'vendor/crown-jewels');
    assert.deepEqual(outcome.submodules.map((s) => s.path), ['datasets', 'libs/training-lib', 'docs']);
    assert.deepEqual((await submodulesAtHead()).map((s) => s.path), ['datasets', 'libs/training-lib', 'docs']);
    assert.equal((await source('vendor/crown-jewels', true)).status, 404);
    // The admin pushes by default, as before a pusher could be chosen.
    const plain = await preview.pushCommit('ml-models');
    assert.equal(plain.pushedBy, 'admin');
    assert.match(plain.message, /^Pushed [0-9a-f]{7} to main\. /);
    assert.deepEqual(plain.submodules.map((s) => s.path), ['datasets', 'libs/training-lib', 'docs']);
  });

  test('every field is checked, with the reason, and a refused push commits nothing', async () => {
    const before = await head('ml-models');
    const cases: [unknown, RegExp][] = [
      [{ workspace: 'acme', repository: 'ml-models', as: 'mallory' }, /as must be one of admin, writer, reader, outsider/],
      [{ workspace: 'acme', repository: 'ml-models', as: 7 }, /as must be one of/],
      [{ workspace: 'acme', repository: 'ml-models', addSubmodule: '../../umbrella/vault' }, /addSubmodule must be the slug of a repository/],
      [{ workspace: 'acme', repository: 'ml-models', addSubmodule: 'vault' }, /No repository acme\/vault in the preview to add/],
      [{ workspace: 'acme', repository: 'ml-models', addSubmodule: 'ml-models' }, /cannot be a submodule of itself/],
      [{ workspace: 'acme', repository: 'ml-models', addSubmodule: 'scratch' }, /acme\/scratch has no commits yet/],
      [{ workspace: 'acme', repository: 'ml-models', removeSubmodule: 'vendor/nothing' }, /has no submodule vendor\/nothing\. Its \.gitmodules names datasets, libs\/training-lib, docs\./],
      [{ workspace: 'acme', repository: 'ml-models', removeSubmodule: 'a\nb' }, /removeSubmodule must be the path of a submodule/],
      [{ workspace: 'acme', repository: 'ml-models', removeSubmodule: '' }, /removeSubmodule must be the path/],
      [{ workspace: 'acme', repository: 'ml-models', addSubmodules: 'crown-jewels' }, /Unknown field addSubmodules/],
      [{ workspace: 'acme' }, /workspace and repository must be/],
      [['acme', 'ml-models'], /must be a JSON object/],
    ];
    for (const [body, reason] of cases) {
      const res = await push(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(((await res.json()) as { message: string }).message, reason, JSON.stringify(body));
    }
    const twice = await push({ workspace: 'acme', repository: 'ml-models', as: 'writer', addSubmodule: 'datasets' });
    assert.equal(twice.status, 200, 'vendor/datasets is a new path, beside the datasets the seed wrote');
    const again = await push({ workspace: 'acme', repository: 'ml-models', as: 'writer', addSubmodule: 'datasets' });
    assert.equal(again.status, 400);
    assert.match(((await again.json()) as { message: string }).message, /vendor\/datasets is already a submodule of acme\/ml-models; remove it first\./);
    assert.notEqual(await head('ml-models'), before, 'only the accepted push committed');
  });

  test('the new fields take no way round the guard: another origin, or a body that is not JSON, is refused', async () => {
    const before = await head('ml-models');
    const body = { workspace: 'acme', repository: 'ml-models', as: 'writer', addSubmodule: 'crown-jewels' };
    assert.equal((await push(body, { origin: 'https://evil.example' })).status, 403);
    const text = await fetch(`${preview.url}/preview/push`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
    assert.equal(text.status, 415);
    assert.equal(await head('ml-models'), before);
  });
});

describe('the bar on the host page', () => {
  test('offers who pushes and what .gitmodules gets, with labels, the person acted as chosen', async () => {
    const page = await (await fetch(preview.pageUrl({ repository: 'ml-models', as: 'writer' }))).text();
    assert.match(page, /<span class="push-group" role="group" aria-label="Push a commit">/);
    assert.match(page, /<label>Push as <select id="push-as" data-testid="push-as">[^]*?<option value="writer" selected>Wes Writer<\/option>/);
    assert.match(page, /<label>\.gitmodules <select id="push-submodule" data-testid="push-submodule">\s*<option value="" selected>No change<\/option>/);
    assert.match(page, /<option value="add:crown-jewels" data-path="vendor\/crown-jewels">Add acme\/crown-jewels at vendor\/crown-jewels \(git@bitbucket\.org:acme\/crown-jewels\.git\)<\/option>/);
    // What .gitmodules names now can be removed, and is not offered again.
    assert.match(page, /<option value="remove:vendor\/datasets">Remove vendor\/datasets \(git@bitbucket\.org:acme\/datasets\.git\)<\/option>/);
    assert.match(page, /<option value="add:datasets" data-path="vendor\/datasets" disabled>/);
    assert.doesNotMatch(page, /value="add:ml-models"/, 'not itself');
    const workspace = await (await fetch(preview.pageUrl({}))).text();
    assert.doesNotMatch(workspace, /<select id="push-submodule"/, 'no push on the workspace page');
  });
});
