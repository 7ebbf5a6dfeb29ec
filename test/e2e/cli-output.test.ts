/**
 * What the CLI prints is ours: no credential a server quotes back, and no terminal control sequence
 * from repository content or a server's words. The real `valohai-bitbucket` process runs against the
 * stand-ins; its raw stdout and stderr bytes are checked.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoSeed, type Seed } from '../../dev/seed/index';
import { runCli } from '../support/e2e';

const PROJECT = 'acme/ml-models';
const ESC = '\x1b';
/** A window title, then cursor up and erase line: enough to hide the line above it. */
const HIDE = `${ESC}]0;all good${'\x07'}${ESC}[1A${ESC}[2K`;
/** A right-to-left override that would show "txt.exe" as "exe.txt". */
const BIDI = '\u202e';

/** The demo seed, with a last commit on acme/ml-models whose .gitmodules hides things in names and URLs. */
function hostileSeed(): Seed {
  const seed = structuredClone(demoSeed);
  const repo = seed.workspaces.find((w) => w.slug === 'acme')?.repos.find((r) => r.slug === 'ml-models');
  assert.ok(repo?.commits);
  repo.commits.push({
    message: 'Rename submodules',
    files: {
      '.gitmodules': [
        `[submodule "data${HIDE}sets"]`,
        '\tpath = datasets',
        '\turl = ../datasets.git',
        `[submodule "libs/training-lib"]`,
        '\tpath = libs/training-lib',
        '\turl = git@bitbucket.org:acme/training-lib.git',
        `[submodule "do${BIDI}cs${HIDE}"]`,
        '\tpath = docs',
        '\turl = https://bitbucket.org/acme/docs-site.git',
        `[submodule "tools"]`,
        '\tpath = tools',
        `\turl = git@git${ESC}[2K.example.com:team/tools${'\x9b'}2K.git`,
        '',
      ].join('\n'),
    },
  });
  return seed;
}

describe('CLI output', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack({ seed: hostileSeed() });
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-out-'));
    // No waiting between retries: the 500s below are retried, and the test is not about timing.
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir, VALOHAI_BITBUCKET_RETRY_BUDGET_MS: '0' };
  });
  after(async () => {
    await stack.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    stack.bitbucket.faults.clear();
    stack.valohai.faults.clear();
  });

  describe('a Bitbucket error body that quotes the API token', () => {
    const token = () => stack.env.BITBUCKET_API_TOKEN;
    const basic = () => Buffer.from(`${stack.env.BITBUCKET_EMAIL}:${token()}`).toString('base64');
    const bodies = () => [
      { status: 403, body: { type: 'error', error: { message: `Token ${token()} lacks access`, detail: `Authorization: Basic ${basic()}` } } },
      { status: 403, body: { type: 'error', error: { message: 'Forbidden', detail: `credentials ${token()}` } } },
      { status: 500, body: `<html><head><title>Error for ${token()}</title></head><body>Basic ${basic()}</body></html>` },
      { status: 500, body: `Internal error while serving ${token()}` },
    ];

    for (const json of [false, true]) {
      test(`never reaches the screen${json ? ' (--json)' : ''}`, async () => {
        for (const { status, body } of bodies()) {
          stack.bitbucket.faults.clear();
          stack.bitbucket.faults.add({ path: '/repositories/acme/ml-models$', status, body });
          const r = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--dry-run', ...(json ? ['--json'] : [])], env);
          assert.equal(r.code, 1, `${status}: ${r.stdout}${r.stderr}`);
          assert.match(`${r.stdout}${r.stderr}`, new RegExp(`${status}`), 'the failure is reported');
          for (const secret of [token(), basic()]) {
            assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${status} ${JSON.stringify(body).slice(0, 60)}: the token reached the screen:\n${r.stdout}${r.stderr}`);
          }
        }
      });
    }
  });
});
