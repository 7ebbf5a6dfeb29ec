/**
 * The fault matrix, shared by test/e2e/fault-matrix-*.test.ts (one file per lane, below, so the test
 * runner runs them side by side): faults at every API call of connect, rotate and disconnect against
 * the stand-ins. After each faulted run: the exit status says what happened, the key Valohai holds still
 * opens every repository it must fetch (real `git ls-remote` over SSH, unless the lane already reached
 * the very access key records holding that key: see assertInvariant), and every key still on Bitbucket
 * besides Valohai's is named on stderr as left in place. Then the same command without faults repairs:
 * exit 0 and a clean state.
 *
 * Where the command runs: for each workflow and fault kind, the first call of the list runs the faulted
 * command as the CLI ships (dist/cli.js, a child process, with `--json`), so exit codes, stdout, stderr
 * and the JSON document are checked at the process boundary for every workflow × fault kind. Every
 * other case runs the very same commander program in this process (`registerWorkflows` with captured
 * screens and the case's environment): the same wiring, ports and printing, without paying for a
 * process start. The run again without faults is always in this process.
 *
 * The superproject is acme/inference-api, whose submodules are all relative SSH ones: every target is
 * on Bitbucket, so a clean run verifies. Workflows: connect on a fresh Valohai project, rotate and
 * disconnect on a connection in place, and connect on a connection in place ("connect again", only
 * the calls where its path differs from connect's). Each lane is a file of its own on its own stack, so
 * that lanes run side by side in processes of their own; runs use Ed25519 keys because an RSA-4096 key per run would add minutes and the key
 * type plays no part in the ordering under test.
 *
 * Left out because the workflow never makes the call (the matrix only holds combinations that are hit,
 * and each case asserts that its fault was hit):
 * - connect (fresh project): DELETE deploy-keys/{id} (only an undo makes it, and undo needs a second
 *   fault), GET commits/ (a fresh project's fetch lists the head commit as new, so nothing is listed);
 * - disconnect: POST deploy-keys, POST fetch/, GET commits/.
 * - "fail only the Nth call" on PATCH repositories/{id}/ and POST fetch/ is the first call: each
 *   workflow makes one (a second PATCH is only ever an undo).
 * Left out because the fault does not exist on the wire: "malformed body" on DELETE deploy-keys/{id}
 * and PATCH repositories/{id}/. Their success answers carry nothing the client reads, so the
 * injector's 200 there is a server claiming a change it never made, not a broken answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { startStack, type Stack } from '../../dev/stack';
import type { FaultRule } from '../../dev/faults';
import { demoBitbucketCredentials } from '../../dev/seed/index';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { BitbucketClient, createFetchTransport } from '../../src/bitbucket/index';
import { registerWorkflows, type CliIO } from '../../src/cli/commands/workflows';
import { credentialsOf, screenOf } from '../../src/cli/screen';
import { FileConnectionStore } from '../../src/cli/state';
import { connect, disconnect, ownCredentials, type WorkflowDeps } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';
import { assertInvariant, runCli, type CliRun } from './e2e';

export const WORKSPACE = 'acme';
const SUPER = 'inference-api';
const REPO = `${WORKSPACE}/${SUPER}`;
export const TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];
/**
 * Retries give up within about a second: at most five attempts with waits of 50-250 ms. Roomy enough
 * that a single failed call is always retried even when the machine is busy.
 */
const RETRY_BUDGET_MS = '1000';
/**
 * Per request. The CLI's default (30 s) is for people; a busy machine running the whole suite has made
 * a Valohai fetch (real git over SSH for four repositories) outlast it, which read as ETIMEDOUT. Two
 * minutes is roomy and still bounded, as is each case (CASE_TIMEOUT_MS).
 */
const REQUEST_TIMEOUT_MS = '120000';
/** A case is at most two runs and a few git fetches: bounded, so a hang fails with its name. */
export const CASE_TIMEOUT_MS = 600_000;

