// Self-hosted Valohai: `npm run valohai-hosts -- <host>...` sets the hosts in manifest.yml's egress
// (keeping its comments and layout, and Bitbucket's entry) and the backend's copy of the list; the
// manifest so changed still passes Forge's validator; the Forge platform carries exactly the
// manifest's list; and the workspace page refuses to save any other host, naming the command.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ProcessorBuilder, ValidationTypes, type ValidationError } from '@forge/manifest';
import { parse } from 'yaml';
import { createForgePlatform } from '../../src/forge/platform/forge';
import { keys } from '../../src/forge/store/keys';
import { VALOHAI_EGRESS_HOSTS } from '../../src/forge/platform/valohai-hosts';
import { errorOf, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const GENERATED = 'src/forge/platform/valohai-hosts.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string, args: string[], cwd: string): Promise<Run> {
  try {
    const r = await run(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const egressOf = (manifestText: string): string[] =>
  ((parse(manifestText) as { permissions: { external: { fetch: { backend: { address: string }[] } } } }).permissions.external.fetch.backend).map((e) => e.address);

/** A checkout-shaped folder: its own manifest.yml, package.json and generated list; what the validator and npm need, linked. */
function tempProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vb-hosts-'));
  for (const file of ['manifest.yml', 'package.json']) copyFileSync(join(root, file), join(dir, file));
  mkdirSync(join(dir, dirname(GENERATED)), { recursive: true });
  copyFileSync(join(root, GENERATED), join(dir, GENERATED));
  for (const link of ['scripts', 'static', 'node_modules', 'src/forge/index.ts']) symlinkSync(join(root, link), join(dir, link));
  return dir;
}

describe('npm run valohai-hosts', () => {
  let dir: string;
  let original: string;
  const hosts = (...args: string[]) => sh('npm', ['run', '--silent', 'valohai-hosts', '--', ...args], dir);
  const manifest = () => readFileSync(join(dir, 'manifest.yml'), 'utf8');

  before(() => {
    dir = tempProject();
    original = manifest();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("the project's backend list is the manifest's", async () => {
    assert.equal((await sh(process.execPath, ['scripts/valohai-hosts.mjs', '--check'], root)).code, 0, `${GENERATED} is stale: npm run build rewrites it`);
    assert.deepEqual(
      egressOf(readFileSync(join(root, 'manifest.yml'), 'utf8')).filter((h) => h !== 'api.bitbucket.org'),
      [...VALOHAI_EGRESS_HOSTS],
    );
    assert.deepEqual(createForgePlatform().valohaiOrigins, VALOHAI_EGRESS_HOSTS.map((h) => `https://${h}`));
  });

  test('without arguments it prints the hosts allowed now', async () => {
    const r = await hosts();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Valohai hosts the app may call: app\.valohai\.com/);
    assert.equal(manifest(), original);
  });

  test('refuses anything but https host names, naming the problem, and changes nothing', async () => {
    for (const [input, why] of [
      ['http://valohai.example.com', /https only/],
      ['valohai.example.com:8443', /port 443/],
      ['https://valohai.example.com/api', /host name only/],
      ['*.example.com', /wildcard/],
      ['10.1.2.3', /not an IP address/],
      ['localhost', /is not a host name/],
      ['bad_name.example.com', /is not a host name/],
      ['api.bitbucket.org', /always allowed/],
    ] as const) {
      const r = await hosts(input);
      assert.equal(r.code, 2, `${input}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, why, input);
      assert.match(r.stderr, /Usage: npm run valohai-hosts -- <valohai-host>/);
    }
    assert.equal(manifest(), original);
  });

  test('sets the hosts in the egress list and nothing else in the manifest, and the backend list with them', async () => {
    const r = await hosts('valohai.example.com', 'https://ML.Example.org/', 'valohai.example.com');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /https:\/\/valohai\.example\.com, https:\/\/ml\.example\.org/);
    assert.match(r.stdout, /forge deploy/);
    const changed = manifest();
    assert.deepEqual(egressOf(changed), ['valohai.example.com', 'ml.example.org', 'api.bitbucket.org']);
    // Comments and layout stay: the only change is the Valohai line, now two.
    const before = original.split('\n');
    const after = changed.split('\n');
    const at = before.indexOf('        - address: app.valohai.com');
    assert.ok(at > 0);
    assert.deepEqual(after, [...before.slice(0, at), '        - address: valohai.example.com', '        - address: ml.example.org', ...before.slice(at + 1)]);
    assert.match(readFileSync(join(dir, GENERATED), 'utf8'), /\['valohai\.example\.com', 'ml\.example\.org'\]/);
    assert.equal((await sh(process.execPath, ['scripts/valohai-hosts.mjs', '--check'], dir)).code, 0);
  });

  test("the changed manifest passes Forge's validator with no errors and no warnings", async () => {
    for (const type of [ValidationTypes.FULL, ValidationTypes.DEPRECATED_EGRESS_PERMISSIONS]) {
      const result = await ProcessorBuilder.instance().withValidation(type).build().process(join(dir, 'manifest.yml'));
      const problems = (result.errors ?? []).map((e: ValidationError) => `${e.level}: ${e.message} (line ${e.line ?? '?'})`);
      assert.deepEqual(problems, [], type);
    }
  });

  test('a hand edit of the manifest is caught, and the build takes the list from the manifest', async () => {
    writeFileSync(join(dir, 'manifest.yml'), manifest().replace('address: ml.example.org', 'address: edited.example.org'));
    const check = await sh(process.execPath, ['scripts/valohai-hosts.mjs', '--check'], dir);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /does not match manifest\.yml/);
    assert.equal((await sh(process.execPath, ['scripts/valohai-hosts.mjs', '--sync'], dir)).code, 0);
    assert.match(readFileSync(join(dir, GENERATED), 'utf8'), /\['valohai\.example\.com', 'edited\.example\.org'\]/);
  });
});

describe('the workspace page and the allowed hosts', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  test('a Valohai host outside the egress list is refused before it is called, naming the command to run', async () => {
    const made: string[] = [];
    const makeValohai = h.platform.makeValohai.bind(h.platform);
    h.platform.makeValohai = (connection, limits) => {
      made.push(connection.host);
      return makeValohai(connection, limits);
    };
    const error = errorOf(await h.call('saveValohaiToken', { host: 'https://valohai.example.com', token: vh.admin.token }, h.context('admin')));
    assert.equal(error.code, 'host-not-allowed');
    assert.match(error.message, /may not call Valohai at https:\/\/valohai\.example\.com/);
    assert.match(error.message, /only https:\/\/app\.valohai\.com/);
    assert.match(error.message, /Nothing was saved/);
    assert.match(error.fix, /npm run valohai-hosts -- valohai\.example\.com/);
    assert.match(error.fix, /forge deploy/);
    assert.equal(h.platform.secrets.dump().size, 0);
    assert.equal(await h.platform.store.get(keys.settings(h.workspaceId)), undefined);
    assert.deepEqual(made, [], 'no Valohai client was made for the refused host');
  });

  test('only workspace admins learn even that', async () => {
    assert.equal(errorOf(await h.call('saveValohaiToken', { host: 'https://valohai.example.com', token: 'x' }, h.context('writer'))).code, 'not-admin');
  });

  test('a host on the list is saved once Valohai accepts the token', async () => {
    const summary = valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    assert.equal(summary.configured, true);
  });
});
