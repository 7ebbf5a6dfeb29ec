/**
 * The CLI's count of its API token's hour. Bitbucket allows the token's user about 1,000 requests an hour
 * and says nothing of what is left (no rate-limit headers for API tokens, a 429 without Retry-After), so
 * the CLI counts: every request a command sends with the token goes into a ledger per token user, a file
 * in the state folder (`token-hour-<digest of the email>.json`), read when the command sends its first
 * request and added to every 25 requests and when the command ends. Two commands at once both count:
 * each adds what it sent to what the file holds, under a lock, never overwrites it.
 *
 * The ledger counts this computer's requests only: the app, and other computers using the same account,
 * spend the same hour unseen, so what it says is left is the most there can be.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  aboutTime,
  backoffUntil,
  emptyHour,
  mergeHours,
  meterRequests,
  TOKEN_REQUESTS_PER_HOUR,
  TokenHourSpentError,
  TokenMeter,
  type BitbucketHooks,
  type TokenHour,
  type TokenHourStore,
} from '../bitbucket/index';
import type { RequestBudget } from '../connect/index';
import type { CliIO } from './screen';
import { checkStateDir, DirectoryLock, readStateFile, writeStateFile } from './state';

/** How long a command waits for another to finish adding to the ledger; past it, its count waits for its next write. */
const LOCK_WAIT_MS = 5_000;

/** The ledger's name for a token user: a digest of the account's email, the same for every token of the account. */
export function ledgerAccount(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
}

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** The file's hour, keeping only what has the ledger's shape: a damaged file counts as an empty hour. */
export function parseHour(text: string): TokenHour | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const raw = o as Record<string, unknown>;
  const minutes: TokenHour['minutes'] = {};
  if (raw.minutes && typeof raw.minutes === 'object') {
    for (const [m, s] of Object.entries(raw.minutes as Record<string, unknown>)) {
      const spend = s as { i?: unknown; u?: unknown } | null;
      if (/^\d+$/.test(m) && spend && typeof spend === 'object') minutes[m] = { i: count(spend.i), u: count(spend.u) };
    }
  }
  const isoOrNull = (v: unknown) => (typeof v === 'string' && Number.isFinite(Date.parse(v)) ? v : null);
  return { minutes, backoffUntil: isoOrNull(raw.backoffUntil), backoffStep: count(raw.backoffStep), headersSeenAt: isoOrNull(raw.headersSeenAt) };
}

/** One token user's hour in the state folder, written as state.ts writes every file (private, never through a link). */
export class FileTokenHourStore implements TokenHourStore {
  readonly path: string;
  private readonly lock: DirectoryLock;

  constructor(
    private readonly dir: string,
    private readonly account: string,
  ) {
    checkStateDir(dir);
    this.path = join(dir, `token-hour-${account}.json`);
    this.lock = new DirectoryLock(dir, { waitMs: LOCK_WAIT_MS });
  }

  async read(): Promise<TokenHour | undefined> {
    const text = await readStateFile(this.path);
    return text === undefined ? undefined : parseHour(text);
  }

  /** Read, add, write under the ledger's lock: another command's count written meanwhile is kept. */
  add(added: TokenHour, now: Date): Promise<TokenHour> {
    return this.lock.withLock(`token-hour-${this.account}`, async () => {
      const sum = mergeHours((await this.read()) ?? emptyHour(), added, now);
      await writeStateFile(this.dir, this.path, `${JSON.stringify(sum)}\n`);
      return sum;
    });
  }
}

