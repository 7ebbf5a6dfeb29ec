/**
 * The CLI with a key made in Valohai, end to end: the key pair is generated on the emulated Valohai's
 * repository settings page (its private half never leaves the emulator), the CLI is given the public
 * half (`--public-key-file`, a file or standard input), and Valohai's own fetch, real git over SSH,
 * proves the connection. No request the CLI makes carries a private key, and none shows anywhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials, REDACTED } from '../../dev/valohai/index';
import { normaliseKey } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { assertInvariant, cliEntry, DEMO_TARGETS, runCli, type CliRun } from '../support/e2e';
import { secretsIn, type Secret } from '../support/secret-scan';

const PROJECT = demoValohaiCredentials.project;
const REPO_ID = PROJECT.repositoryId;

/** The CLI with `input` on its standard input. */
function runCliWithStdin(args: string[], env: Record<string, string>, input: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry(), ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('CLI: a key made in Valohai', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  const runs: CliRun[] = [];
  /** Every private key in play: the ones Valohai made (read from the emulator only to look for them) and one given by mistake. */
  const secrets: Secret[] = [];
  const cli = async (...args: string[]) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };
  const keysOn = (slug: string) => stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key);

  /** "Generate SSH Key" on Valohai's page; the public half as Valohai shows it. */
  async function generateInValohai(): Promise<string> {
    const res = await fetch(`${stack.valohai.settingsPageUrl(PROJECT.owner, PROJECT.name)}generate-key/`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(res.status, 201);
    const made = ((await res.json()) as { public_key: string }).public_key;
    secrets.push({ name: `Valohai's private key ${secrets.length + 1}`, value: stack.valohai.state.keyFor(REPO_ID) ?? '', key: true });
    return made;
  }

  before(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'vb-cli-vkey-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: join(dir, 'state') };
  });
  after(async () => {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('connect --public-key-file: the key on the repository and its submodules, Valohai fetches and lists the head', async () => {
    const pub = await generateInValohai();
    // Before the key is on Bitbucket, Valohai's own fetch (its page's Fetch button) is refused.
    const settings = new URLSearchParams({ url: 'git@bitbucket.org:acme/ml-models.git', ref: 'main' });
    await fetch(stack.valohai.settingsPageUrl(PROJECT.owner, PROJECT.name), { method: 'POST', redirect: 'manual', body: settings });
    const refused = await fetch(`${stack.valohai.settingsPageUrl(PROJECT.owner, PROJECT.name)}fetch/`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.match(((await refused.json()) as { errors: string[] }).errors.join(), /Permission denied \(publickey\)/);
    const file = join(dir, 'valohai.pub');
    await writeFile(file, `${pub}\n`);
    const r = await cli('connect', 'acme/ml-models', '--project', `${PROJECT.owner}/${PROJECT.name}`, '--public-key-file', file, '--json');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.verified, true);
    assert.equal(result.keySource, 'valohai');
    // Valohai already had this repository's URL and reference (entered above): nothing to write, nothing named.
    assert.equal(result.valohaiSettings, undefined);
    for (const slug of DEMO_TARGETS) assert.deepEqual(keysOn(slug), [normaliseKey(pub)], slug);
    assert.ok(stack.valohai.state.commits(PROJECT.id).some((c) => c.identifier === result.headCommit), 'Valohai lists the head');
    assert.equal(await assertInvariant(stack, REPO_ID), normaliseKey(pub));
    const state = JSON.stringify(await Promise.all((await readdir(env.VALOHAI_BITBUCKET_STATE_DIR ?? '')).filter((f) => f.endsWith('.json')).map((f) => readFile(join(env.VALOHAI_BITBUCKET_STATE_DIR ?? '', f), 'utf8'))));
    assert.match(state, /keySource[^a-z]+valohai/);
  });

  test('status and a plain rotate: the connection says its key was made in Valohai; rotate without a new key is refused', async () => {
    const before = DEMO_TARGETS.map(keysOn);
    const r = await cli('rotate', 'acme/ml-models', '--project', PROJECT.id);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /made in Valohai[\s\S]*Generate SSH Key/);
    assert.deepEqual(DEMO_TARGETS.map(keysOn), before);
  });

  test('rotate --public-key-file - with a newly generated key: added everywhere, verified, the old key gone from every target', async () => {
    const old = normaliseKey(keysOn('ml-models')[0] ?? '');
    const pub = await generateInValohai();
    const r = await runCliWithStdin(['rotate', 'acme/ml-models', '--project', PROJECT.id, '--public-key-file', '-'], env, `${pub}\n`);
    runs.push(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(made in Valohai\)/);
    assert.match(r.stdout, /rotate: verified\./);
    for (const slug of DEMO_TARGETS) {
      assert.deepEqual(keysOn(slug), [normaliseKey(pub)], slug);
      assert.ok(!keysOn(slug).includes(old), `old key gone from ${slug}`);
    }
    assert.equal(await assertInvariant(stack, REPO_ID), normaliseKey(pub));
  });

  test('a private key given as the public key is refused, from a file or standard input, and never shown', async () => {
    const pair = await generateKeyPair({ type: 'ed25519' });
    secrets.push({ name: 'the private key given by mistake', value: pair.privateKey, key: true });
    const file = join(dir, 'oops');
    await writeFile(file, pair.privateKey);
    const before = DEMO_TARGETS.map(keysOn);
    for (const r of [
      await cli('rotate', 'acme/ml-models', '--project', PROJECT.id, '--public-key-file', file),
      await runCliWithStdin(['connect', 'acme/ml-models', '--project', PROJECT.id, '--public-key-file', '-'], env, pair.privateKey),
    ]) {
      runs.push(r);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /This is a private key, which must never leave Valohai/);
      assert.deepEqual(secretsIn(r.stdout + r.stderr, secrets), []);
    }
    assert.deepEqual(DEMO_TARGETS.map(keysOn), before, 'nothing changed');
    const tooSmall = join(dir, 'small.pub');
    await writeFile(tooSmall, 'ssh-dss AAAAB3NzaC1kc3MAAACBAP');
    const dss = await cli('connect', 'acme/ml-models', '--project', PROJECT.id, '--public-key-file', tooSmall);
    assert.equal(dss.code, 2);
    assert.match(dss.stderr, /ssh-dss keys are not accepted/);
    const both = await cli('connect', 'acme/ml-models', '--project', PROJECT.id, '--public-key-file', tooSmall, '--key-type', 'ed25519');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /leave out --key-type/);
  });

  test('disconnect removes the key from every repository and says to remove it in Valohai', async () => {
    const r = await cli('disconnect', 'acme/ml-models', '--project', PROJECT.id, '--yes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /made in Valohai: remove it in Valohai project ml-models \(Settings › Repository\)/);
    for (const slug of DEMO_TARGETS) assert.deepEqual(keysOn(slug), [], slug);
    assert.equal(stack.valohai.state.project(PROJECT.id)?.repository?.sshKeySet, true, 'Valohai keeps the key it made until the admin removes it');
  });

  test('Valohai recorded no write carrying a private key, and no private key shows in any output, request or state file', async () => {
    assert.ok(stack.valohai.requests.length > 10);
    for (const req of stack.valohai.requests) {
      assert.ok(!req.body.includes('ssh_private_key') && !req.body.includes(REDACTED), `${req.method} ${req.path} carried a key`);
    }
    const writes = stack.valohai.requests.filter((r) => r.method === 'PATCH' || r.method === 'PUT');
    assert.deepEqual(writes, [], 'Valohai already had the URL and reference: the CLI wrote nothing there');
    const stateFiles = await readdir(env.VALOHAI_BITBUCKET_STATE_DIR ?? '', { recursive: true });
    const stateText = (
      await Promise.all(stateFiles.map((f) => readFile(join(env.VALOHAI_BITBUCKET_STATE_DIR ?? '', String(f)), 'utf8').catch(() => '')))
    ).join('\n');
    const seen = [
      ...runs.map((r) => r.stdout + r.stderr),
      JSON.stringify(stack.valohai.requests),
      JSON.stringify(stack.bitbucket.requests),
      stateText,
    ];
    assert.equal(secrets.filter((s) => s.value).length, 3);
    for (const text of seen) assert.deepEqual(secretsIn(text, secrets), []);
  });
});
