/**
 * An in-process ForgePlatform: Map-backed secrets and records (stored as JSON text, so nothing is
 * shared by reference), a queue that runs the consumer asynchronously, and a logger that keeps its
 * lines. The local preview and the tests run the real backend over it.
 */
import { createFetchTransport, type BitbucketTransport } from '../../src/bitbucket/index';
import type { Clock, KeyGenerator } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';
import { createBackend, type Backend } from '../../src/forge/backend';
import {
  EGRESS_VALOHAI_ORIGINS,
  type CallLimits,
  type EnqueueOptions,
  type ForgePlatform,
  type Logger,
  type LogFields,
  type PageUrls,
  type QueueMessage,
  type RecordStore,
  type SecretStore,
  type StoreWriteOptions,
  type TrustedContext,
  type ValohaiPort,
} from '../../src/forge/platform/ports';

interface Entry {
  json: string;
  expiresAt: number | undefined;
}

export type StoreOperation = { op: 'get' | 'set' | 'create' | 'delete' | 'query'; key: string };

export class MemoryRecordStore implements RecordStore {
  private readonly entries = new Map<string, Entry>();
  /** Every call, in order: tests count reads and writes. */
  readonly operations: StoreOperation[] = [];

  constructor(private readonly clock: Clock) {}

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private entry(value: unknown, options?: StoreWriteOptions): Entry {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError('The record store keeps JSON values only.');
    const ttl = options?.ttlSeconds;
    return { json, expiresAt: ttl ? this.clock.now().getTime() + ttl * 1000 : undefined };
  }

  async get<T>(key: string): Promise<T | undefined> {
    this.operations.push({ op: 'get', key });
    const entry = this.live(key);
    return entry ? (JSON.parse(entry.json) as T) : undefined;
  }

  async set(key: string, value: unknown, options?: StoreWriteOptions): Promise<void> {
    this.operations.push({ op: 'set', key });
    this.entries.set(key, this.entry(value, options));
  }

  async create(key: string, value: unknown, options?: StoreWriteOptions): Promise<boolean> {
    this.operations.push({ op: 'create', key });
    if (this.live(key)) return false;
    this.entries.set(key, this.entry(value, options));
    return true;
  }

  async delete(key: string): Promise<void> {
    this.operations.push({ op: 'delete', key });
    this.entries.delete(key);
  }

  async query<T>(prefix: string, options: { limit?: number } = {}): Promise<{ key: string; value: T }[]> {
    this.operations.push({ op: 'query', key: prefix });
    const limit = options.limit ?? 100;
    return [...this.entries.keys()]
      .filter((k) => k.startsWith(prefix) && this.live(k))
      .sort()
      .slice(0, limit)
      .map((key) => ({ key, value: JSON.parse((this.entries.get(key) as Entry).json) as T }));
  }

  /** Every stored record as JSON text, for scanning. */
  dump(): Map<string, string> {
    return new Map([...this.entries].map(([k, e]) => [k, e.json]));
  }
}

export class MemorySecretStore implements SecretStore {
  private readonly values = new Map<string, string>();

