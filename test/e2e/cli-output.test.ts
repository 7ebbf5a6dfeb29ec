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
import { runCli, type CliRun } from '../support/e2e';

const PROJECT = 'acme/ml-models';
const ESC = '\x1b';
/** A window title, then cursor up and erase line: enough to hide the line above it. */
const HIDE = `${ESC}]0;all good${'\x07'}${ESC}[1A${ESC}[2K`;
/** A right-to-left override that would show "txt.exe" as "exe.txt". */
const BIDI = '\u202e';

/** What a terminal acts on: C0 controls other than tab and newline, DEL, C1 controls, bidi controls. */
function isActedOn(cp: number): boolean {
  if (cp === 0x09 || cp === 0x0a) return false;
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || [0x061c, 0x200e, 0x200f].includes(cp) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

function assertInert(r: CliRun, what: string): void {
  for (const [name, text] of [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ] as const) {
    const at = [...text].findIndex((c) => isActedOn(c.codePointAt(0) as number));
    const around = [...text].slice(Math.max(0, at - 40), at + 20).join('');
    assert.equal(at, -1, `${what}: ${name} carries U+${[...text][at]?.codePointAt(0)?.toString(16).padStart(4, '0')} at …${JSON.stringify(around)}…`);
  }
}

/** The demo seed, with a last commit on acme/ml-models whose .gitmodules hides things in names and URLs. */
function hostileSeed(): Seed {
  const seed = structuredClone(demoSeed);
  const repo = seed.workspaces.find((w) => w.slug === 'acme')?.repos.find((r) => r.slug === 'ml-models');
  assert.ok(repo?.commits);
  // Private here, so that its https submodule is one Valohai cannot fetch: warned about, by its hostile name.
  const docs = seed.workspaces.find((w) => w.slug === 'acme')?.repos.find((r) => r.slug === 'docs-site');
  assert.ok(docs);
  docs.isPrivate = true;
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

  test('connect --dry-run shows every repository that gets the key, with no control sequence from .gitmodules', async () => {
    const r = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--dry-run'], env);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r, 'connect --dry-run');
    for (const repo of ['acme/ml-models', 'acme/datasets', 'acme/training-lib', 'acme/docs-site']) assert.match(r.stdout, new RegExp(`add a new RSA 4096 key to ${repo}\n`));
    // The names are still there, their controls shown as visible text rather than acted on.
    assert.match(r.stdout, /docs-site/);
    assert.match(r.stdout, /warning: .*do.*cs/);
  });

  test('--json stays exact JSON, its messages as readable as on the screen', async () => {
    const r = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--dry-run', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { accessKeys: { repository: string }[]; warnings: { message: string }[] };
    assert.equal(plan.accessKeys.length, 5);
    assertInert({ ...r, stdout: JSON.stringify(plan) }, 'connect --dry-run --json');
    const visible = String.raw`"do\u202Ecs\x1b]0;all good\x07\x1b[1A\x1b[2K"`;
    assert.ok(plan.warnings.some((w) => w.message.includes(visible)), JSON.stringify(plan.warnings));
  });

  test("a server's words with control sequences are shown inert", async () => {
    stack.bitbucket.faults.add({ path: '/repositories/acme/ml-models$', status: 400, body: { type: 'error', error: { message: `Bad${HIDE} request` } } });
    const bb = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--dry-run'], env);
    assert.equal(bb.code, 1);
    assertInert(bb, 'a Bitbucket 400');
    stack.valohai.faults.add({ path: '/fetch/$', status: 201, body: { commits: [], errors: [`fatal: could not read${HIDE} from remote${BIDI}`] } });
    const vh = await runCli(['sync', '--project', PROJECT], env);
    assert.equal(vh.code, 3, vh.stderr);
    assert.match(vh.stderr, /could not read/);
    assertInert(vh, 'a Valohai fetch error');
  });
});