/** 'connect again' is the connect command on a connection already in place (it verifies, no new key). */
export type Workflow = 'connect' | 'connect again' | 'rotate' | 'disconnect';
export type CallName =
  | 'GET repository'
  | 'GET branch'
  | 'GET src'
  | 'GET deploy-keys'
  | 'POST deploy-keys'
  | 'DELETE deploy-key'
  | 'GET projects'
  | 'PATCH repository settings'
  | 'POST fetch'
  | 'GET commits';
export type Kind = '500 always' | '429 always' | 'reset always' | 'malformed always' | 'Nth call 500' | 'Nth call refused';

interface CallSpec {
  system: 'bitbucket' | 'valohai';
  method: string;
  path: string;
  write: boolean;
  /** Which call "fail only the Nth call" hits: the second of the four parallel key writes. */
  nth: number;
  /** Its success answer carries nothing the client reads (DELETE 204, PATCH whose echo is ignored). */
  bodyless?: boolean;
  /** A permanent refusal for "Nth call refused" (not retried). */
  refused?: Pick<FaultRule, 'status' | 'body'>;
}

export const CALLS: Record<CallName, CallSpec> = {
  'GET repository': { system: 'bitbucket', method: 'GET', path: '^/2\\.0/repositories/[^/]+/[^/]+/?$', write: false, nth: 1 },
  'GET branch': { system: 'bitbucket', method: 'GET', path: '/refs/branches/', write: false, nth: 1 },
  'GET src': { system: 'bitbucket', method: 'GET', path: '/src/', write: false, nth: 1 },
  'GET deploy-keys': { system: 'bitbucket', method: 'GET', path: '/deploy-keys/?$', write: false, nth: 1 },
  'POST deploy-keys': {
    system: 'bitbucket',
    method: 'POST',
    path: '/deploy-keys/?$',
    write: true,
    nth: 2,
    refused: { status: 403, body: { type: 'error', error: { message: 'You do not have access to this repository.' } } },
  },
  'DELETE deploy-key': {
    system: 'bitbucket',
    method: 'DELETE',
    path: '/deploy-keys/\\d+/?$',
    write: true,
    bodyless: true,
    nth: 2,
    refused: { status: 403, body: { type: 'error', error: { message: 'You do not have access to this repository.' } } },
  },
  'GET projects': { system: 'valohai', method: 'GET', path: '^/api/v0/projects/?$', write: false, nth: 1 },
  'PATCH repository settings': {
    system: 'valohai',
    method: 'PATCH',
    path: '^/api/v0/repositories/\\d+/$',
    write: true,
    bodyless: true,
    nth: 1,
    refused: { status: 400, body: { ssh_private_key: ['This key could not be stored.'] } },
  },
  'POST fetch': {
    system: 'valohai',
    method: 'POST',
    path: '^/api/v0/projects/[^/]+/fetch/$',
    write: true,
    nth: 1,
    refused: { status: 403, body: { detail: 'You do not have permission to perform this action.' } },
  },
  'GET commits': { system: 'valohai', method: 'GET', path: '^/api/v0/commits/$', write: false, nth: 1 },
};

const CALLS_MADE: Record<Workflow, CallName[]> = {
  connect: ['GET repository', 'GET branch', 'GET src', 'GET deploy-keys', 'POST deploy-keys', 'GET projects', 'PATCH repository settings', 'POST fetch'],
  rotate: [
    'GET repository',
    'GET branch',
    'GET src',
    'GET deploy-keys',
    'POST deploy-keys',
    'DELETE deploy-key',
    'GET projects',
    'PATCH repository settings',
    'POST fetch',
    'GET commits',
  ],
  disconnect: ['GET repository', 'GET branch', 'GET src', 'GET deploy-keys', 'DELETE deploy-key', 'GET projects', 'PATCH repository settings'],
  // Its reads are connect's own (same code, covered above); only what follows them differs.
  'connect again': ['POST fetch', 'GET commits'],
};

