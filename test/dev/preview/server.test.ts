// The local preview's server over HTTP, without a browser: the context it gives the backend comes from
// the frame's address and nothing else, its host pages escape what they echo, its access keys page goes
// through Bitbucket's API as the chosen person, and its push control really commits and fires the trigger.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MODULE_KEYS } from '../../../src/forge/contract';
import { generateKeyPair } from '../../../src/ssh/index';
import { startPreview, type Preview } from '../../../dev/preview/server';
import { PEOPLE } from '../../../dev/preview/people';
import { demoValohaiCredentials } from '../../../dev/valohai/index';

const run = promisify(execFile);

let buildDir: string;
let preview: Preview;

before(async () => {
  // The API and host pages need no real bundle: a stand-in index.html is enough here.
  buildDir = mkdtempSync(join(tmpdir(), 'vb-preview-build-'));
  writeFileSync(join(buildDir, 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(tmpdir(), 'vb-preview-outside.txt'), 'outside the build');
  preview = await startPreview({ buildDir });
});

after(async () => {
  await preview?.close();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(join(tmpdir(), 'vb-preview-outside.txt'), { force: true });
});

const frame = (extra: Record<string, string>) => new URLSearchParams({ module: 'repository', workspace: 'acme', repo: 'ml-models', ...extra }).toString();

async function invoke(query: string, functionKey: string, payload: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${preview.url}/api/invoke?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ functionKey, payload }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the context the preview gives the backend', () => {
  test('comes from the frame address: module, workspace, repository and the person acted as', async () => {
    const res = await fetch(`${preview.url}/api/context?${frame({ as: 'writer', theme: 'dark' })}`);
    assert.equal(res.status, 200);
    const context = (await res.json()) as Record<string, unknown> & { extension: { type: string; repository: { uuid: string } }; theme: { colorMode: string } };
    const state = preview.stack.bitbucket.state;
    const repo = state.findRepo('acme', 'ml-models');
    assert.ok(repo);
    assert.equal(context.moduleKey, MODULE_KEYS.repository);
    assert.equal(context.accountId, PEOPLE.writer.accountId);
    assert.equal(context.workspaceId, repo.workspace.uuid);
    assert.equal(context.extension.type, 'bitbucket:repoSettingsMenuPage');
    assert.equal(context.extension.repository.uuid, repo.uuid);
    assert.equal(context.theme.colorMode, 'dark');
  });

  test('an unknown workspace or repository in the address is refused, not guessed', async () => {
    assert.equal((await fetch(`${preview.url}/api/context?${frame({ workspace: 'nowhere' })}`)).status, 404);
    assert.equal((await invoke(frame({ repo: 'no-such-repo' }), 'getRepositoryPage', {})).status, 404);
  });

  test('a payload naming another workspace or repository is refused; the page read is of the framed repository', async () => {
    const refused = await invoke(frame({}), 'getRepositoryPage', { workspace: 'umbrella', repository: 'secret-plans' });
    assert.equal(refused.status, 200);
    assert.equal(refused.body.ok, false);
    const page = await invoke(frame({}), 'getRepositoryPage', {});
    assert.equal(page.body.ok, true);
    assert.equal((page.body.value as { repository: { fullName: string } }).repository.fullName, 'acme/ml-models');
  });

  test('a non-admin cannot start an action even by calling the resolver directly', async () => {
    for (const as of ['writer', 'reader', 'outsider']) {
      const reply = await invoke(frame({ as }), 'startDisconnect', {});
      assert.equal(reply.body.ok, false, `${as} started a disconnect`);
    }
    assert.equal(preview.platform.enqueued.length, 0);
  });

  test('unknown resolvers and bodies that are not JSON get clear answers', async () => {
    const unknown = await invoke(frame({}), 'dropDatabase', {});
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.message), /No resolver named dropDatabase/);
    const res = await fetch(`${preview.url}/api/invoke?${frame({})}`, { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
  });
});

