/**
 * The scheduled trigger (manifest `health-schedule`, hourly). It only plans: for each workspace with
 * connections it picks the connections whose last scheduled check is a day old (oldest first), as many
 * as fit the hour's share of the stored token's request budget, and puts one `health` message per
 * connection on the queue, where the check runs with the queue's 900 s. The rest wait for the next run,
 * and the workspace page says how many. It also starts the day's automatic rotations, when the
 * workspace turned them on: make-before-break rotate jobs in the repository's one job slot (so never
 * two at once for one connection), at most `perDay` a day.
 *
 * While a stored token is refused or past its expiry date, nothing remote is asked: each due
 * connection gets a `paused` entry with the fix, so the pages show paused work, never a broken
 * connection.
 */
import type { HealthEntry } from '../contract';
import { Credentials } from '../store/credentials';
import { recordPaused } from './check';
import { errorName } from '../errors';
import { automationPause, CHECK_INTERVAL_MS, loadAutomation, loadHealth, loadPolicy, recordChanges, recordHealth, saveAutomation, utcDay, type AutomationState } from '../store/health-records';
import { activeJob, startJob } from '../jobs/slots';
import type { JobEnd } from '../jobs/runner';
import { bareUuid, keys } from '../store/keys';
import { keyAgeOf, keyIsOld } from '../store/connections';
import type { ForgePlatform } from '../platform/ports';
import type { StoredConnection } from '../store/records';

/**
 * Stored-token requests the scheduled checks may spend in one hourly run, per workspace: a fifth of
 * Bitbucket's 1,000 an hour for the token's user, leaving the rest to people's page loads and actions.
 */
export const CHECK_BUDGET_PER_RUN = 200;

/** What one check of a connection costs the stored token: a key listing per target, plus the permission read and one spare. */
export function checkCost(connection: StoredConnection): number {
  return Math.max(1, connection.record.targets.length) + 2;
}

export interface WorkspaceRun {
  workspaceUuid: string;
  /** Connections whose check was put on the queue. */
  queued: string[];
  /** Due, but left for the next run (request budget). */
  deferred: string[];
  /** Due while automatic work is paused: recorded as paused, nothing asked. */
  paused: string[];
  /** Automatic rotations started. */
  rotations: string[];
}

export interface ScheduleRun {
  at: string;
  workspaces: WorkspaceRun[];
}

function lastScheduled(entries: HealthEntry[]): number {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as HealthEntry;
    if (e.trigger === 'schedule') return Date.parse(e.at);
  }
  return Number.NEGATIVE_INFINITY;
}

/** All connections the app keeps, by workspace. */
async function connectionsByWorkspace(platform: ForgePlatform): Promise<Map<string, StoredConnection[]>> {
  const all = await platform.store.query<StoredConnection>(keys.allConnectionsPrefix, { limit: 10_000 });
  const out = new Map<string, StoredConnection[]>();
  for (const { value } of all) {
    if (!value || value.state !== 'connected' || value.movedAway) continue;
    const ws = bareUuid(value.workspaceUuid, 'workspace');
    out.set(ws, [...(out.get(ws) ?? []), value]);
  }
  return out;
}

export async function runSchedule(platform: ForgePlatform): Promise<ScheduleRun> {
  const now = platform.clock.now();
  const run: ScheduleRun = { at: now.toISOString(), workspaces: [] };
  for (const [ws, connections] of await connectionsByWorkspace(platform)) {
    try {
      run.workspaces.push(await planWorkspace(platform, ws, connections, now));
    } catch (err) {
      // One workspace's trouble (its records, its queue push) must not stop the others' checks.
      platform.log.error('scheduled run failed for a workspace', { error: errorName(err) });
    }
  }
  return run;
}