const ALWAYS: Kind[] = ['500 always', '429 always', 'reset always', 'malformed always'];
const NTH: Kind[] = ['Nth call 500', 'Nth call refused'];

function faultRule(call: CallSpec, kind: Kind): FaultRule {
  const base = { method: call.method, path: call.path };
  const bb = call.system === 'bitbucket';
  switch (kind) {
    case '500 always':
      return bb
        ? { ...base, status: 500, body: { type: 'error', error: { message: 'Something went wrong.' } } }
        : { ...base, status: 500, body: '<h1>Server Error (500)</h1>', headers: { 'content-type': 'text/html' } };
    case '429 always':
      return bb
        ? { ...base, status: 429, body: 'Rate limit for this resource has been exceeded' }
        : { ...base, status: 429, body: { detail: 'Request was throttled.' }, headers: { 'retry-after': '1' } };
    case 'reset always':
      return { ...base, reset: true };
    case 'malformed always':
      return { ...base, malformed: true };
    case 'Nth call 500':
      return { ...faultRule(call, '500 always'), after: call.nth - 1, times: 1 };
    case 'Nth call refused':
      return { ...base, ...call.refused, after: call.nth - 1, times: 1 };
  }
}

/**
 * The exit status the product owes. A fault the retries absorb is invisible (0). Once Valohai holds a
 * key that is on every target and nothing may be undone (rotate after handing over the new key, connect
 * on a connection in place), a fetch or commit listing that fails leaves the connection configured but
 * unverified (3), rotate's old keys kept. Everything else fails (1): undone, or what stays is named.
 */
function expectedExit(workflow: Workflow, call: CallName, kind: Kind): number {
  if (kind === 'Nth call 500') return 0;
  // GET src answers raw bytes, so a broken body reads as an unreadable .gitmodules: connect and rotate
  // refuse to move a key they cannot place on every submodule repository, while disconnect still
  // reaches each one through the repositories it remembers.
  if (workflow === 'disconnect' && call === 'GET src' && kind === 'malformed always') return 0;
  if ((workflow === 'rotate' || workflow === 'connect again') && (call === 'POST fetch' || call === 'GET commits')) return 3;
  return 1;
}

export interface Case {
  workflow: Workflow;
  call: CallName;
  kind: Kind;
}

export function casesOf(workflow: Workflow): Case[] {
  return CALLS_MADE[workflow].flatMap((call) =>
    [...ALWAYS, ...(CALLS[call].write ? NTH : [])]
      .filter((kind) => !(kind === 'malformed always' && CALLS[call].bodyless))
      .map((kind) => ({ workflow, call, kind })),
  );
}

/** One stack with its own state dir: a lane of cases that run one after another. */
export class Lane {
  stack!: Stack;
  stateDir!: string;
  env!: Record<string, string>;
  project = { name: '', id: '', repositoryId: 0 };
  /** States of this lane's stack already reached with git (see assertInvariant). */
  readonly reached = new Set<string>();
  private projects = 0;

  async start(): Promise<void> {
    // The emulator's hourly rate limit would run out long before the matrix does.
    this.stack = await startStack({ rateLimitPerHour: 1_000_000 });
    this.stateDir = await mkdtemp(join(tmpdir(), 'vb-faults-state-'));
    this.env = {
      ...this.stack.env,
      VALOHAI_BITBUCKET_STATE_DIR: this.stateDir,
      // The matrix sends thousands of requests an hour, as its emulator allows: this computer's count must allow them too.
      VALOHAI_BITBUCKET_REQUESTS_PER_HOUR: '1000000',
      VALOHAI_BITBUCKET_RETRY_BUDGET_MS: RETRY_BUDGET_MS,
      VALOHAI_BITBUCKET_TIMEOUT_MS: REQUEST_TIMEOUT_MS,
    };
  }