/** One raw HTTP request, so Host and Origin can be whatever a browser elsewhere would send. */
function rawRequest(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; text: string }> {
  const { port } = new URL(preview.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(port), method: opts.method ?? 'POST', path: opts.path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may answer and close before a large body is sent whole.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.on('close', () => resolve({ status: 0, text: 'the connection closed without an answer' }));
    req.end(opts.body);
  });
}

describe('who may drive the preview', () => {
  const own = () => new URL(preview.url);
  const invokeBody = JSON.stringify({ functionKey: 'getRepositoryPage', payload: {} });
  const json = { 'content-type': 'application/json' };
  const path = `/api/invoke?${frame({ as: 'admin' })}`;
  const connects = () => preview.platform.enqueued.length;

  test('the page itself: its own host and origin, JSON', async () => {
    for (const host of [own().host, `localhost:${own().port}`]) {
      const res = await rawRequest({ path, headers: { ...json, host, origin: `http://${host}` }, body: invokeBody });
      assert.equal(res.status, 200, `${host}: ${res.text}`);
      assert.equal((JSON.parse(res.text) as { ok: boolean }).ok, true);
    }
  });

  test('a web page elsewhere is refused, even sending text/plain (no preflight) or a form', async () => {
    const before = connects();
    const start = JSON.stringify({ functionKey: 'startDisconnect', payload: {} });
    for (const origin of ['https://evil.example', 'http://127.0.0.1:1', 'null']) {
      for (const type of ['text/plain', 'application/json']) {
        const res = await rawRequest({ path, headers: { 'content-type': type, host: own().host, origin }, body: start });
        assert.equal(res.status, 403, `${origin} ${type}: ${res.status} ${res.text}`);
      }
    }
    const form = await rawRequest({
      path: '/acme/datasets/admin/access-keys?as=admin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: own().host, origin: 'https://evil.example' },
      body: 'delete=1',
    });
    assert.equal(form.status, 403);
    const push = await rawRequest({ path: '/preview/push', headers: { ...json, host: own().host, origin: 'https://evil.example' }, body: '{"workspace":"acme","repository":"ml-models"}' });
    assert.equal(push.status, 403);
    assert.equal(connects(), before, 'nothing was started');
  });

  test('a request under another host name (DNS rebinding) is refused, whatever it asks', async () => {
    for (const host of ['evil.example', `evil.example:${own().port}`, `127.0.0.1:${Number(own().port) + 1}`, 'localhost']) {
      const res = await rawRequest({ path, headers: { ...json, host }, body: invokeBody });
      assert.equal(res.status, 421, `${host}: ${res.status}`);
      const page = await rawRequest({ method: 'GET', path: '/acme/ml-models/admin/valohai', headers: { host } });
      assert.equal(page.status, 421, `${host} GET: ${page.status}`);
    }
  });

  test('only JSON is taken', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      const res = await rawRequest({ path, headers: { 'content-type': type, host: own().host }, body: invokeBody });
      assert.equal(res.status, 415, `${type}: ${res.status}`);
    }
    const charset = await rawRequest({ path, headers: { 'content-type': 'application/json; charset=utf-8', host: own().host }, body: invokeBody });
    assert.equal(charset.status, 200);
  });

  test('a body over the cap is answered 413 without being read whole', async () => {
    const huge = Buffer.alloc(8 * 1024 * 1024, 'a');
    const res = await rawRequest({ path, headers: { ...json, host: own().host }, body: huge });
    assert.equal(res.status, 413);
    const chunked = await rawRequest({ path, headers: { ...json, host: own().host, 'transfer-encoding': 'chunked' }, body: huge });
    assert.equal(chunked.status, 413);
    // The server is still there for the page.
    const after = await rawRequest({ path, headers: { ...json, host: own().host }, body: invokeBody });
    assert.equal(after.status, 200);
  });
});

