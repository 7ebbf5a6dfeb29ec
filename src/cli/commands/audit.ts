/**
 * `audit <workspace>`: every access key on every repository of the workspace, as a table, JSON or CSV.
 * Exit status: 0 nothing to look at; 3 findings (unused, weak, shared or lookalike keys); 1 some
 * repository's keys could not be read (or the workspace could not be listed); 2 usage or configuration.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { audit, auditCsv, DEFAULT_UNUSED_DAYS, type AuditResult } from '../../connect/audit';
import type { AccessKeyInfo } from '../../connect/index';
import { BACKOFF_MINUTES } from '../../bitbucket/index';
import { bitbucketConfig, ConfigError } from '../config';
import { checkStateDir, FileConnectionStore, readStateFile, stateDir, writeStateFile } from '../state';
import { bitbucketOf, guard, processIO, type CliIO, type CommonFlags } from './workflows';

const FINDING_WORDS: Record<string, string> = {
  unused: 'unused',
  weak: 'weak',
  shared: 'same key elsewhere',
  lookalike: "labelled like this app's, not recorded",
};

/** Rows as columns padded to their widest cell; the last column is not padded. */
export function alignedTable(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length))).join('  ').trimEnd());
}

function owner(k: AuditResult['keys'][number]): string {
  if (k.connection) return `Valohai ${k.connection.projectName}${k.connection.current ? '' : ', retired'}${k.connection.keySource === 'valohai' ? ', made in Valohai' : ''}`;
  if (k.inUseBy) return `in use by another connection (${k.inUseBy === 'app' ? 'made in the app' : 'made with the CLI elsewhere'})`;
  return '-';
}

function totals(r: AuditResult): string[] {
  const count = (f: string) => r.keys.filter((k) => (k.findings as string[]).includes(f)).length;
  const needLook = r.keys.filter((k) => k.findings.length).length;
  const words = Object.entries(FINDING_WORDS)
    .map(([code, word]) => [word, count(code)] as const)
    .filter(([, n]) => n > 0)
    .map(([word, n]) => `${n} ${word}`);
  return [
    `Total: ${r.keys.length} access keys on ${r.repositories} repositories; ` +
      `${r.keys.filter((k) => k.connection).length} of connections recorded here, ` +
      `${r.keys.filter((k) => k.inUseBy).length} in use by other connections, ` +
      `${needLook} to look at${words.length ? ` (${words.join(', ')})` : ''}` +
      `${r.unreadable.length ? `; ${r.unreadable.length} repositories not read` : ''}.`,
  ];
}

function printAudit(io: CliIO, r: AuditResult, format: 'text' | 'json' | 'csv'): void {
  if (format === 'json') io.stdout.json(r, 2);
  else if (format === 'csv') io.stdout.write(auditCsv(r));
  else {
    const out = [`Workspace ${r.workspace}: ${r.repositories} repositories, ${r.keys.length} access keys (unused means no use for ${r.unusedDays} days).`];
    if (r.keys.length) {
      const rows = [['REPOSITORY', 'KEY', 'TYPE', 'FINGERPRINT', 'AGE', 'LAST USED', 'CONNECTION', 'LABEL', 'TO LOOK AT']];
      for (const k of r.keys) {
        rows.push([
          k.repository,
          String(k.id),
          k.bits === null ? k.type : `${k.type} ${k.bits}`,
          k.fingerprint,
          k.ageDays === null ? '?' : `${k.ageDays}d`,
          k.lastUsed ? k.lastUsed.slice(0, 10) : 'never',
          owner(k),
          JSON.stringify(k.label),
          k.findings.map((f) => FINDING_WORDS[f] ?? f).join(', ') || '-',
        ]);
      }
      out.push(...alignedTable(rows));
    }
    out.push(...totals(r));
    io.stdout.write(`${out.join('\n')}\n`);
  }
  for (const u of r.unreadable) io.stderr.write(`not read: ${u.repository}: ${u.error}\n`);
  io.setExitCode(r.unreadable.length ? 1 : r.keys.some((k) => k.findings.length) ? 3 : 0);
}