  async close(): Promise<void> {
    await this.stack?.close();
    if (this.stateDir) await rm(this.stateDir, { recursive: true, force: true });
  }

  /** A new Valohai project through Valohai's own API: nothing fetched, no key, no commits. */
  async newProject(): Promise<void> {
    const name = `${SUPER}-${++this.projects}`;
    const res = await fetch(`${this.stack.valohai.apiUrl}/projects/`, {
      method: 'POST',
      headers: { Authorization: `Token ${demoValohaiCredentials.admin.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, owner: 'acme' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const body = (await res.json()) as { id: string; repository: { id: number } };
    this.project = { name, id: body.id, repositoryId: body.repository.id };
  }

  /** The workflows in this process, wired like the CLI wires them (no retry budget: setup must not flake). */
  deps(): WorkflowDeps {
    return {
      authority: ownCredentials,
      bitbucket: new BitbucketClient({
        transport: createFetchTransport({
          baseUrl: this.stack.bitbucket.url,
          email: demoBitbucketCredentials.admin.email,
          apiToken: demoBitbucketCredentials.admin.token,
          timeoutMs: Number(REQUEST_TIMEOUT_MS),
        }),
      }),
      valohai: new ValohaiClient({ host: this.stack.valohai.url, token: demoValohaiCredentials.admin.token, timeoutMs: Number(REQUEST_TIMEOUT_MS) }),
      generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
      store: new FileConnectionStore(this.stateDir),
    };
  }

  args(workflow: Workflow): string[] {
    const common = [REPO, '--project', `acme/${this.project.name}`];
    if (workflow === 'disconnect') return ['disconnect', ...common, '--yes'];
    return [command(workflow), ...common, '--key-type', 'ed25519'];
  }

  keys(slug: string) {
    return this.stack.bitbucket.state.accessKeys(WORKSPACE, slug);
  }

  /**
   * Connected with one key per target, Valohai holding it. When a failed case left something else,
   * disconnects and connects in-process, so one failure does not spill into the next case.
   */
  async ensureConnected(): Promise<void> {
    if (this.cleanlyConnected()) return;
    const gone = await disconnect(this.deps(), { workspace: WORKSPACE, repo: SUPER, project: this.project.id });
    assert.equal(gone.outcome, 'done', gone.error);
    const r = await connect(this.deps(), { workspace: WORKSPACE, repo: SUPER, project: this.project.id, submodules: true, keyType: 'ed25519' });
    assert.equal(r.outcome, 'done', r.error);
    assert.ok(this.cleanlyConnected(), 'setup: connected with one key per target');
  }

  /** Nothing connected: a new project and no access key on any target. */
  async ensureFresh(): Promise<void> {
    if (this.project.id) {
      const r = await disconnect(this.deps(), { workspace: WORKSPACE, repo: SUPER, project: this.project.id });
      assert.equal(r.outcome, 'done', r.error);
    }
    for (const slug of TARGETS) assert.deepEqual(this.keys(slug), [], `setup: no key left on ${slug}`);
    await this.newProject();
  }

  cleanlyConnected(): boolean {
    const held = this.stack.valohai.state.keyFor(this.project.repositoryId);
    return Boolean(held) && TARGETS.every((slug) => this.keys(slug).length === 1);
  }
}

function command(workflow: Workflow): string {
  return workflow === 'connect again' ? 'connect' : workflow;
}

const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?\n/;

/** Lines of stderr that name what was left in place. */
function leftInPlace(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.trimStart().startsWith('left in place:'))
    .map((l) => l.trim());
}

/** True when one of `lines` names key `id` on `repository` (by id, or as "any key of this connection"). */
function named(lines: string[], repository: string, id: number): boolean {
  const esc = repository.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const byId = new RegExp(`\\bkey ${id} on ${esc}\\b`);
  const any = new RegExp(`\\bany key of this connection on ${esc}\\b`);
  return lines.some((l) => byId.test(l) || any.test(l));
}

/**
 * After a faulted run: the invariant holds, and every key on Bitbucket besides Valohai's own is named
 * as left in place. Returns Valohai's public key, if it holds one.
 */
async function checkAfterFault(lane: Lane, run: CliRun, label: string): Promise<string | null> {
  const held = await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS, lane.reached);
  const lines = leftInPlace(run.stderr);
  for (const slug of TARGETS) {
    for (const key of lane.keys(slug)) {
      if (key.key === held) continue;
      assert.ok(
        named(lines, `${WORKSPACE}/${slug}`, key.id),
        `${label}: key ${key.id} on ${WORKSPACE}/${slug} stays but stderr does not name it\n${run.stderr}`,
      );
    }
  }
  return held;
}

/** A clean end state: connected (one key per target, Valohai's) or disconnected (no key anywhere). */
export async function checkClean(lane: Lane, workflow: Workflow, label: string): Promise<void> {
  if (workflow === 'disconnect') {
    assert.equal(lane.stack.valohai.state.hasKey(lane.project.repositoryId), false, `${label}: Valohai still holds a key`);
    for (const slug of TARGETS) assert.deepEqual(lane.keys(slug), [], `${label}: keys left on ${slug}`);
    return;
  }
  const held = await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS, lane.reached);
  assert.ok(held, `${label}: Valohai holds no key`);
  for (const slug of TARGETS) {
    assert.deepEqual(
      lane.keys(slug).map((k) => k.key),
      [held],
      `${label}: ${slug} should hold exactly Valohai's key`,
    );
  }
}

/** Where a command runs: the shipped CLI as a child process, or its commander program in this process. */
export type Where = 'CLI process' | 'in-process';

/**
 * The CLI's own command tree, run in this process with captured screens: the same `registerWorkflows`
 * (wiring, retries, lock, printing, exit codes) as dist/cli.js, given the environment the child would get.
 */
export async function runInProcess(args: string[], env: Record<string, string>): Promise<CliRun> {
  const full: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env };
  const secrets = credentialsOf(full);
  let stdout = '';
  let stderr = '';
  let code = 0;
  const io: CliIO = {
    stdout: screenOf({ isTTY: false, write: (t) => void (stdout += t) }, secrets),
    stderr: screenOf({ isTTY: false, write: (t) => void (stderr += t) }, secrets),
    env: full,
    setExitCode: (c) => {
      code = c;
    },
  };
  const program = new Command('valohai-bitbucket').exitOverride();
  registerWorkflows(program, io);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    // A usage error (commander's exitOverride): the child would exit 2.
    stderr += `${err instanceof Error ? err.message : String(err)}\n`;
    code = 2;
  }
  return { code, stdout, stderr };
}

