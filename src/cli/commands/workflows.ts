/**
 * connect, status, rotate, disconnect and sync: the engine's workflows as CLI commands.
 * Exit status: 0 done and verified; 1 failed (everything undone, or what could not be is named);
 * 2 usage or configuration; 3 configured consistently but verification not confirmed.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { BitbucketClient, createFetchTransport, hooked } from '../../bitbucket/index';
import {
  appKeyType,
  connect,
  disconnect,
  ownCredentials,
  rotate,
  status,
  sync,
  type ConnectionRecord,
  type KeyType,
  type StatusResult,
  type SyncResult,
  type WorkflowDeps,
  type WorkflowResult,
} from '../../connect/index';
import { branchOfRef, fetchRefProblem } from '../../git/index';
import { scrubPrivateKeys } from '../../http/redact';
import { generateKeyPair } from '../../ssh/index';
import { ValohaiClient } from '../../valohai/index';
import { allSettings, bitbucketConfig, ConfigError, parseRepoArg, valohaiConfig } from '../config';
import { terminalProgress } from '../progress';
import { processScreens, type CliIO } from '../screen';
import { readPublicKeyFile } from '../public-key-file';
import { DirectoryLock, FileConnectionStore, stateDir } from '../state';
import { finishTokenHours, tokenHourFor, type CliTokenHour } from '../token-hour';
import { rotateAll, type RotateAllFlags } from './rotate-all';

// The commands and the test harness take it from here, beside processIO.
export type { CliIO };

export const processIO = (): CliIO => ({
  ...processScreens(process.env),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
});

export interface CommonFlags {
  project?: string;
  json?: boolean;
  bitbucketApiUrl?: string;
  valohaiHost?: string;
}

/**
 * How long one call may keep retrying (VALOHAI_BITBUCKET_RETRY_BUDGET_MS, default 30 s); delays scale
 * with it, so scripts that prefer to fail fast can say so.
 */
function retryOptions(io: CliIO): { maxTotalMs: number; baseDelayMs: number; maxDelayMs: number } | undefined {
  const raw = io.env.VALOHAI_BITBUCKET_RETRY_BUDGET_MS;
  if (raw === undefined || raw === '') return undefined;
  const budget = Number(raw);
  if (!Number.isFinite(budget) || budget < 0) {
    throw new ConfigError(`VALOHAI_BITBUCKET_RETRY_BUDGET_MS must be a number of milliseconds, not "${raw}".`);
  }
  return { maxTotalMs: budget, baseDelayMs: Math.min(250, budget / 20), maxDelayMs: Math.min(8000, budget / 4) };
}

/**
 * The branch `--ref` names, by the same rule as the settings pages: `main` or `refs/heads/main`; a
 * commit id or a tag is refused by name (Valohai fetches a branch on every push), not looked up as a
 * branch that does not exist.
 */
export function fetchRef(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  const problem = fetchRefProblem(value);
  if (problem) throw new ConfigError(`--ref ${JSON.stringify(value)} ${problem}.`);
  return branchOfRef(value);
}

/** The most VALOHAI_BITBUCKET_TIMEOUT_MS may say: ten minutes per request. */
const MAX_TIMEOUT_MS = 600_000;

/**
 * How long one request may take (VALOHAI_BITBUCKET_TIMEOUT_MS, default 30 s each for Bitbucket and
 * Valohai), for slow links and busy machines; bounded, so a run never waits forever.
 */
function timeoutMs(io: CliIO): number | undefined {
  const raw = io.env.VALOHAI_BITBUCKET_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0 || ms > MAX_TIMEOUT_MS) {
    throw new ConfigError(`VALOHAI_BITBUCKET_TIMEOUT_MS must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, not "${raw}".`);
  }
  return ms;
}

function valohaiClient(io: CliIO, flags: CommonFlags): ValohaiClient {
  const [valohai, timeout, retry] = allSettings<[ReturnType<typeof valohaiConfig>, number | undefined, ReturnType<typeof retryOptions>]>(
    () => valohaiConfig(io.env, flags),
    () => timeoutMs(io),
    () => retryOptions(io),
  );
  return new ValohaiClient({ host: valohai.host, token: valohai.token, retry, timeoutMs: timeout });
}