  async get(key: string): Promise<unknown> {
    const json = this.values.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as unknown);
  }

  async set(key: string, value: unknown): Promise<void> {
    this.values.set(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }

  dump(): Map<string, string> {
    return new Map(this.values);
  }
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

export class MemoryLogger implements Logger {
  readonly lines: LogLine[] = [];
  constructor(private readonly echo?: (line: LogLine) => void) {}
  private add(level: LogLine['level'], message: string, fields: LogFields = {}): void {
    const line = { level, message, fields };
    this.lines.push(line);
    this.echo?.(line);
  }
  info(message: string, fields?: LogFields): void {
    this.add('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.add('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.add('error', message, fields);
  }
}

export interface MemoryPlatformOptions {
  /** Bitbucket as the app (reads). */
  bitbucketAsApp: BitbucketTransport;
  /** Bitbucket as the calling user, picked by the context's account id. */
  bitbucketAsUser: (context: TrustedContext) => BitbucketTransport;
  /** API root for stored API tokens, e.g. an emulator's `http://127.0.0.1:PORT/2.0`. */
  bitbucketApiUrl?: string;
  makeBitbucketWithToken?: ForgePlatform['makeBitbucketWithToken'];
  makeValohai?: ForgePlatform['makeValohai'];
  /** The Valohai origins that may be saved; default: the deployed app's egress list (a test adds its stand-in's address). */
  valohaiOrigins?: readonly string[];
  generateKey?: KeyGenerator;
  clock?: Clock;
  pageUrls?: PageUrls;
  /** Queue messages wait for `releaseQueue()` instead of running at once. */
  holdQueue?: boolean;
  /**
   * Delayed messages also fire on a real timer (default true, for the preview). False: only `runDue()`
   * delivers them, by the platform's clock, so a simulated clock decides alone (a long benchmark).
   */
  realTimers?: boolean;
  /** Sees each log line as it is written (e.g. to print it in the preview). */
  echoLog?: (line: LogLine) => void;
}

export class MemoryPlatform implements ForgePlatform {
  readonly secrets = new MemorySecretStore();
  readonly store: MemoryRecordStore;
  readonly log: MemoryLogger;
  readonly clock: Clock;
  readonly bitbucketAsApp: BitbucketTransport;
  readonly generateKey: KeyGenerator;
  readonly pageUrls: PageUrls | undefined;
  readonly valohaiOrigins: readonly string[];
  /** Every message enqueued, in order. */
  readonly enqueued: QueueMessage[] = [];
  private consumer: ((message: unknown) => Promise<void>) | undefined;
  private held: QueueMessage[] = [];
  /** Messages enqueued with a delay, due by the platform's clock (runDue) or, unheld, by a real timer. */
  private delayed: { message: QueueMessage; dueAt: number; timer: NodeJS.Timeout | undefined }[] = [];
  private holding: boolean;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: MemoryPlatformOptions) {
    this.clock = options.clock ?? { now: () => new Date() };
    this.store = new MemoryRecordStore(this.clock);
    this.log = new MemoryLogger(options.echoLog);
    this.bitbucketAsApp = options.bitbucketAsApp;
    this.generateKey = options.generateKey ?? (({ type, comment }) => generateKeyPair({ type, comment }));
    this.pageUrls = options.pageUrls;
    this.valohaiOrigins = options.valohaiOrigins ?? EGRESS_VALOHAI_ORIGINS;
    this.holding = options.holdQueue ?? false;
  }

  bitbucketAsUser(context: TrustedContext): BitbucketTransport {
    return this.options.bitbucketAsUser(context);
  }

  makeBitbucketWithToken(credentials: { email: string; token: string }, limits: CallLimits): BitbucketTransport {
    if (this.options.makeBitbucketWithToken) return this.options.makeBitbucketWithToken(credentials, limits);
    if (!this.options.bitbucketApiUrl) throw new Error('MemoryPlatform: give bitbucketApiUrl or makeBitbucketWithToken.');
    return createFetchTransport({ baseUrl: this.options.bitbucketApiUrl, email: credentials.email, apiToken: credentials.token, timeoutMs: limits.timeoutMs });
  }

  makeValohai(connection: { host: string; token: string }, limits: CallLimits): ValohaiPort {
    if (this.options.makeValohai) return this.options.makeValohai(connection, limits);
    return new ValohaiClient({
      host: connection.host,
      token: connection.token,
      timeoutMs: limits.timeoutMs,
      retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs },
    });
  }

  /** Who handles queue messages (the backend's consumer). */
  setConsumer(consumer: (message: unknown) => Promise<void>): void {
    this.consumer = consumer;
  }

  async enqueue(message: QueueMessage, options: EnqueueOptions = {}): Promise<void> {
    const copy = JSON.parse(JSON.stringify(message)) as QueueMessage;
    this.enqueued.push(copy);
    const delayMs = Math.max(0, (options.delaySeconds ?? 0) * 1000);
    if (delayMs > 0) {
      const entry = { message: copy, dueAt: this.clock.now().getTime() + delayMs, timer: undefined as NodeJS.Timeout | undefined };
      // The preview waits for real; tests move the clock and call runDue(). The timer never keeps a process alive.
      if (this.options.realTimers ?? true) {
        entry.timer = setTimeout(() => this.fire(entry), delayMs);
        entry.timer.unref();
      }
      this.delayed.push(entry);
      return;
    }
    if (this.holding) this.held.push(copy);
    else this.dispatch(copy);
  }

  /** Delayed messages not yet delivered, with when they are due (by the platform's clock). */
  get delayedMessages(): readonly { message: QueueMessage; dueAt: Date }[] {
    return this.delayed.map((d) => ({ message: d.message, dueAt: new Date(d.dueAt) }));
  }

  /** Delivers the delayed messages due by the platform's clock; how many. */
  runDue(): number {
    const now = this.clock.now().getTime();
    const due = this.delayed.filter((d) => d.dueAt <= now);
    for (const d of due) this.fire(d);
    return due.length;
  }

  private fire(entry: { message: QueueMessage; timer: NodeJS.Timeout | undefined }): void {
    const at = this.delayed.indexOf(entry as (typeof this.delayed)[number]);
    if (at < 0) return;
    this.delayed.splice(at, 1);
    if (entry.timer) clearTimeout(entry.timer);
    if (this.holding) this.held.push(entry.message);
    else this.dispatch(entry.message);
  }

  holdQueue(): void {
    this.holding = true;
  }

  /** Runs the held messages (and stops holding). */
  releaseQueue(): void {
    this.holding = false;
    const held = this.held.splice(0);
    for (const message of held) this.dispatch(message);
  }

  /** Drops the held messages unrun (and stops holding): a test that only looks at what was planned. */
  discardHeld(): QueueMessage[] {
    this.holding = false;
    return this.held.splice(0);
  }

  /** Messages held and not yet run. */
  get pending(): readonly QueueMessage[] {
    return this.held;
  }

  /** Resolves once no queue work is running, including work that work enqueued. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private dispatch(message: QueueMessage): void {
    const consumer = this.consumer;
    if (!consumer) throw new Error('MemoryPlatform: no consumer set; call setConsumer() (createMemoryBackend does).');
    // Like Forge, the consumer runs later, never inside the resolver that enqueued.
    const work = new Promise<void>((resolve) => setImmediate(resolve)).then(() => consumer(message));
    this.running.add(work);
    void work.then(
      () => this.running.delete(work),
      () => this.running.delete(work),
    );
  }
}

/** A memory platform with the backend's consumer attached: what the preview server and the tests start. */
export function createMemoryBackend(options: MemoryPlatformOptions): { platform: MemoryPlatform; backend: Backend } {
  const platform = new MemoryPlatform(options);
  const backend = createBackend(platform);
  platform.setConsumer((message) => backend.consume(message));
  return { platform, backend };
}