/** The faulted run goes through the process for the first call of each fault kind of a workflow. */
export function whereOf(c: Case): Where {
  const first = casesOf(c.workflow).find((o) => o.kind === c.kind);
  return first?.call === c.call ? 'CLI process' : 'in-process';
}

/** What `--json` prints for a workflow, checked on the process runs. */
function checkJson(stdout: string, label: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    assert.fail(`${label}: --json printed something other than one JSON document\n${stdout}`);
  }
  assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc), `${label}: --json printed no object`);
  const o = doc as Record<string, unknown>;
  assert.equal(typeof o.repository, 'string', `${label}: --json lacks the repository`);
  assert.ok(Array.isArray(o.accessKeys), `${label}: --json lacks accessKeys`);
  assert.equal('publicKey' in o || 'outcome' in o, false, `${label}: --json carries fields it must not`);
}

export async function runCase(lane: Lane, c: Case, where: Where = whereOf(c)): Promise<void> {
  const label = `${c.workflow} with ${c.kind} on ${c.call} (${where})`;
  if (c.workflow === 'connect') await lane.ensureFresh();
  else await lane.ensureConnected();
  const injector = CALLS[c.call].system === 'bitbucket' ? lane.stack.bitbucket.faults : lane.stack.valohai.faults;
  const ruleId = injector.add(faultRule(CALLS[c.call], c.kind));
  let run: CliRun;
  let hits: number;
  try {
    run = where === 'CLI process' ? await runCli([...lane.args(c.workflow), '--json'], lane.env) : await runInProcess(lane.args(c.workflow), lane.env);
    hits = injector.list().find((r) => r.id === ruleId)?.hits ?? 0;
  } finally {
    lane.stack.bitbucket.faults.clear();
    lane.stack.valohai.faults.clear();
  }
  const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  assert.ok(hits > 0, `${label}: the fault was never hit, so this combination tests nothing`);
  assert.equal(run.code, expectedExit(c.workflow, c.call, c.kind), `${label}: exit status\n${output}`);
  assert.doesNotMatch(run.stderr, STACK_TRACE, `${label}: a stack trace reached the user`);
  if (where === 'CLI process') checkJson(run.stdout, label);
  if (run.code === 0) await checkClean(lane, c.workflow, label);
  else {
    assert.match(run.stderr, new RegExp(`${command(c.workflow)} (failed|not verified): \\S`), `${label}: no reason given\n${output}`);
    await checkAfterFault(lane, run, label);
  }

  const repair = await runInProcess(lane.args(c.workflow), lane.env);
  assert.equal(repair.code, 0, `${label}, run again without faults: exit status\n${repair.stderr}`);
  await checkClean(lane, c.workflow, `${label}, run again without faults`);
}