/**
 * Bitbucket with the caller's own API token, every request counted in the token user's hour (the ledger
 * in the state folder), which the command writes when it ends.
 */
export function bitbucketOf(io: CliIO, flags: CommonFlags): { bitbucket: BitbucketClient; hour: CliTokenHour } {
  const [bb, timeout, retry] = allSettings<[ReturnType<typeof bitbucketConfig>, number | undefined, ReturnType<typeof retryOptions>]>(
    () => bitbucketConfig(io.env, flags),
    () => timeoutMs(io),
    () => retryOptions(io),
  );
  const hour = tokenHourFor(io, stateDir(io.env), bb.email);
  const bitbucket = new BitbucketClient({
    transport: hooked(createFetchTransport({ baseUrl: bb.apiUrl, email: bb.email, apiToken: bb.apiToken, timeoutMs: timeout }), hour.hooks()),
    retry,
  });
  return { bitbucket, hour };
}

/** What the workflows are given, and the command's view of the token's hour. */
export type CliDeps = WorkflowDeps & { hour: CliTokenHour };

export function wire(io: CliIO, flags: CommonFlags): CliDeps {
  const dir = stateDir(io.env);
  // The private keys this run makes, in memory only: no piece of one a server quotes back reaches the
  // screen or the state folder.
  const held: string[] = [];
  const hold = (privateKey: string) => {
    held.push(privateKey);
    io.stdout.hold(privateKey);
    io.stderr.hold(privateKey);
  };
  // Every missing or wrong setting at once, not one per run.
  const [{ bitbucket, hour }, valohai] = allSettings<[ReturnType<typeof bitbucketOf>, ValohaiClient]>(
    () => bitbucketOf(io, flags),
    () => valohaiClient(io, flags),
  );
  return {
    bitbucket,
    hour,
    // The token is the caller's own: Bitbucket refuses them what they may not do themselves.
    authority: ownCredentials,
    // A plan that does not fit what this computer's count says is left is refused before anything changes.
    budget: hour.budget,
    valohai,
    // The CLI's keys say so in their label: the app, which keeps its own records, tells them from its own.
    labelMaker: 'cli',
    generateKey: async ({ type, comment }) => {
      const pair = await generateKeyPair({ type, comment });
      hold(pair.privateKey);
      return pair;
    },
    store: new FileConnectionStore(dir, (text) => scrubPrivateKeys(text, held)),
    lock: new DirectoryLock(dir, {
      onWait: () => io.stderr.write('Another run is working on this repository; waiting for it to finish…\n'),
    }),
  };
}

/** A key made in Valohai: the repository settings written there, or the exact values to enter. */
function valohaiSettingsLines(result: WorkflowResult): string[] {
  const s = result.valohaiSettings;
  if (!s) return [];
  if (s.written) return [`Valohai:      URL ${s.url}, fetch reference ${s.ref} (set by this run)`];
  return [`Enter in Valohai (project Settings › Repository):`, `  URL:             ${s.url}`, `  Fetch reference: ${s.ref}`];
}

/** `--public-key-file` with a flag that only a key the app makes has. */
function givenKeyConflicts(publicKeyFile: string | undefined, keyTypeGiven: boolean): void {
  if (publicKeyFile !== undefined && keyTypeGiven) {
    throw new ConfigError('--public-key-file takes the key Valohai made, whose type is its own: leave out --key-type.');
  }
}

const PUBLIC_KEY_FILE =
  "connect with a key made in Valohai (project Settings › Repository › Generate SSH Key): the file holding its public half, or - for standard input. Valohai is never sent a key";

const EXIT: Record<WorkflowResult['outcome'], number> = { done: 0, failed: 1, unverified: 3 };

