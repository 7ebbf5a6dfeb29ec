/**
 * `rotate --all --workspace W [--older-than 180d] [--dry-run]`: every connection of a workspace recorded
 * in this state folder, rotated one after another (make-before-break each, as a single rotate). The
 * plan first: which connections, their key ages, and about how many Bitbucket requests it takes against
 * the hour's budget. A connection that fails keeps its old, working key and the others go on; a run that
 * stops (budget, failure, interrupt) is resumed by running it again, since rotated keys are young.
 *
 * A record in the state folder is what this machine remembers, not proof: nobody is at the keyboard to
 * say which repository goes to which Valohai project, so a record alone never gives a repository to a
 * project. Before each rotation Bitbucket must show the recorded key on the repository, labelled for
 * the recorded project, and Valohai must show that project fetching that repository; otherwise the
 * connection is skipped and named with the reason.
 * Exit status: 0 all rotated and verified (or nothing to do); 3 some not verified; 1 some failed or skipped.
 */
import {
  ageDays,
  appKeyType,
  fetchesElsewhere,
  HOURLY_REQUEST_LIMIT,
  isLabelFor,
  rotate,
  type ConnectionRecord,
  type KeyType,
  type WorkflowDeps,
} from '../../connect/index';
import { aboutTime, BACKOFF_MINUTES } from '../../bitbucket/index';
import { ConfigError } from '../config';
import { FileConnectionStore, stateDir } from '../state';
import type { CliIO } from '../screen';
import type { CliTokenHour } from '../token-hour';

export interface RotateAllFlags {
  all?: boolean;
  workspace?: string;
  olderThan?: string;
  dryRun?: boolean;
  json?: boolean;
  submodules?: boolean;
  /** Start even when the plan does not fit what this computer's count says is left of the hour. */
  yes?: boolean;
  /** false (--no-wait): stop where a wait would start, instead of waiting and going on. */
  wait?: boolean;
}

/**
 * Bitbucket requests one rotation takes per target repository: discovery (repository, branch head,
 * .gitmodules), the key listing, one add and one removal, and the check of who may; measured by
 * `npm run bench -- requests`.
 */
const REQUESTS_PER_TARGET = 7;
/** The superproject's key listing that confirms the connection before it is rotated. */
const CONFIRM_REQUESTS = 1;

function parseAge(value: string | undefined): number {
  if (value === undefined) return 0;
  const m = /^(\d+)d?$/.exec(value.trim());
  if (!m) throw new ConfigError(`--older-than takes a number of days, e.g. 180d, not "${value}".`);
  return Number(m[1]);
}

interface Planned {
  record: ConnectionRecord;
  ageDays: number;
  requests: number;
}

const REPOSITORY = /^[A-Za-z0-9_.{}-]+\/[A-Za-z0-9_.{}-]+$/;

/** A record with what rotate needs, in the shapes it needs them; anything else in the file is not a connection. */
function wellFormed(r: unknown): r is ConnectionRecord {
  const x = r as Partial<ConnectionRecord> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.repository === 'string' &&
    REPOSITORY.test(x.repository) &&
    typeof x.projectId === 'string' &&
    x.projectId.length > 0 &&
    typeof x.projectName === 'string' &&
    typeof x.publicKey === 'string' &&
    typeof x.createdAt === 'string' &&
    Array.isArray(x.targets)
  );
}

const normalise = (key: string) => key.trim().split(/\s+/).slice(0, 2).join(' ');

/**
 * Why Bitbucket and Valohai do not bear the record out, or undefined when they do: the recorded key is on
 * the repository (whose keys only its admins set) with this app's label for the recorded project, and
 * the project fetches that repository. A record that names a repository the project never fetched, or
 * a key copied from another connection, stops here, before any key is made.
 */