/** The hour refused a request, as the CLI says it: by this computer's count, with where the count is kept. */
export class CliHourSpentError extends TokenHourSpentError {
  constructor(spent: TokenHourSpentError, ledgerPath: string) {
    super(spent.until, spent.kind, spent.spent, spent.tooMany);
    this.message =
      `Not sent: by this computer's count your API token has sent ${spent.spent.total} of the about ${TOKEN_REQUESTS_PER_HOUR.toLocaleString('en-US')} requests an hour allows ` +
      `(the app and other tools using the same account count too; the count is kept in ${ledgerPath}). ` +
      `${spent.until ? `Try again after ${aboutTime(spent.until)}.` : 'This is more than one hour of requests allows.'}`;
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One command's view of its token user's hour, and what it tells the person about it. */
export class CliTokenHour {
  readonly meter: TokenMeter;
  private opened: Promise<void> | undefined;
  private isOpen = false;
  private tooMany = 0;
  private refused: TokenHourSpentError | undefined;
  /** Set by a command that says itself when it goes on (audit, rotate --all): the end of the run adds nothing. */
  saysItself = false;

  constructor(
    readonly store: FileTokenHourStore,
    readonly now: () => Date,
    private readonly sleeper: (ms: number) => Promise<void> = realSleep,
  ) {
    this.meter = new TokenMeter(store, now, 'interactive');
  }

  /** Reads the ledger (once): before the first request, or before a plan is weighed. */
  open(): Promise<void> {
    this.opened ??= this.meter.open().then(() => {
      this.isOpen = true;
    });
    return this.opened;
  }

  /** The hook on the token's transport: each request counted, refused when the hour has no room, each 429 noted. */
  hooks(): BitbucketHooks {
    const metered = meterRequests(this.meter);
    return {
      before: async (req) => {
        await this.open();
        try {
          await metered.before?.(req);
        } catch (err) {
          if (!(err instanceof TokenHourSpentError)) throw err;
          this.refused = err;
          throw new CliHourSpentError(err, this.store.path);
        }
      },
      after: (req, res) => {
        if (res.status === 429) this.tooMany++;
        metered.after?.(req, res);
      },
    };
  }

  /** What the engine weighs a plan against: what is left by this computer's count, and when more fits. */
  readonly budget: RequestBudget = {
    remaining: () => (this.isOpen ? this.meter.remaining() : undefined),
    fitsAt: (needed) => this.meter.fitsAt(needed),
  };

  remaining(): number {
    return this.meter.remaining();
  }

  /** 429s Bitbucket answered this command so far. */
  tooManyAnswers(): number {
    return this.tooMany;
  }

  /** When the wait after Bitbucket's last 429 ends (1, 2, 4, 8, then 15 minutes for 429s in a row), while it lasts. */
  backoffEnds(): Date | null {
    return backoffUntil(this.meter.hour(), this.now());
  }

  /** When a command that stopped may go on with `cost` more requests: after any 429's wait, once they fit. */
  goesOnAt(cost: number): Date | null {
    const fits = this.meter.fitsAt(Math.max(1, cost));
    const backoff = this.backoffEnds();
    if (!fits) return null;
    return backoff && backoff > fits ? backoff : fits;
  }

  /** The line said before a large command starts. */
  costLine(what: string, cost: number): string {
    return (
      `This ${what} will send about ${cost} Bitbucket requests with your API token (about ${TOKEN_REQUESTS_PER_HOUR.toLocaleString('en-US')} an hour are allowed; ` +
      `the app and other tools using the same account count too). ${this.remaining()} are left this hour by this computer's count.`
    );
  }

  /** Why a plan of `cost` requests is not started (it does not fit what is left), or undefined when it fits. */
  refusal(what: string, cost: number): string | undefined {
    const left = this.remaining();
    if (cost <= left) return undefined;
    const at = this.meter.fitsAt(cost);
    return (
      `Not started: this ${what} needs about ${cost} Bitbucket requests, and by this computer's count your API token has ${left} left this hour. ` +
      `${at ? `It fits at ${aboutTime(at)}: run it again then` : 'That is more than one hour allows: run it in parts'}, ` +
      'or add --yes to start now (it sends what the hour allows, waits for room, and goes on).'
    );
  }

  /** Waits until `at` (the command said why, and when it goes on). */
  async waitUntil(at: Date): Promise<void> {
    const ms = at.getTime() - this.now().getTime();
    if (ms > 0) await this.sleeper(ms);
  }

  /** Writes what the command sent; a write that fails is said, never fatal. */
  async flush(io: CliIO): Promise<void> {
    const pending = this.meter.unflushed();
    await this.meter.flush().catch((err: unknown) => {
      io.stderr.write(
        `warning: ${pending} Bitbucket requests of this run could not be added to the count in ${this.store.path}: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    });
  }

  /** At the command's end: the ledger written, and when to try again if Bitbucket or the count held requests back. */
  async finish(io: CliIO): Promise<void> {
    if (!this.isOpen) return;
    await this.flush(io);
    if (this.saysItself) return;
    if (this.tooMany > 0) {
      const at = this.backoffEnds() ?? new Date(this.now().getTime() + 60_000);
      io.stderr.write(
        `Bitbucket answered 429 (too many requests) to your API token: try again after ${aboutTime(at)}. ` +
          `Bitbucket allows about ${TOKEN_REQUESTS_PER_HOUR.toLocaleString('en-US')} requests an hour per account; the app and other tools using the same account count too.\n`,
      );
    }
  }
}

/** The hours the commands of one CLI run opened, written when the command ends (`finishTokenHours`). */
const opened = new WeakMap<CliIO, CliTokenHour[]>();

/** The token user's hour for a command of `io`, counted in `dir`. */
export function tokenHourFor(io: CliIO, dir: string, email: string): CliTokenHour {
  const hour = new CliTokenHour(new FileTokenHourStore(dir, ledgerAccount(email)), io.now ?? (() => new Date()), io.sleep);
  opened.set(io, [...(opened.get(io) ?? []), hour]);
  return hour;
}

/** At a command's end: every hour it opened written, and said what needs saying. */
export async function finishTokenHours(io: CliIO): Promise<void> {
  const hours = opened.get(io) ?? [];
  opened.delete(io);
  for (const hour of hours) await hour.finish(io);
}