function printWorkflow(io: CliIO, result: WorkflowResult, json: boolean, verb: string): void {
  if (json) {
    const { outcome: _outcome, publicKey: _publicKey, ...rest } = result;
    io.stdout.json(rest, 2);
  } else {
    const out: string[] = [];
    out.push(`Repository:   ${result.repository}${result.sshUrl ? ` (${result.sshUrl})` : ''}`);
    if (result.ref) out.push(`Reference:    ${result.ref}${result.headCommit ? ` at ${result.headCommit}` : ''}`);
    if (result.fingerprint) out.push(`Key:          ${result.keyType ?? ''} ${result.fingerprint}${result.keySource === 'valohai' ? ' (made in Valohai)' : ''}`);
    for (const k of result.accessKeys) out.push(`  ${k.status.padEnd(8)} ${k.repository}${k.id !== null ? ` (key ${k.id})` : ''}`);
    if (result.valohai.fetchedCommit) out.push(`Valohai sees: ${result.valohai.fetchedCommit}`);
    out.push(...valohaiSettingsLines(result));
    for (const w of result.warnings) out.push(`warning: ${w.message}`);
    if (result.outcome === 'done') out.push(result.verified ? `${verb}: verified.` : `${verb}: done.`);
    io.stdout.write(`${out.join('\n')}\n`);
  }
  if (result.outcome !== 'done') {
    const lines = [`${verb} ${result.outcome === 'unverified' ? 'not verified' : 'failed'}: ${result.error ?? 'unknown error'}`];
    for (const l of result.leftovers ?? []) lines.push(`  left in place: ${l}`);
    io.stderr.write(`${lines.join('\n')}\n`);
  }
  io.setExitCode(EXIT[result.outcome]);
}

/** What a dry run found it would do, and that it did nothing: the plan as a list, or the result's JSON marked `dryRun`. */
export function printPlan(io: CliIO, result: WorkflowResult, json: boolean, valohaiStep: string): void {
  if (result.outcome !== 'done') {
    printWorkflow(io, result, json, 'Plan');
    return;
  }
  if (json) {
    const { outcome: _outcome, publicKey: _publicKey, ...rest } = result;
    io.stdout.json({ dryRun: true, ...rest }, 2);
    io.setExitCode(0);
    return;
  }
  const key = result.keySource === 'valohai' ? 'key made in Valohai' : result.keyType ? `${result.keyType === 'rsa' ? 'RSA 4096' : 'Ed25519'} key` : 'key';
  const out = [`Dry run: nothing was changed. For ${result.repository}${result.sshUrl ? ` (${result.sshUrl})` : ''} it would:`];
  for (const k of result.accessKeys) {
    if (k.status === 'planned') out.push(`  add a new ${key} to ${k.repository}`);
    else if (k.status === 'present') out.push(`  keep the connection's key ${k.id} on ${k.repository}`);
    else if (k.status === 'remove-planned') out.push(`  remove access key ${k.id} from ${k.repository}`);
  }
  if (valohaiStep) out.push(`  ${valohaiStep}`);
  out.push(...valohaiSettingsLines(result));
  for (const w of result.warnings) out.push(`warning: ${w.message}`);
  io.stdout.write(`${out.join('\n')}\n`);
  io.setExitCode(0);
}

function printStatus(io: CliIO, s: StatusResult, json: boolean): void {
  if (json) {
    io.stdout.json(s, 2);
    return;
  }
  const out = [
    `Repository:   ${s.repository} (${s.sshUrl})`,
    `Reference:    ${s.ref} at ${s.headCommit}`,
    `Connected:    ${s.connected ? `yes, ${s.keyType} ${s.fingerprint}, ${s.keyAgeDays ?? '?'} days old` : 'no'}`,
    `Valohai:      ${s.valohai.projectName}: ${s.valohai.url ?? 'no URL'} @ ${s.valohai.ref ?? '-'}; newest commit ${s.valohai.newestCommit ?? 'none'}${
      s.valohai.inSync ? ' (same as Bitbucket)' : ''
    }`,
  ];
  for (const r of s.repositories) {
    const key = r.key ? `key ${r.key.id}, last used ${r.key.lastUsed ?? 'never'}` : r.error ? `unreadable: ${r.error}` : 'no key';
    out.push(`  ${r.repository}: ${key}${r.orphans.length ? `, ${r.orphans.length} old key(s)` : ''}`);
  }
  for (const w of s.warnings) out.push(`warning: ${w.message}`);
  io.stdout.write(`${out.join('\n')}\n`);
}