/** Repositories per page of the workspace's listing. */
const LISTING_PAGE = 100;
const listingPages = (repositories: number) => Math.max(1, Math.ceil(repositories / LISTING_PAGE));
/** Stopped by the hour's count, the audit goes on once this many requests (or all it has left) fit. */
const ROOM_TO_GO_ON = 100;
/** An audit left unfinished this long is started afresh: the keys it read may have changed. */
const RESUME_WITHIN_MS = 24 * 3_600_000;
/** Progress is written after this many repositories, and when the audit stops. */
const SAVE_EVERY = 25;

/** A resume file dated later than this ahead of the clock was not written by an audit that stopped. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** What an audit that stopped had read, kept in the state folder (public keys and labels only). */
interface AuditProgress {
  workspace: string;
  unusedDays: number;
  startedAt: string;
  /**
   * Whose token read it: the Bitbucket account's email at the API it was read from. Another account sees
   * other repositories and keys, so its reading is not this one's.
   */
  account: string;
  read: Record<string, AccessKeyInfo[]>;
}

const isProgress = (v: unknown): v is AuditProgress => {
  const p = v as Partial<AuditProgress> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.workspace === 'string' &&
    typeof p.unusedDays === 'number' &&
    typeof p.startedAt === 'string' &&
    typeof p.read === 'object' &&
    p.read !== null &&
    Object.values(p.read).every(Array.isArray)
  );
};

class ProgressFile {
  readonly path: string;
  constructor(
    private readonly dir: string,
    workspace: string,
  ) {
    checkStateDir(dir);
    this.path = join(dir, `audit-${workspace.toLowerCase()}.json`);
  }

