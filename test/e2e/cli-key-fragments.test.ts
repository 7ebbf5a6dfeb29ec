/**
 * The CLI as it ships, against a Valohai that quotes back the first 15 characters of each line of the
 * private key it was given (as written, JSON-escaped, URL-encoded, cut into short lines, or the key's
 * bytes as hex), in its refusal of the key or in a fetch's errors: no piece of the key's secret part
 * reaches stdout, stderr, the `--json` document or the state folder, while the failure is still told.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { runCli, type CliRun } from '../support/e2e';
import { ECHO_KINDS, startEchoingValohai, type EchoingValohai } from '../support/key-echo';
import { secretsIn } from '../support/secret-scan';

const REPO = 'acme/ml-models';
const PROJECT = 'acme/ml-models';

/** Every file of the state folder, by its path inside it. */
async function stateFiles(dir: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push([path.slice(dir.length + 1), await readFile(path, 'utf8')]);
  }
  return out;
}

describe('CLI output when Valohai quotes pieces of the private key', () => {
  let stack: Stack;
  let valohai: EchoingValohai;
  let stateDir: string;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack();
    valohai = await startEchoingValohai(stack.valohai.url);
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-key-'));
    env = { ...stack.env, VALOHAI_HOST: valohai.url, VALOHAI_BITBUCKET_STATE_DIR: stateDir, VALOHAI_BITBUCKET_RETRY_BUDGET_MS: '0' };
  });
  after(async () => {
    await valohai?.close();
    await stack?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    valohai.echo = undefined;
  });

  /** Fails when the run's output or the state folder holds any piece of the last key Valohai was given. */
  async function assertNoPiece(r: CliRun, label: string): Promise<void> {
    const key = valohai.keys[valohai.keys.length - 1];
    assert.ok(key, `${label}: Valohai was given a key`);
    const secret = [{ name: 'the private key', value: key, key: true }];
    for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ...(await stateFiles(stateDir))] as const) {
      assert.deepEqual(secretsIn(text, secret), [], `${label}: ${where} gives away pieces of the key:\n${text.slice(0, 3000)}`);
    }
  }

  for (const kind of ECHO_KINDS) {
    for (const json of [false, true]) {
      test(`connect, the key refused and quoted as ${kind}${json ? ' (--json)' : ''}: exit 1, the refusal told, no piece of the key`, async () => {
        valohai.echo = kind;
        valohai.where = 'setRepository';
        const echoed = valohai.echoed;
        const r = await runCli(['connect', REPO, '--project', PROJECT, '--key-type', 'ed25519', ...(json ? ['--json'] : [])], env);
        assert.equal(valohai.echoed, echoed + 1, 'Valohai quoted the key');
        assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
        if (json) {
          const doc = JSON.parse(r.stdout) as { error?: string };
          assert.match(doc.error ?? '', /Valohai rejected/);
        }
        assert.match(r.stderr, /Valohai rejected/);
        await assertNoPiece(r, kind);
      });
    }
  }

  test('connect with an RSA key, refused and quoted line by line: no piece of it', async () => {
    valohai.echo = 'line heads';
    valohai.where = 'setRepository';
    const r = await runCli(['connect', REPO, '--project', PROJECT, '--json'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(valohai.keys[valohai.keys.length - 1] ?? '', /BEGIN RSA PRIVATE KEY/);
    await assertNoPiece(r, 'RSA');
  });

  describe("fetch errors that quote the key", () => {
    for (const json of [false, true]) {
      test(`connect${json ? ' --json' : ''}: exit 3 with the fetch's words, no piece of the key; then rotate the same`, async () => {
        valohai.echo = 'line heads';
        valohai.where = 'fetch';
        const connected = await runCli(['connect', REPO, '--project', PROJECT, '--key-type', 'ed25519', ...(json ? ['--json'] : [])], env);
        assert.equal(connected.code, 3, `${connected.stdout}${connected.stderr}`);
        assert.match(connected.stderr, /fetch worker: unusable deploy key/);
        await assertNoPiece(connected, 'connect');
        // The public parts are still shown: the fingerprint, and the public key in the state folder.
        const fingerprint = /SHA256:[A-Za-z0-9+/]{43}/.exec(connected.stdout)?.[0];
        assert.ok(fingerprint, connected.stdout);
        const state = JSON.parse(await readFile(join(stateDir, 'connections.json'), 'utf8')) as Record<string, { publicKey: string; fingerprint: string }>;
        const record = Object.values(state).find((c) => c.fingerprint === fingerprint);
        assert.match(record?.publicKey ?? '', /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);

        valohai.echo = 'hex of the key bytes';
        const rotated = await runCli(['rotate', REPO, '--project', PROJECT, '--key-type', 'ed25519', ...(json ? ['--json'] : [])], env);
        assert.notEqual(rotated.code, 0, `${rotated.stdout}${rotated.stderr}`);
        assert.match(rotated.stderr, /fetch worker: unusable deploy key|Valohai/);
        await assertNoPiece(rotated, 'rotate');

        valohai.echo = undefined;
        const gone = await runCli(['disconnect', REPO, '--project', PROJECT, '--yes'], env);
        assert.equal(gone.code, 0, gone.stderr);
      });
    }
  });
});