async function unconfirmed(deps: WorkflowDeps, record: ConnectionRecord): Promise<string | undefined> {
  const [ws = '', repo = ''] = record.repository.split('/');
  let keys;
  try {
    keys = await deps.bitbucket.listAccessKeys(ws, repo);
  } catch (err) {
    return `its access keys could not be read on Bitbucket (${err instanceof Error ? err.message : String(err)})`;
  }
  const wanted = normalise(record.publicKey);
  const onBitbucket = keys.find((k) => normalise(k.key) === wanted);
  if (!onBitbucket) return `the key recorded for it is not among ${record.repository}'s access keys on Bitbucket`;
  if (!isLabelFor(onBitbucket.label, record.projectId)) return `the key recorded for it is labelled on Bitbucket for another Valohai project`;
  let project;
  try {
    project = await deps.valohai.findProject(record.projectId);
  } catch (err) {
    return `its Valohai project could not be read (${err instanceof Error ? err.message : String(err)})`;
  }
  const url = project.repository?.url?.trim();
  if (!url) return `Valohai project ${project.name} fetches no repository`;
  const elsewhere = fetchesElsewhere(url, { fullName: record.repository });
  if (elsewhere) return `Valohai project ${project.name} fetches ${elsewhere}`;
  return undefined;
}

/**
 * Waits, when it must, until the next connection may start: after a 429's wait (1, 2, 4, 8, then 15
 * minutes), and once its requests fit the hour by this computer's count; says until when, and that it
 * goes on. False when it must stop instead (--no-wait, or more than an hour's requests).
 */
async function roomFor(io: CliIO, hour: CliTokenHour, p: Planned, flags: RotateAllFlags, say: (line: string) => void): Promise<boolean> {
  const at = hour.goesOnAt(p.requests);
  if (at && at <= hour.now()) return true;
  const why = hour.backoffEnds() ? 'after Bitbucket answered 429 (too many requests)' : "for room in your API token's hour (this computer's count)";
  if (!at || flags.wait === false) {
    say(`Stopping before ${p.record.repository}: ${at ? `it has to wait ${why}` : 'it needs more requests than an hour allows'}. Run the same command again${at ? ` after ${aboutTime(at)}` : ''}; it goes on with the keys not yet rotated.`);
    return false;
  }
  say(`Waiting until ${aboutTime(at)} ${why}, then going on with ${p.record.repository} (stopping now and running the same command later goes on too).`);
  await hour.flush(io);
  await hour.waitUntil(at);
  say(`Going on at ${aboutTime(hour.now())}.`);
  return true;
}