async function planWorkspace(platform: ForgePlatform, ws: string, connections: StoredConnection[], now: Date): Promise<WorkspaceRun> {
  const { store } = platform;
  const [summary, policy, automation] = await Promise.all([
    new Credentials(platform, ws).summary(),
    loadPolicy(store, ws),
    loadAutomation(store, ws),
  ]);
  const paused = automationPause(summary, now);
  const out: WorkspaceRun = { workspaceUuid: ws, queued: [], deferred: [], paused: [], rotations: [] };

  const withHistory = await Promise.all(
    connections.map(async (c) => ({ connection: c, last: lastScheduled((await loadHealth(store, ws, c.repositoryUuid)).entries) })),
  );
  const due = withHistory
    .filter(({ last }) => now.getTime() - last >= CHECK_INTERVAL_MS)
    .sort((a, b) => a.last - b.last || a.connection.record.repository.localeCompare(b.connection.record.repository));

  const today = utcDay(now);
  const rotations: AutomationState['rotations'] = automation.rotations.day === today ? { ...automation.rotations } : { day: today, count: 0 };

  if (paused) {
    for (const { connection } of due) {
      await recordPaused(platform, ws, connection.repositoryUuid, 'schedule', now, keyAgeOf(connection, now), paused);
      out.paused.push(connection.record.repository);
    }
  } else {
    if (policy.autoRotate.enabled) {
      const old = connections
        // A key made in Valohai is renewed there by a person: the policy cannot make one.
        .filter((c) => c.mode === 'automatic' && c.record.keySource !== 'valohai' && c.connectedBy && keyIsOld(c, policy.autoRotate.everyDays, now))
        .sort((a, b) => Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt));
      for (const connection of old) {
        if (rotations.count >= policy.autoRotate.perDay) break;
        if (await activeJob(store, ws, connection.repositoryUuid, now)) continue;
        try {
          await startJob(platform, {
            workspaceUuid: ws,
            repositoryUuid: connection.repositoryUuid,
            repository: connection.record.repository,
            accountId: connection.connectedBy as string,
            input: { kind: 'rotate', choices: {}, automatic: true },
          });
          rotations.count += 1;
          out.rotations.push(connection.record.repository);
        } catch (err) {
          // The slot was taken meanwhile (someone clicked): the next run tries again.
          platform.log.info('automatic rotation not started', { error: errorName(err) });
        }
      }
    }
    let budget = CHECK_BUDGET_PER_RUN;
    for (const { connection } of due) {
      // A connection being rotated right now is checked by its rotation; its own check waits a run.
      if (out.rotations.includes(connection.record.repository)) continue;
      const cost = checkCost(connection);
      if (cost > budget && out.queued.length > 0) {
        out.deferred.push(connection.record.repository);
        continue;
      }
      budget -= cost;
      await platform.enqueue({ type: 'health', workspaceUuid: ws, repositoryUuid: connection.repositoryUuid });
      out.queued.push(connection.record.repository);
    }
  }

  await saveAutomation(store, ws, {
    lastRunAt: now.toISOString(),
    lastRunChecked: out.queued.length,
    lastRunDeferred: out.deferred.length,
    rotations,
  });
  return out;
}

/**
 * An automatic rotation ended: a success joins the connection's changes ("rotated", with the new
 * fingerprint); a failure is an alert with its cause, and says the old key still works (rotate is
 * make-before-break: a failed one leaves the old key in place, or names what it could not undo).
 */
/** Told by the job runner: an automatic rotation that ran leaves its outcome in the repository's health. */
export async function automaticRotationEnded(platform: ForgePlatform, { job, final, run }: JobEnd): Promise<void> {
  if (!run || job.input.kind !== 'rotate' || !job.input.automatic) return;
  await recordAutomaticRotation(platform, job, {
    status: final.status,
    fingerprint: final.result?.fingerprint ?? null,
    ...(final.error !== undefined ? { error: final.error } : {}),
    ...(final.result?.leftovers ? { leftovers: final.result.leftovers } : {}),
  }).catch((err: unknown) => platform.log.warn('automatic rotation outcome not recorded', { jobId: job.id, error: errorName(err) }));
}

export async function recordAutomaticRotation(
  platform: ForgePlatform,
  job: { workspaceUuid: string; repositoryUuid: string; repository: string },
  outcome: { status: 'done' | 'failed' | 'unverified'; fingerprint: string | null; error?: string; leftovers?: string[] },
): Promise<void> {
  const now = platform.clock.now();
  const at = now.toISOString();
  const connection = await platform.store.get<StoredConnection>(keys.connection(job.workspaceUuid, job.repositoryUuid));
  const age = connection ? keyAgeOf(connection, now) : null;
  if (outcome.status === 'done') {
    await recordChanges(platform.store, job.workspaceUuid, job.repositoryUuid, [
      { kind: 'rotated', repository: job.repository, at, detail: `automatic rotation by the workspace's key-age policy${outcome.fingerprint ? `; new key ${outcome.fingerprint}` : ''}` },
    ]);
    return;
  }
  const leftovers = outcome.leftovers?.length ? ` Left in place: ${outcome.leftovers.join('; ')}.` : '';
  // Every line: a refusal names the repositories that stopped it on the lines after its first.
  const cause = (outcome.error ?? 'it stopped without saying why')
    .split('\n')
    .map((line) => line.trim().replace(/^- /, ''))
    .filter(Boolean)
    .join(' ');
  await recordHealth(platform.store, job.workspaceUuid, job.repositoryUuid, {
    at,
    trigger: 'schedule',
    health: 'degraded',
    keyAgeDays: age,
    head: null,
    headSeen: null,
    findings: [
      {
        severity: 'degraded',
        code: 'auto-rotate-failed',
        message:
          outcome.status === 'unverified'
            ? `The automatic rotation put the new key in place but Valohai's fetch with it could not be verified: ${cause}${leftovers}`
            : `The automatic rotation failed, and the old key still works: ${cause}${leftovers}`,
        fix: 'Open the repository\'s Valohai page and rotate by hand, or fix the cause; the next day\'s run tries again.',
      },
    ],
    changes: [],
  });
}