/** The suite's title for one workflow's matrix. */
export function matrixTitle(workflow: Workflow): string {
  return `faults at every API call of ${workflow}`;
}

/** A workflow's cases are in two lanes, reads and writes, but for the short "connect again" matrix. */
export type Part = 'reads' | 'writes';

/** The lanes of a workflow's matrix, and the file each is in, so that every case has a file (see fault-matrix-files.test.ts). */
export function lanesOf(workflow: Workflow): { part?: Part; file: string; cases: Case[] }[] {
  const cases = casesOf(workflow);
  const base = `test/e2e/fault-matrix-${workflow.replace(/ /g, '-')}`;
  if (workflow === 'connect again') return [{ file: `${base}.test.ts`, cases }];
  return [
    { part: 'reads', file: `${base}-reads.test.ts`, cases: cases.filter((c) => !CALLS[c.call].write) },
    { part: 'writes', file: `${base}-writes.test.ts`, cases: cases.filter((c) => CALLS[c.call].write) },
  ];
}

/**
 * One lane of a workflow's matrix, on its own stack, its cases one after another, each named by its
 * fault kind, its call and where the faulted run ran. Reads and writes are separate lanes (but for the
 * short "connect again" matrix), so that the lanes take about as long as each other; each lane is a
 * test file of its own, so that the runner runs them side by side in processes of their own (a
 * process serves its stand-ins and starts its git and ssh processes on one thread). Called inside the
 * test file's own `describe(matrixTitle(workflow), ...)`, so that the lane is timed as that file's.
 */
export function describeLane(workflow: Workflow, part?: Part): void {
  const spec = lanesOf(workflow).find((l) => l.part === part);
  if (!spec) throw new Error(`The ${workflow} matrix has no lane ${String(part)}.`);
  const title = part ? `${workflow}, ${part}` : workflow;
  describe(`${title}: each call faulted, then run again`, { concurrency: 1 }, () => {
    const lane = new Lane();
    before(async () => {
      await lane.start();
      if (workflow !== 'connect') await lane.newProject();
    });
    after(() => lane.close());
    for (const c of spec.cases) {
      const where = whereOf(c);
      test(`${c.kind} on ${c.call} (${where})`, { timeout: CASE_TIMEOUT_MS }, () => runCase(lane, c, where));
    }
  });
}