export async function rotateAll(io: CliIO, deps: WorkflowDeps & { hour: CliTokenHour }, flags: RotateAllFlags & { keyType?: KeyType }): Promise<void> {
  const { hour } = deps;
  // rotate --all says itself when it waits and goes on.
  hour.saysItself = true;
  const workspace = flags.workspace?.trim();
  if (!workspace) throw new ConfigError('rotate --all needs --workspace <workspace>: the Bitbucket workspace whose connections to rotate.');
  const minAge = parseAge(flags.olderThan);
  const now = deps.clock?.now() ?? new Date();
  const records = (await new FileConnectionStore(stateDir(io.env)).list())
    .filter(wellFormed)
    .filter((r) => r.repository.toLowerCase().startsWith(`${workspace.toLowerCase()}/`))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const plan: Planned[] = records
    .map((record) => ({
      record,
      ageDays: ageDays(record.createdAt, now),
      requests: CONFIRM_REQUESTS + Math.max(1, record.targets.length) * REQUESTS_PER_TARGET,
    }))
    .filter((p): p is Planned => p.ageDays !== null && p.ageDays >= minAge);
  const total = plan.reduce((n, p) => n + p.requests, 0);
  const summary = {
    workspace,
    olderThanDays: minAge,
    connections: plan.map((p) => ({ repository: p.record.repository, project: p.record.projectName, keyAgeDays: p.ageDays, requests: p.requests })),
    requests: total,
    hourlyLimit: HOURLY_REQUEST_LIMIT,
  };

  const say = (line: string) => (flags.json ? io.stderr : io.stdout).write(`${line}\n`);
  if (plan.length === 0) {
    if (flags.json) io.stdout.json({ ...summary, rotated: [] }, 2);
    else say(`No connection of ${workspace} recorded here has a key ${minAge} days old or older: nothing to rotate.`);
    io.setExitCode(0);
    return;
  }
  say(`${plan.length} connection(s) of ${workspace} with a key ${minAge} days old or older, about ${total} Bitbucket requests (the hour allows about ${HOURLY_REQUEST_LIMIT}):`);
  for (const p of plan) say(`  ${p.record.repository} -> ${p.record.projectName}: key ${p.ageDays} days old, about ${p.requests} requests`);
  await hour.open();
  io.stderr.write(`${hour.costLine('rotation', total)}\n`);
  if (flags.dryRun) {
    if (flags.json) io.stdout.json({ ...summary, rotated: [] }, 2);
    io.setExitCode(0);
    return;
  }
  const refused = flags.yes ? undefined : hour.refusal('rotation', total);
  if (refused) throw new Error(refused);

  const rotated: { repository: string; outcome: string; error?: string }[] = [];
  const skipped: { repository: string; project: string; reason: string }[] = [];
  // 429s in a row on one connection: each waits one step longer (1, 2, 4, 8, 15 minutes), then it stops.
  let tries = 0;
  for (let i = 0; i < plan.length; ) {
    const p = plan[i] as Planned;
    if (!(await roomFor(io, hour, p, flags, say))) break;
    const tooManyBefore = hour.tooManyAnswers();
    const tryAgain = () => {
      if (hour.tooManyAnswers() === tooManyBefore || tries >= BACKOFF_MINUTES.length) return false;
      tries++;
      say(`[${i + 1}/${plan.length}] ${p.record.repository}: Bitbucket answered 429 (too many requests); nothing of it changed${flags.wait === false ? '.' : ', it is tried again after the wait.'}`);
      return true;
    };
    const [ws = '', repo = ''] = p.record.repository.split('/');
    const reason =
      p.record.keySource === 'valohai'
        ? 'its key was made in Valohai: generate a new one there and rotate this repository with --public-key-file'
        : await unconfirmed(deps, p.record);
    if (reason) {
      if (tryAgain()) continue;
      skipped.push({ repository: p.record.repository, project: p.record.projectName, reason });
      say(`[${i + 1}/${plan.length}] ${p.record.repository} -> ${p.record.projectName}: skipped, not rotated: ${reason}.`);
      tries = 0;
      i++;
      continue;
    }
    say(`[${i + 1}/${plan.length}] rotating ${p.record.repository}…`);
    const result = await rotate(deps, {
      workspace: ws,
      repo,
      project: p.record.projectId,
      ref: p.record.ref,
      keyType: flags.keyType ?? appKeyType(p.record.keyType),
      // The connection's own choice, unless --no-submodules says otherwise; and as a bulk action, it
      // renews the key where the connection records it and goes no further (a submodule added since stops it).
      submodules: flags.submodules ?? p.record.submodules ?? true,
      restoreOnly: true,
    });
    // Make-before-break: a rotation stopped by a 429 kept the old key and removed the new one.
    if (result.outcome === 'failed' && tryAgain()) continue;
    tries = 0;
    i++;
    rotated.push({ repository: p.record.repository, outcome: result.outcome, ...(result.error ? { error: result.error } : {}) });
    say(`[${i}/${plan.length}] ${p.record.repository}: ${result.outcome === 'done' ? 'rotated and verified' : result.outcome === 'unverified' ? 'rotated, fetch not verified' : 'failed, the old key still works'}`);
    if (result.error) io.stderr.write(`  ${result.error.split('\n').join('\n  ')}\n`);
  }
  if (skipped.length) {
    io.stderr.write(
      `${skipped.length} recorded connection(s) skipped: Bitbucket and Valohai do not bear the record out. ` +
        `If one is yours, check it with valohai-bitbucket check <workspace/repo> --project <project>, then rotate it by name.\n`,
    );
  }
  if (flags.json) io.stdout.json({ ...summary, rotated, skipped }, 2);
  const failed = rotated.some((r) => r.outcome === 'failed') || skipped.length > 0 || rotated.length + skipped.length < plan.length;
  io.setExitCode(failed ? 1 : rotated.some((r) => r.outcome === 'unverified') ? 3 : 0);
}
