/** Helpers for end-to-end tests: run the real CLI process, and check the product's invariant. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as it ships: the compiled file `bin` names. `npm test` builds it before any test runs; a
 * test started some other way finds no build here and says how to get one (it cannot tell a stale one).
 */
const CLI_ENTRY = join(root, 'dist/cli.js');

export function cliEntry(): string {
  if (!existsSync(CLI_ENTRY)) throw new Error(`${CLI_ENTRY} is missing: run the tests with \`npm test\`, which builds the CLI first.`);
  return CLI_ENTRY;
}

/** Runs `valohai-bitbucket ...args` as a child process (asynchronously: the emulators share this process). */
export async function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  try {
    const r = await run(process.execPath, [cliEntry(), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * `type base64` of the public half of an OpenSSH or PEM private key, as ssh-keygen derives it. Kept
 * per key text: the fault matrix checks the same key after a fault and again after the repair.
 */
const publicKeys = new Map<string, Promise<string>>();

function publicOf(privateKey: string): Promise<string> {
  let pub = publicKeys.get(privateKey);
  if (!pub) {
    pub = derivePublic(privateKey);
    publicKeys.set(privateKey, pub);
    pub.catch(() => publicKeys.delete(privateKey));
  }
  return pub;
}

async function derivePublic(privateKey: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-inv-'));
  try {
    const file = join(dir, 'k');
    await writeFile(file, privateKey, { mode: 0o600 });
    const { stdout } = await run('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    const [type, body] = stdout.trim().split(/\s+/);
    return `${type} ${body}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const DEMO_TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];

/**
 * The invariant: the key Valohai holds is an access key on every repository Valohai must fetch, and a
 * real `git ls-remote` over SSH with that key reaches each of them. No key held is trivially fine.
 *
 * `reached` (one set per stack) remembers the states already reached with git: Valohai's key and the
 * access key record holding it on each target. The SSH host lets a key in by exactly that (whether the
 * repository holds a record of the key), so when a check finds the very records a check before it
 * reached, fetching again would repeat that fetch; the records are still checked every time.
 */
export async function assertInvariant(
  stack: Stack,
  repositoryId: number,
  workspace = 'acme',
  targets = DEMO_TARGETS,
  reached?: Set<string>,
): Promise<string | null> {
  const privateKey = stack.valohai.state.keyFor(repositoryId);
  if (!privateKey) return null;
  const pub = await publicOf(privateKey);
  const problems: string[] = [];
  const records: string[] = [];
  for (const slug of targets) {
    const record = stack.bitbucket.state.accessKeys(workspace, slug).find((k) => k.key === pub);
    if (!record) problems.push(`${workspace}/${slug} lacks Valohai's key`);
    else records.push(`${workspace}/${slug}#${record.id}`);
  }
  if (problems.length) throw new Error(`invariant broken: ${problems.join('; ')}`);
  const state = `${pub}\n${records.join(' ')}`;
  if (reached?.has(state)) return pub;
  await gitReach(stack, privateKey, workspace, targets);
  reached?.add(state);
  return pub;
}

/** `git ls-remote` over real ssh with `privateKey` for each target; throws when any of them fails. */
export async function gitReach(stack: Stack, privateKey: string, workspace: string, targets: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-git-'));
  try {
    const key = join(dir, 'id');
    const known = join(dir, 'known_hosts');
    await writeFile(key, privateKey, { mode: 0o600 });
    await writeFile(known, `${stack.ssh.knownHostsLine}\n`);
    const ssh = `ssh -p ${stack.ssh.port} -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${known} -o BatchMode=yes`;
    // Side by side: each is its own connection, as each of Valohai's clones is.
    await Promise.all(
      targets.map((slug) =>
        run('git', ['ls-remote', `git@127.0.0.1:${workspace}/${slug}.git`], {
          env: { ...process.env, GIT_SSH_COMMAND: ssh },
          encoding: 'utf8',
        }),
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A stack of stand-ins and a private state folder for the suite it is called in (started before its
 * tests, closed after), with the environment the CLI runs in against them.
 */
export function cliStackForSuite(prefix: string): { readonly stack: Stack; readonly stateDir: string; readonly env: Record<string, string> } {
  const world = {} as { stack: Stack; stateDir: string; env: Record<string, string> };
  before(async () => {
    world.stack = await startStack();
    world.stateDir = await mkdtemp(join(tmpdir(), prefix));
    world.env = { ...world.stack.env, VALOHAI_BITBUCKET_STATE_DIR: world.stateDir };
  });
  after(async () => {
    await world.stack?.close();
    if (world.stateDir) await rm(world.stateDir, { recursive: true, force: true });
  });
  return world;
}