describe('host pages', () => {
  test('frame the app with the person and theme carried into the frame address', async () => {
    const res = await fetch(preview.pageUrl({ repository: 'ml-models', as: 'reader', theme: 'dark' }));
    assert.equal(res.status, 200);
    const page = await res.text();
    assert.match(page, /<iframe class="app" title="Valohai app" src="\/app\/index\.html\?module=repository&amp;workspace=acme&amp;repo=ml-models&amp;as=reader&amp;theme=dark"/);
    assert.match(page, /data-theme="dark"/);
    const workspace = await (await fetch(preview.pageUrl({}))).text();
    assert.match(workspace, /module=workspace&amp;workspace=acme&amp;as=admin/);
  });

  test('the root opens the demo repository, and unknown places answer 404', async () => {
    const res = await fetch(`${preview.url}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/acme/ml-models/admin/valohai');
    assert.equal((await fetch(`${preview.url}/acme/nothing-here/admin/valohai`)).status, 404);
    assert.equal((await fetch(`${preview.url}/nowhere/workspace/settings/valohai`)).status, 404);
  });

  test('what the address echoes is escaped', async () => {
    const res = await fetch(`${preview.url}/acme/ml-models/admin/access-keys/?notice=${encodeURIComponent('<script>alert(1)</script>')}&as=%22%3E%3Cb%3E`);
    const page = await res.text();
    assert.ok(!page.includes('<script>alert(1)</script>'));
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!page.includes('"><b>'));
  });

  test('the build is served under /app/ and nothing outside it is', async () => {
    assert.equal((await fetch(`${preview.url}/app/index.html`)).status, 200);
    assert.equal((await fetch(`${preview.url}/app/%2e%2e/vb-preview-outside.txt`)).status, 404);
    assert.equal((await fetch(`${preview.url}/app/..%2fvb-preview-outside.txt`)).status, 404);
  });
});

describe('the access keys page', () => {
  const keysUrl = (as: string) => `${preview.url}/acme/datasets/admin/access-keys/?as=${as}&theme=light`;
  const post = (as: string, form: Record<string, string>) =>
    fetch(keysUrl(as), { method: 'POST', body: new URLSearchParams(form), redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const noticeOf = (res: Response) => new URL(res.headers.get('location') ?? '', preview.url).searchParams;

  test('an admin adds and deletes a key through Bitbucket, which then serves git with it', async () => {
    const key = await generateKeyPair({ type: 'ed25519', comment: 'by hand' });
    const added = await post('admin', { label: 'Added by hand', key: key.publicKey });
    assert.equal(added.status, 303);
    assert.equal(noticeOf(added).get('tone'), 'ok');
    const state = preview.stack.bitbucket.state;
    const entries = state.accessKeys('acme', 'datasets');
    const entry = entries.find((k) => key.publicKey.startsWith(k.key));
    assert.ok(entry, 'the key is on the repository');
    const listing = await (await fetch(keysUrl('admin'))).text();
    assert.match(listing, /Added by hand/);

    const removed = await post('admin', { delete: String(entry.id) });
    assert.equal(noticeOf(removed).get('notice'), 'The access key was deleted.');
    assert.ok(!state.accessKeys('acme', 'datasets').some((k) => k.id === entry.id));
  });

  test("Bitbucket's refusals reach the page: a bad key, and a person who is not an admin", async () => {
    const bad = noticeOf(await post('admin', { label: 'x', key: 'ssh-rsa not-base64!' }));
    assert.equal(bad.get('tone'), 'error');
    assert.match(bad.get('notice') ?? '', /Bitbucket refused \(400\)/);

    const key = await generateKeyPair({ type: 'ed25519', comment: 'writer' });
    const writer = noticeOf(await post('writer', { label: 'x', key: key.publicKey }));
    assert.equal(writer.get('tone'), 'error');
    assert.match(writer.get('notice') ?? '', /Bitbucket refused \(403\)/);
    const listing = await (await fetch(keysUrl('writer'))).text();
    assert.match(listing, /Bitbucket answered 403/);
  });
});

describe('the push control', () => {
  test('commits to the main branch; a repository that is not connected is ignored by the app', async () => {
    const state = preview.stack.bitbucket.state;
    const path = state.bareRepoPath('acme', 'scratch') ?? state.bareRepoPath('acme', 'inference-api');
    assert.ok(path);
    const slug = state.bareRepoPath('acme', 'scratch') ? 'scratch' : 'inference-api';
    const res = await fetch(`${preview.url}/preview/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workspace: 'acme', repository: slug }) });
    assert.equal(res.status, 200);
    const outcome = (await res.json()) as { commit: string; trigger: string; message: string };
    assert.equal(outcome.trigger, 'ignored');
    assert.match(outcome.message, /not connected/);
    const { stdout } = await run('git', ['--git-dir', path, 'rev-parse', 'HEAD']);
    assert.equal(stdout.trim(), outcome.commit);
  });

  test('a connected repository gets fetched by Valohai, and the fetch is recorded', async () => {
    const admin = frame({});
    const workspace = frame({ module: 'workspace' });
    assert.equal((await invoke(workspace, 'saveValohaiToken', { token: demoValohaiCredentials.admin.token })).body.ok, true);
    assert.equal((await invoke(workspace, 'saveBitbucketToken', { email: PEOPLE.admin.email, token: PEOPLE.admin.token })).body.ok, true);
    // Connected through the resolvers here; the browser tests drive the same through the page.
    const started = await invoke(admin, 'startConnect', { projectId: demoValohaiCredentials.project.id, ref: 'main', keyType: 'ed25519', submodules: true });
    assert.equal(started.body.ok, true, JSON.stringify(started.body));
    await preview.platform.idle();
    const job = await invoke(admin, 'getJob', { jobId: (started.body.value as { jobId: string }).jobId });
    assert.equal((job.body.value as { status: string }).status, 'done', JSON.stringify(job.body));

    const outcome = await preview.pushCommit('ml-models');
    assert.equal(outcome.trigger, 'queued');
    assert.deepEqual(outcome.fetch?.errors, []);
    assert.equal(outcome.fetch?.commits, 1);
    assert.match(outcome.message, /Valohai fetched 1 new commit\./);
    const valohai = preview.stack.valohai.state;
    assert.equal(valohai.commits(demoValohaiCredentials.project.id)[0]?.identifier, outcome.commit);
  });

  test('the bar moves the clock on (bounded) and runs the hourly check, saying what it did', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${preview.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const days of [0, -1, 1.5, 401, '30']) {
      const bad = await post('/preview/clock', { days });
      assert.equal(bad.status, 400, String(days));
      assert.match(((await bad.json()) as { message: string }).message, /from 1 to 400/);
    }
    const before = Date.parse(((await (await post('/preview/schedule', {})).json()) as { now: string }).now);
    const moved = await post('/preview/clock', { days: 30 });
    assert.equal(moved.status, 200);
    assert.match(((await moved.json()) as { message: string }).message, /30 days ahead/);
    const res = await post('/preview/schedule', {});
    assert.equal(res.status, 200);
    const outcome = (await res.json()) as { now: string; checked: string[]; message: string };
    assert.ok(Date.parse(outcome.now) - before >= 30 * 86_400_000 - 60_000, 'the backend\'s clock moved on');
    // ml-models was connected by the test above, so a day later it is due.
    assert.deepEqual(outcome.checked, ['acme/ml-models']);
    assert.match(outcome.message, /^Scheduled check: checked acme\/ml-models\.$/);
  });

  test('a body naming no known repository is a 400 with the reason', async () => {
    const res = await fetch(`${preview.url}/preview/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workspace: 'acme', repository: 'nope' }) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /No repository acme\/nope/);
  });
});

test('starting without a build names the command that makes one', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'vb-preview-empty-'));
  try {
    await assert.rejects(startPreview({ buildDir: empty }), /npm run build:ui-preview/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