  /** The file's progress; none, or damaged, reads as none (only slower). A link is refused, never followed. */
  async load(): Promise<AuditProgress | undefined> {
    const text = await readStateFile(this.path);
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      return isProgress(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  save(progress: AuditProgress): Promise<void> {
    return writeStateFile(this.dir, this.path, JSON.stringify(progress));
  }

  clear(): Promise<void> {
    return rm(this.path, { force: true });
  }
}

/**
 * Why a resume file that would otherwise be taken is not trusted: one dated ahead of the clock would
 * never expire, and one from another account holds what that account could read. Anyone who could
 * write the state folder could have made it; the audit then reads everything, which is only slower.
 */
function distrust(earlier: AuditProgress, account: string, now: Date): string | undefined {
  if (Date.parse(earlier.startedAt) > now.getTime() + CLOCK_SKEW_MS) return 'it says it started in the future';
  if (earlier.account !== account) return 'it was not written for the Bitbucket account of this token';
  return undefined;
}

function clockTime(at: Date): string {
  return `${at.toISOString().slice(11, 16)} UTC`;
}

export function registerAudit(program: Command, io: CliIO = processIO()): void {
  program
    .command('audit')
    .description('List every access key on every repository of a workspace, with its age, use, owner and what needs a look')
    .argument('<workspace>', 'the Bitbucket workspace, e.g. acme')
    .option('--json', 'print one JSON object on stdout')
    .option('--csv', 'print CSV on stdout (one row per access key)')
    .option('--unused-days <days>', 'a key not used for this many days is "unused"', String(DEFAULT_UNUSED_DAYS))
    .option('--restart', 'start afresh instead of going on with an audit that stopped at the rate limit')
    .option('--yes', "start even when, by this computer's count of your API token's hour, the audit does not fit: it reads what the hour allows, waits for room, and goes on")
    .option('--no-wait', 'when Bitbucket answers 429 (too many requests), stop and keep what was read, instead of waiting (1, 2, 4, 8, then 15 minutes) and going on')
    .option('--bitbucket-api-url <url>', 'Bitbucket API root (env BITBUCKET_API_URL)')
    .action((workspace: string, opts: CommonFlags & { csv?: boolean; unusedDays: string; restart?: boolean; yes?: boolean; wait?: boolean }) =>
      guard(io, async () => {
        if (!/^[A-Za-z0-9_.-]+$/.test(workspace)) throw new ConfigError(`"${workspace}" is not a workspace name: give the workspace's slug, e.g. acme.`);
        if (opts.json && opts.csv) throw new ConfigError('Choose one of --json and --csv.');
        const unusedDays = Number(opts.unusedDays);
        if (!Number.isInteger(unusedDays) || unusedDays < 1) throw new ConfigError(`--unused-days must be a whole number of days, not "${opts.unusedDays}".`);
        const dir = stateDir(io.env);
        const store = new FileConnectionStore(dir);
        const file = new ProgressFile(dir, workspace);
        const bb = bitbucketConfig(io.env, opts);
        const account = `${bb.email.toLowerCase()} at ${bb.apiUrl}`;
        const now = io.now?.() ?? new Date();
        let earlier = opts.restart ? undefined : await file.load();
        const distrusted = earlier && distrust(earlier, account, now);
        if (distrusted) {
          io.stderr.write(`Not going on with the stopped audit in ${file.path}: ${distrusted}. Reading everything.\n`);
          earlier = undefined;
        }
        const resumes =
          earlier && earlier.workspace.toLowerCase() === workspace.toLowerCase() && earlier.unusedDays === unusedDays && now.getTime() - Date.parse(earlier.startedAt) < RESUME_WITHIN_MS
            ? earlier
            : undefined;
        const progress: AuditProgress = resumes ?? { workspace, unusedDays, startedAt: now.toISOString(), account, read: {} };
        if (resumes) io.stderr.write(`Going on with the audit started at ${resumes.startedAt}: ${Object.keys(resumes.read).length} repositories already read (--restart starts afresh).\n`);
        const { bitbucket, hour } = bitbucketOf(io, opts);
        // The audit says itself when it goes on, and when to run it again.
        hour.saysItself = true;
        await hour.open();
        let unsaved = 0;
        let announced = false;
        let idleWaits = 0;
        for (;;) {
          const readBefore = Object.keys(progress.read).length;
          const tooManyBefore = hour.tooManyAnswers();
          const result = await audit(
            {
              bitbucket,
              clock: { now: hour.now },
              connections: () => store.list(),
              onPlan: ({ repositories, toRead }) => {
                if (announced) return;
                announced = true;
                // The workspace's listing is sent already (and counted): the key listings are what is left.
                io.stderr.write(`Reading the access keys of ${toRead} of ${repositories} repositories. ${hour.costLine('audit', toRead + listingPages(repositories))}\n`);
                const refused = opts.yes ? undefined : hour.refusal('audit', toRead);
                if (refused) throw new Error(refused);
              },
              onRead: async (repository, keys) => {
                progress.read[repository] = keys;
                if (++unsaved >= SAVE_EVERY) {
                  unsaved = 0;
                  await file.save(progress);
                }
              },
            },
            { workspace, unusedDays, alreadyRead: progress.read },
          );
          if (!('stopped' in result)) {
            await file.clear();
            printAudit(io, result, opts.json ? 'json' : opts.csv ? 'csv' : 'text');
            return;
          }
          await file.save(progress);
          const left = result.total - result.read;
          const why = hour.tooManyAnswers() > tooManyBefore ? "Bitbucket's rate limit (429, too many requests)" : "This computer's count of your API token's hour";
          const told = result.retryAfterSeconds !== undefined ? new Date(hour.now().getTime() + result.retryAfterSeconds * 1000) : null;
          const room = hour.goesOnAt(Math.min(left, ROOM_TO_GO_ON));
          const at = room && told && told > room ? told : room;
          idleWaits = Object.keys(progress.read).length > readBefore ? 0 : idleWaits + 1;
          if (opts.wait === false || !at || idleWaits > BACKOFF_MINUTES.length) {
            io.stderr.write(
              `${why} stopped the audit after ${result.read} of ${result.total} repositories; what was read is kept in ${file.path}. ` +
                `Run the same command again${at ? ` after ${clockTime(at)}` : ' later'} to go on.\n`,
            );
            io.setExitCode(1);
            return;
          }
          io.stderr.write(
            `${why} stopped the audit after ${result.read} of ${result.total} repositories: waiting until ${clockTime(at)}, then going on ` +
              `(what was read is kept in ${file.path}: stopping now and running the same command later goes on too).\n`,
          );
          await hour.flush(io);
          await hour.waitUntil(at);
          io.stderr.write(`Going on at ${clockTime(hour.now())}: ${left} repositories left to read.\n`);
        }
      }),
    );
}
