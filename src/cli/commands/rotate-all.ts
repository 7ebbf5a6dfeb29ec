/**
 * `rotate --all --workspace W [--older-than 180d] [--dry-run]`: every connection of a workspace recorded
 * in this state folder, rotated one after another (make-before-break each, as a single rotate). The
 * plan first: which connections, their key ages, and about how many Bitbucket requests it takes against
 * the hour's budget. A connection that fails keeps its old, working key and the others go on; a run that
 * stops (budget, failure, interrupt) is resumed by running it again, since rotated keys are young.
 * Exit status: 0 all rotated and verified (or nothing to do); 3 some not verified; 1 some failed.
 */
import { HOURLY_REQUEST_LIMIT, rotate, type ConnectionRecord, type KeyType, type WorkflowDeps } from '../../connect/index';
import { ConfigError } from '../config';
import { FileConnectionStore, stateDir } from '../state';
import type { CliIO } from './workflows';

export interface RotateAllFlags {
  all?: boolean;
  workspace?: string;
  olderThan?: string;
  dryRun?: boolean;
  json?: boolean;
  submodules?: boolean;
}

const DAY = 86_400_000;
/**
 * Bitbucket requests one rotation takes per target repository: discovery (repository, branch head,
 * .gitmodules), the key listing, one add and one removal, and the check of who may; measured by
 * `npm run bench -- requests`.
 */
const REQUESTS_PER_TARGET = 7;

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

export async function rotateAll(io: CliIO, deps: WorkflowDeps, flags: RotateAllFlags & { keyType?: KeyType }): Promise<void> {
  const workspace = flags.workspace?.trim();
  if (!workspace) throw new ConfigError('rotate --all needs --workspace <workspace>: the Bitbucket workspace whose connections to rotate.');
  const minAge = parseAge(flags.olderThan);
  const now = deps.clock?.now() ?? new Date();
  const records = (await new FileConnectionStore(stateDir(io.env)).list())
    .filter((r) => r.repository.toLowerCase().startsWith(`${workspace.toLowerCase()}/`))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const plan: Planned[] = records
    .map((record) => ({ record, ageDays: Math.floor((now.getTime() - Date.parse(record.createdAt)) / DAY), requests: Math.max(1, record.targets.length) * REQUESTS_PER_TARGET }))
    .filter((p) => p.ageDays >= minAge);
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
  if (total > HOURLY_REQUEST_LIMIT) say('That is more than one hour of the budget: the run stops when the budget runs low; run it again later to go on.');
  if (flags.dryRun) {
    if (flags.json) io.stdout.json({ ...summary, rotated: [] }, 2);
    io.setExitCode(0);
    return;
  }

  const rotated: { repository: string; outcome: string; error?: string }[] = [];
  for (const [i, p] of plan.entries()) {
    const [ws = '', repo = ''] = p.record.repository.split('/');
    say(`[${i + 1}/${plan.length}] rotating ${p.record.repository}…`);
    const result = await rotate(deps, {
      workspace: ws,
      repo,
      project: p.record.projectId,
      keyType: flags.keyType ?? p.record.keyType,
      submodules: flags.submodules !== false,
    });
    rotated.push({ repository: p.record.repository, outcome: result.outcome, ...(result.error ? { error: result.error } : {}) });
    say(`[${i + 1}/${plan.length}] ${p.record.repository}: ${result.outcome === 'done' ? 'rotated and verified' : result.outcome === 'unverified' ? 'rotated, fetch not verified' : 'failed, the old key still works'}`);
    if (result.error) io.stderr.write(`  ${result.error.split('\n').join('\n  ')}\n`);
    if (result.error && /request budget/i.test(result.error)) {
      say('Stopping: the request budget is low. Run the same command again later; it goes on with the keys not yet rotated.');
      break;
    }
  }
  if (flags.json) io.stdout.json({ ...summary, rotated }, 2);
  const failed = rotated.some((r) => r.outcome === 'failed') || rotated.length < plan.length;
  io.setExitCode(failed ? 1 : rotated.some((r) => r.outcome === 'unverified') ? 3 : 0);
}