function printSync(io: CliIO, s: SyncResult, json: boolean): void {
  if (json) io.stdout.json(s, 2);
  else {
    io.stdout.write(
      s.newCommits.length ? `Valohai fetched ${s.newCommits.length} new commit(s):\n${s.newCommits.map((c) => `  ${c}`).join('\n')}\n` : 'Valohai is up to date.\n',
    );
  }
  if (s.errors.length) io.stderr.write(`sync not verified:\n${s.errors.map((e) => `  ${e}`).join('\n')}\n`);
  io.setExitCode(s.outcome === 'done' ? 0 : 3);
}

/**
 * Runs a command body; configuration problems exit 2, anything else 1, never with a stack trace. The
 * token's hour is written at the end, whatever happened, with when to try again if it ran out.
 */
export async function guard(io: CliIO, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`valohai-bitbucket: ${message}\n`);
    io.setExitCode(err instanceof ConfigError ? 2 : 1);
  } finally {
    await finishTokenHours(io);
  }
}

export function withConnectionFlags(cmd: Command): Command {
  return cmd
    .option('--project <project>', 'Valohai project: its id, or owner/name (default: the one connection of the repository recorded here)')
    .option('--json', 'print one JSON object on stdout at the end')
    .option('--bitbucket-api-url <url>', 'Bitbucket API root (env BITBUCKET_API_URL)')
    .option('--valohai-host <url>', 'Valohai host (env VALOHAI_HOST)');
}

/**
 * The Valohai project a command is for: `--project` as given, else the project of the one connection of
 * the repository recorded here (said on stderr). None or several recorded: a usage error naming them.
 */
export async function projectFor(io: CliIO, repository: string, given: string | undefined, command: string): Promise<string> {
  if (given) return given;
  const records = (await new FileConnectionStore(stateDir(io.env)).list()).filter((r) => r.repository.toLowerCase() === repository.toLowerCase());
  const [only] = records;
  if (records.length === 1 && only) {
    io.stderr.write(`Valohai project: ${only.projectName} (${only.projectId}), the one connection of ${repository} recorded here.\n`);
    return only.projectId;
  }
  if (!records.length) {
    throw new ConfigError(`${command} needs --project: no connection of ${repository} is recorded here. Give the Valohai project, its id or owner/name.`);
  }
  throw new ConfigError(
    `${command} needs --project: ${records.length} connections of ${repository} are recorded here (${records.map((r) => `${r.projectName} ${r.projectId}`).join(', ')}). Name one.`,
  );
}

/** The connection this state folder records for `repository` and `project` (its id, or owner/name), if one. */
async function recordedConnection(io: CliIO, repository: string, project: string): Promise<ConnectionRecord | undefined> {
  const name = project.split('/').pop();
  const records = await new FileConnectionStore(stateDir(io.env)).list();
  return records.find((r) => r.repository.toLowerCase() === repository.toLowerCase() && (r.projectId === project || r.projectName === name));
}

/** `--take-over`: what to do with a connection made elsewhere (in the app) of the same repository and project. */
const TAKE_OVER = 'replace a connection of this repository and project made elsewhere (in the app, or with the CLI on another machine): Valohai gets the new key';
const others = (opts: { takeOver?: boolean }): 'take-over' | 'refuse' => (opts.takeOver ? 'take-over' : 'refuse');

export function registerWorkflows(program: Command, io: CliIO = processIO()): void {
  const connectCommand = withConnectionFlags(
    program
      .command('connect')
      .description('Register an access key on the repository and its submodule repos, give Valohai the private key, fetch and verify')
      .argument('<repository>', 'the Bitbucket repository: acme/ml-models, or its URL'),
  )
    .option('--ref <branch>', "branch Valohai fetches, e.g. main or refs/heads/main (default: the repository's main branch)")
    .addOption(new Option('--key-type <type>', 'key type (Ed25519 is not confirmed by Valohai)').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--no-submodules', 'do not put the key on submodule repositories')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--move-project', 'connect even though the Valohai project fetches another repository now (it then fetches this one)')
    .option('--take-over', TAKE_OVER)
    .option('--public-key-file <path>', PUBLIC_KEY_FILE);
  connectCommand.action(
    (repoArg: string, opts: CommonFlags & { ref?: string; keyType: KeyType; submodules: boolean; dryRun?: boolean; moveProject?: boolean; takeOver?: boolean; publicKeyFile?: string }) =>
      guard(io, async () => {
        const repo = parseRepoArg(repoArg);
        const ref = fetchRef(opts.ref);
        givenKeyConflicts(opts.publicKeyFile, connectCommand.getOptionValueSource('keyType') === 'cli');
        const publicKey = opts.publicKeyFile === undefined ? undefined : await readPublicKeyFile(io, opts.publicKeyFile);
        const deps = wire(io, opts);
        const project = await projectFor(io, `${repo.workspace}/${repo.repo}`, opts.project, 'connect');
        const input = {
          ...repo,
          project,
          ref,
          keyType: opts.keyType,
          submodules: opts.submodules,
          dryRun: opts.dryRun,
          moveProject: opts.moveProject,
          others: others(opts),
          ...(publicKey !== undefined ? { publicKey } : {}),
        };
        const result = await connect(deps, input, terminalProgress(io.stderr, io.env));
        if (!opts.dryRun) printWorkflow(io, result, Boolean(opts.json), 'connect');
        else if (publicKey !== undefined) {
          printPlan(io, result, Boolean(opts.json), 'ask Valohai (which holds the key it made) to fetch and check it sees the head commit; only then remove the keys it replaces');
        } else if (result.accessKeys.some((k) => k.status === 'planned')) {
          printPlan(io, result, Boolean(opts.json), 'give Valohai the new private key, ask it to fetch and check it sees the head commit; only then remove the keys it replaces');
        } else printPlan(io, result, Boolean(opts.json), 'keep the key Valohai holds; ask Valohai to fetch and check it sees the head commit');
      }),
    );

  withConnectionFlags(
    program.command('status').description("Show the connection's keys, their age and use, and Valohai's newest commit").argument('<repository>', 'acme/ml-models, or its URL'),
  ).action((repoArg: string, opts: CommonFlags) =>
    guard(io, async () => {
      const repo = parseRepoArg(repoArg);
      const deps = wire(io, opts);
      const project = await projectFor(io, `${repo.workspace}/${repo.repo}`, opts.project, 'status');
      const result = await status(deps, { ...repo, project });
      printStatus(io, result, Boolean(opts.json));
    }),
  );

  const rotateCommand = withConnectionFlags(
    program
      .command('rotate')
      .description('Replace the key everywhere, make-before-break (one connection, or with --all every one of a workspace)')
      .argument('[repository]', 'acme/ml-models, or its URL'),
  )
    .addOption(new Option('--key-type <type>', 'key type of the new key (with --all: each connection keeps its own unless given)').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--no-submodules', 'do not put the key on submodule repositories')
    .option('--all', 'every connection of --workspace recorded here, one after another')
    .option('--workspace <workspace>', 'with --all: the Bitbucket workspace')
    .option('--older-than <age>', 'with --all: only keys older than this many days, e.g. 180d')
    .option('--dry-run', 'say which keys would be added and removed (with --all: which connections, at what cost), and change nothing')
    .option('--yes', "with --all: start even when, by this computer's count of your API token's hour, the plan does not fit: it rotates what the hour allows, waits for room, and goes on")
    .option('--no-wait', 'with --all: when Bitbucket answers 429 (too many requests) or the hour has no room, stop instead of waiting (1, 2, 4, 8, then 15 minutes after a 429) and going on')
    .option('--take-over', TAKE_OVER)
    .option('--public-key-file <path>', 'with a key made in Valohai: the public half of the new key generated there (a file, or - for standard input)');
  rotateCommand.action((repoArg: string | undefined, opts: CommonFlags & RotateAllFlags & { keyType: KeyType; submodules: boolean; takeOver?: boolean; publicKeyFile?: string }) =>
    guard(io, async () => {
      if (opts.all && opts.publicKeyFile !== undefined) throw new ConfigError('rotate --all cannot take --public-key-file: each key made in Valohai is its own; rotate each repository by name.');
      if (opts.all) {
        if (repoArg) throw new ConfigError('rotate --all takes --workspace, not a repository.');
        if (opts.takeOver) throw new ConfigError('rotate --all never takes over another connection: rotate that repository by name with --take-over.');
        const keyType = rotateCommand.getOptionValueSource('keyType') === 'default' ? undefined : opts.keyType;
        const submodules = rotateCommand.getOptionValueSource('submodules') === 'cli' ? opts.submodules : undefined;
        await rotateAll(io, wire(io, opts), { ...opts, keyType, submodules });
        return;
      }
      if (!repoArg) throw new ConfigError('rotate needs a repository (<workspace>/<repo>), or --all --workspace <workspace>.');
      if (opts.yes || opts.wait === false) throw new ConfigError('--yes and --no-wait go with rotate --all: one rotation is weighed against the hour before it changes anything, and stops at a 429.');
      const repo = parseRepoArg(repoArg);
      givenKeyConflicts(opts.publicKeyFile, rotateCommand.getOptionValueSource('keyType') === 'cli');
      const publicKey = opts.publicKeyFile === undefined ? undefined : await readPublicKeyFile(io, opts.publicKeyFile);
      const deps = wire(io, opts);
      const project = await projectFor(io, `${repo.workspace}/${repo.repo}`, opts.project, 'rotate');
      // The connection's own choices stand unless a flag says otherwise: one made without submodules, or
      // with an RSA key, is rotated the same way.
      const given = (name: string) => rotateCommand.getOptionValueSource(name) === 'cli';
      const recorded = await recordedConnection(io, `${repo.workspace}/${repo.repo}`, project);
      const result = await rotate(
        deps,
        {
          ...repo,
          project,
          keyType: given('keyType') ? opts.keyType : (appKeyType(recorded?.keyType) ?? opts.keyType),
          ...(publicKey !== undefined ? { publicKey } : {}),
          ...(given('submodules') ? { submodules: opts.submodules } : {}),
          dryRun: opts.dryRun,
          others: others(opts),
        },
        terminalProgress(io.stderr, io.env),
      );
      if (opts.dryRun && publicKey !== undefined) {
        printPlan(io, result, Boolean(opts.json), 'ask Valohai (which holds the new key it made) to fetch and check it sees the head commit; only then remove the old keys');
      } else if (opts.dryRun) printPlan(io, result, Boolean(opts.json), 'give Valohai the new private key, ask it to fetch and check it sees the head commit; only then remove the old keys');
      else printWorkflow(io, result, Boolean(opts.json), 'rotate');
    }),
  );

  withConnectionFlags(
    program.command('disconnect').description('Remove the key from Valohai, then from every repository').argument('<repository>', 'acme/ml-models, or its URL'),
  )
    .option('--yes', 'confirm: really disconnect')
    .option('--dry-run', 'say which keys would be removed, and change nothing (no --yes needed)')
    .action((repoArg: string, opts: CommonFlags & { yes?: boolean; dryRun?: boolean }) =>
      guard(io, async () => {
        const repo = parseRepoArg(repoArg);
        if (!opts.yes && !opts.dryRun) throw new ConfigError('disconnect removes the key from Valohai and Bitbucket: add --yes to confirm (or --dry-run to see what it would remove).');
        const deps = wire(io, opts);
        const project = await projectFor(io, `${repo.workspace}/${repo.repo}`, opts.project, 'disconnect');
        const result = await disconnect(deps, { ...repo, project, dryRun: opts.dryRun }, terminalProgress(io.stderr, io.env));
        const leftInValohai = result.warnings.some((w) => w.code === 'project-moved' || w.code === 'valohai-key-left');
        if (opts.dryRun) printPlan(io, result, Boolean(opts.json), leftInValohai ? '' : 'remove the private key from Valohai first');
        else printWorkflow(io, result, Boolean(opts.json), 'disconnect');
      }),
    );

  program
    .command('sync')
    .description('Ask Valohai to fetch now and report new commits')
    .requiredOption('--project <project>', 'Valohai project: its id, or owner/name')
    .option('--json', 'print one JSON object on stdout')
    .option('--valohai-host <url>', 'Valohai host (env VALOHAI_HOST)')
    .option('--dry-run', 'refused: sync changes no setting, it only asks Valohai to fetch')
    .action((opts: CommonFlags & { dryRun?: boolean }) =>
      guard(io, async () => {
        if (opts.dryRun) {
          throw new ConfigError('sync has no dry run: it changes no key or setting, it only asks Valohai to fetch. To look without fetching, run status <repository>.');
        }
        const result = await sync({ valohai: valohaiClient(io, opts) }, { project: opts.project as string });
        printSync(io, result, Boolean(opts.json));
      }),
    );
}
