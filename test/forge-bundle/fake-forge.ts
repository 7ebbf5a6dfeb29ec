/**
 * A stand-in for the Forge platform around the app's functions, for running the handlers manifest.yml
 * names (bundled by Forge's bundler, or straight from src/) outside Forge. It plays the part of
 * Forge's runtime wrapper and of the services behind it:
 *
 * - the globals @forge/api, @forge/kvs and @forge/events reach: `__forge_runtime__` (app context,
 *   metrics, remaining time) and `__forge_fetch__`, which answers the calls they make through it:
 *   `requestBitbucket` as the app and as the invoking user (sent on to the Bitbucket emulator with
 *   that person's credentials), the KV store's `/api/v1/...` (records and secrets, in memory, with
 *   Forge's key rules and TTLs) and the queue's publish call;
 * - egress: the app's own `fetch` and `https` requests go out only to the hosts in the manifest's
 *   `permissions.external.fetch.backend`, over HTTPS, and reach the stand-in serving that host; any
 *   other host is answered 403, as Forge answers a blocked request;
 * - invocations: resolver calls shaped as Forge makes them for @forge/resolver, queue events delivered
 *   to the manifest's consumer after the call that pushed them, product events to the triggers that
 *   listen for them, the manifest's scheduled triggers; each in its own invocation with the context
 *   Forge gives (installContext, braced workspaceId, license, installation, the principal when a person
 *   calls) and an empty `process.env` (only the variables given here);
 * - the queue as Forge runs it: `delayInSeconds` against the fake's clock, `concurrency: {key, limit}`,
 *   a consumer's InvocationError (returned or thrown) retried with `retryContext`, up to Forge's retry
 *   limit; and, on request, at-least-once delivery (every event twice) and a consumer cut off at its Nth
 *   outbound request (a platform timeout: the invocation dies, every later call it makes hangs, and the
 *   event comes back with `retryContext`).
 *
 * One at a time per process: it replaces globals (`fetch`, `https.request`, `console`, `process.env`) while open.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { format } from 'node:util';
import type { AsyncEvent, PushEvent } from '@forge/events';

type Concurrency = NonNullable<PushEvent['concurrency']>;
type RetryContext = NonNullable<AsyncEvent['retryContext']>;
import type { ManifestSchema } from '@forge/manifest';

type Fn = (...args: unknown[]) => unknown;

/** The body of the queue's publish call (@forge/events `Queue.push`). */
interface PushRequest {
  queueName: string;
  jobId: string;
  payload: PushEvent[];
}

export interface Credentials {
  email: string;
  token: string;
}

export interface FakeForgeOptions {
  manifest: ManifestSchema;
  /** The function behind a manifest handler (`forge/index.resolver`), loaded when first invoked. */
  load(handler: string): Promise<Fn>;
  /** Where each egress host is served: `api.bitbucket.org` → `http://127.0.0.1:PORT`. */
  upstreams: Record<string, string>;
  /** `requestBitbucket`: the emulator's origin, whom "the app" acts as, and each user by account id. */
  bitbucket: { origin: string; app: Credentials; users: Record<string, Credentials> };
  /** What `forge variables set` gave the environment: all a function finds in `process.env`. */
  variables?: Record<string, string>;
  /** The installation's licence as Forge passes it (`context.license`); absent for an unlicensed install. */
  license?: License | null;
  /** Deliver every queue event twice (Forge promises at-least-once delivery, not exactly once). */
  atLeastOnce?: boolean;
}

/** `context.license` as @forge/api types it. */
export interface License {
  isActive?: boolean;
  active?: boolean;
  isEvaluation?: boolean;
  billingPeriod?: string;
  type?: string;
}

/**
 * A platform timeout at a chosen point of a consumer's run: the first invocation of a matching event to
 * make its `atRequest`th outbound request (Bitbucket, Valohai: 1 is the first) dies there. `before`: the
 * request never leaves; `after`: it reaches the server and its answer is lost. The event is redelivered.
 */
export interface CutOff {
  match(body: Record<string, unknown>): boolean;
  atRequest: number;
  mode?: 'before' | 'after';
}

export interface CutOffHandle {
  /** The event it cut, once it has fired. */
  readonly fired: AsyncEvent | undefined;
}

/** Who is being invoked and for whom: what Forge knows of an invocation and the app cannot change. */
interface Invocation {
  id: string;
  functionKey: string;
  moduleKey: string;
  moduleType: string;
  accountId?: string;
  installContext: string;
  workspaceId: string;
  deadline: number;
  /** Outbound requests (Bitbucket, Valohai) made so far. */
  requests: number;
  /** Armed on a consumer invocation: where it is to be cut off. */
  cut?: { cutOff: CutOff; handle: { fired: AsyncEvent | undefined }; event: AsyncEvent };
  /** Set once the platform stopped it: everything it asks from then on hangs. */
  dead: boolean;
  die(): void;
  /** What it put into `process.env` (never seen by another invocation). */
  env: Record<string, string>;
}

/** An event waiting for its time, its concurrency slot, or a consumer. */
interface Delivery {
  event: AsyncEvent;
  consumer: { key: string; function: string };
  installContext: string;
  workspaceId: string;
  dueAt: number;
}

export interface OutboundRequest {
  /** `product:app`, `product:user` (requestBitbucket), `fetch` or `https` (egress). */
  via: string;
  method: string;
  url: string;
  status: number;
}

export interface KvEntry {
  json: string;
  expiresAt?: number;
}

/** Forge's rule for KV keys (and for secret keys). */
const KEY_PATTERN = /^(?!\s+$)[a-zA-Z0-9:._\s\-#]{1,500}$/;
const MAX_VALUE_BYTES = 240 * 1024;
const MAX_SECRET_BYTES = 128 * 1024;
const MAX_QUERY_LIMIT = 100;
const RESOLVER_TIMEOUT_MS = 25_000;
const DEFAULT_TIMEOUT_MS = 55_000;
const TTL_UNIT_MS = { SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 } as const;
/**
 * How many times Forge redelivers one event (after a timeout, a platform error or an InvocationError)
 * before it gives up on it.
 */
export const MAX_RETRIES = 4;
const INSTALLATION_ID = '00000000-0000-4000-8000-0000000000a1';

const hang = <T>(): Promise<T> => new Promise<T>(() => {});
const installContextOf = (workspaceId: string) => `ari:cloud:bitbucket::workspace/${workspaceId.replace(/[{}]/g, '')}`;
const braced = (workspaceId: string) => `{${workspaceId.replace(/[{}]/g, '')}}`;

/** What a consumer answered, when it asks for a retry: `new InvocationError(...)` is `{_retry: true, retryOptions}`. */
function retryAsked(value: unknown): { retryAfter: number; retryReason: string; retryData?: unknown } | undefined {
  const v = value as { _retry?: unknown; retryOptions?: { retryAfter?: unknown; retryReason?: unknown; retryData?: unknown } } | null;
  if (typeof v !== 'object' || v === null || v._retry !== true) return undefined;
  const options = v.retryOptions ?? {};
  return {
    retryAfter: typeof options.retryAfter === 'number' && options.retryAfter > 0 ? options.retryAfter : 1,
    retryReason: typeof options.retryReason === 'string' ? options.retryReason : 'FUNCTION_RETRY_REQUEST',
    ...(options.retryData !== undefined ? { retryData: options.retryData } : {}),
  };
}

const json = (status: number, body: unknown) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Marks a request the gate holds unanswered (one made by a stopped invocation). */
const HANG_HEADER = 'x-fake-forge-hang';

const refusal = (host: string) =>
  `Forge refused the request to ${host}: it is not in permissions.external.fetch.backend of manifest.yml (egress is HTTPS to the listed hosts only).`;

/** The hosts a manifest lets the functions call, as `*.example.com` or `example.com`. */
export function egressHosts(manifest: ManifestSchema): string[] {
  const backend = (manifest.permissions?.external?.fetch?.backend ?? []) as (string | { address?: string; remote?: string })[];
  return backend
    .map((entry) => (typeof entry === 'string' ? entry : (entry.address ?? '')))
    .filter(Boolean)
    .map((address) => address.replace(/^https:\/\//, '').replace(/\/.*$/, '').toLowerCase());
}

function egressAllows(hosts: string[], url: URL): boolean {
  if (url.protocol !== 'https:') return false;
  const host = url.hostname.toLowerCase();
  // A wildcard never covers its parent domain.
  return hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
}

async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  return new Response(body as BodyInit).text();
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, name) => (out[name] = value));
  return out;
}

export class FakeForge {
  /** KV records and secrets, key → JSON text. */
  readonly records = new Map<string, KvEntry>();
  readonly secrets = new Map<string, KvEntry>();
  readonly outbound: OutboundRequest[] = [];
  /** Egress requests refused, `METHOD url`. */
  readonly blocked: string[] = [];
  /** Everything the functions wrote to the console, one entry per call (Forge keeps them as logs). */
  readonly logs: string[] = [];
  /** Platform calls this fake does not model, and handlers that threw where Forge would retry: each a failure. */
  readonly problems: string[] = [];
  /** Every queue event pushed, as Forge received it. */
  readonly queued: AsyncEvent[] = [];
  /** Every delivery of a queue event to its consumer, as the consumer received it (retries and duplicates too). */
  readonly deliveries: AsyncEvent[] = [];
  /** Each consumer invocation once it ended: its event, the outbound requests it made, whether the platform stopped it. */
  readonly consumerRuns: { event: AsyncEvent; requests: number; died: boolean }[] = [];

  private readonly invocation = new AsyncLocalStorage<Invocation>();
  private readonly functions = new Map<string, Promise<Fn>>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly hosts: string[];
  private readonly restore: (() => void)[] = [];
  private gate: http.Server | undefined;
  private gatePort = 0;
  private readonly sockets = new Set<Socket>();
  private readonly realFetch = globalThis.fetch;
  /** The fake clock's lead over real time: `advanceClock` moves it. */
  private offsetMs = 0;
  private readonly delayed = new Set<Delivery>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Consumer invocations running per concurrency key, and the deliveries waiting for one to end. */
  private readonly slots = new Map<string, { running: number; waiting: (() => void)[] }>();
  private readonly cutOffs: { cutOff: CutOff; handle: { fired: AsyncEvent | undefined } }[] = [];
  private closed = false;
  /** Deliver every queue event twice. */
  atLeastOnce: boolean;

  private constructor(private readonly options: FakeForgeOptions) {
    this.hosts = egressHosts(options.manifest);
    this.atLeastOnce = options.atLeastOnce ?? false;
  }

  static async start(options: FakeForgeOptions): Promise<FakeForge> {
    const forge = new FakeForge(options);
    await forge.install();
    return forge;
  }

  // ---------------------------------------------------------------------------------------------
  // Clock
  // ---------------------------------------------------------------------------------------------

  /** The platform's time: real time, plus however far a test moved it. KV TTLs and queue delays go by it. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the platform's clock on; queue events whose delay has passed are delivered. */
  advanceClock(ms: number): void {
    this.offsetMs += ms;
    this.releaseDue();
  }

  /** Queue events still waiting for their time (`delayInSeconds`, a retry's `retryAfter`). */
  get waiting(): AsyncEvent[] {
    return [...this.delayed].map((d) => d.event);
  }

  // ---------------------------------------------------------------------------------------------
  // Invocations
  // ---------------------------------------------------------------------------------------------

  private get manifestModules(): Record<string, { key: string; function?: string; resolver?: { function?: string }; queue?: string; events?: string[] }[]> {
    return (this.options.manifest.modules ?? {}) as never;
  }

  private handlerOf(functionKey: string): { handler: string; timeoutMs: number } {
    const fn = (this.manifestModules.function ?? []).find((f) => f.key === functionKey) as { handler?: string; timeoutSeconds?: number } | undefined;
    if (!fn?.handler) throw new Error(`manifest.yml has no function "${functionKey}".`);
    return { handler: fn.handler, timeoutMs: fn.timeoutSeconds ? fn.timeoutSeconds * 1000 : DEFAULT_TIMEOUT_MS };
  }

  private fn(functionKey: string): Promise<Fn> {
    const { handler } = this.handlerOf(functionKey);
    let loaded = this.functions.get(handler);
    if (!loaded) {
      loaded = this.options.load(handler);
      this.functions.set(handler, loaded);
    }
    return loaded;
  }

  /**
   * The second argument Forge passes every function: the installation, its braced workspace id, the
   * licence and, when a person is behind the call, the principal.
   */
  private runtimeContext(inv: Invocation): Record<string, unknown> {
    const license = this.options.license === undefined ? { isActive: true, active: true, isEvaluation: false } : this.options.license;
    return {
      installContext: inv.installContext,
      workspaceId: inv.workspaceId,
      installation: { ari: { installationId: INSTALLATION_ID }, contexts: [{ workspaceId: inv.workspaceId }] },
      ...(license ? { license } : {}),
      ...(inv.accountId ? { principal: { accountId: inv.accountId } } : {}),
    };
  }

  /**
   * Runs one invocation of a function. Resolves with its answer, or `{died: true}` once the platform
   * stopped it (a cut-off): from then on whatever it still asks for hangs, as a stopped function's would.
   */
  private async run(
    functionKey: string,
    where: { moduleKey: string; moduleType: string; accountId?: string; workspaceId: string; timeoutMs?: number },
    call: (fn: Fn, context: Record<string, unknown>) => unknown,
    cut?: Invocation['cut'],
    started?: (inv: Invocation) => void,
  ): Promise<{ answer: unknown } | { died: true }> {
    const fn = await this.fn(functionKey);
    let die = () => {};
    const died = new Promise<{ died: true }>((resolve) => (die = () => resolve({ died: true })));
    const workspaceId = braced(where.workspaceId);
    const inv: Invocation = {
      id: randomUUID(),
      functionKey,
      moduleKey: where.moduleKey,
      moduleType: where.moduleType,
      installContext: installContextOf(workspaceId),
      workspaceId,
      deadline: this.now() + (where.timeoutMs ?? this.handlerOf(functionKey).timeoutMs),
      requests: 0,
      dead: false,
      die: () => {
        inv.dead = true;
        die();
      },
      env: { ...this.options.variables },
      ...(where.accountId ? { accountId: where.accountId } : {}),
      ...(cut ? { cut } : {}),
    };
    started?.(inv);
    const answered = this.invocation.run(inv, async () => ({ answer: await call(fn, this.runtimeContext(inv)) }));
    answered.catch(() => undefined);
    return Promise.race([answered, died]);
  }

  /** The module of the manifest with this key, and which kind it is (`bitbucket:repoSettingsMenuPage`). */
  private module(moduleKey: string): { type: string; resolverFunction?: string } {
    for (const [type, list] of Object.entries(this.manifestModules)) {
      const found = list.find((m) => m.key === moduleKey);
      if (found) return { type, ...(found.resolver?.function ? { resolverFunction: found.resolver.function } : {}) };
    }
    throw new Error(`manifest.yml has no module "${moduleKey}".`);
  }

  /**
   * A resolver call from a Custom UI page, as Forge makes it: `@forge/resolver`'s handler gets
   * `{call: {functionKey, payload}, context}` and, second, the invocation's own details, whose
   * `principal` is who is calling. The reply crosses to the page as JSON.
   */
  async resolve(input: {
    moduleKey: string;
    functionKey: string;
    payload: unknown;
    accountId: string;
    workspaceId: string;
    repositoryUuid?: string;
  }): Promise<unknown> {
    const mod = this.module(input.moduleKey);
    if (!mod.resolverFunction) throw new Error(`Module ${input.moduleKey} has no resolver.`);
    const context = {
      localId: `${input.moduleKey}-${randomUUID()}`,
      moduleKey: input.moduleKey,
      workspaceId: braced(input.workspaceId),
      extension: { type: mod.type, ...(input.repositoryUuid ? { repository: { uuid: input.repositoryUuid } } : {}) },
    };
    const ran = await this.run(mod.resolverFunction, { moduleKey: input.moduleKey, moduleType: mod.type, accountId: input.accountId, workspaceId: input.workspaceId, timeoutMs: RESOLVER_TIMEOUT_MS }, (fn, runtime) =>
      fn({ call: { functionKey: input.functionKey, payload: input.payload }, context }, runtime),
    );
    if (!('answer' in ran)) throw new Error(`The resolver call ${input.functionKey} was stopped by the platform.`);
    return ran.answer === undefined ? undefined : (JSON.parse(JSON.stringify(ran.answer)) as unknown);
  }

  /** A product event (e.g. `avi:bitbucket:push:repository`) delivered to every trigger listening for it. */
  async deliverEvent(event: { eventType: string; workspace: { uuid: string } } & Record<string, unknown>): Promise<number> {
    const triggers = (this.manifestModules.trigger ?? []).filter((t) => t.events?.includes(event.eventType));
    for (const trigger of triggers) {
      await this.run(trigger.function ?? '', { moduleKey: trigger.key, moduleType: 'trigger', workspaceId: event.workspace.uuid }, (fn, runtime) =>
        fn(structuredClone(event), runtime),
      );
    }
    return triggers.length;
  }

  /**
   * The manifest's scheduled triggers, as Forge fires them: `{context: {cloudId?, moduleKey}, contextToken}`
   * with no user, once per installation. Forge records any answer but a 2xx `statusCode` as a failed
   * invocation (424), and never retries a throw: both are problems here. Returns what each answered.
   */
  async fireScheduledTriggers(workspaceId: string): Promise<unknown[]> {
    const answers: unknown[] = [];
    for (const trigger of this.manifestModules.scheduledTrigger ?? []) {
      const functionKey = trigger.function ?? '';
      let answer: unknown;
      try {
        const ran = await this.run(functionKey, { moduleKey: trigger.key, moduleType: 'scheduledTrigger', workspaceId }, (fn, runtime) =>
          fn({ context: { moduleKey: trigger.key }, contextToken: randomUUID() }, runtime),
        );
        answer = 'answer' in ran ? ran.answer : undefined;
      } catch (err) {
        this.problems.push(`scheduled trigger ${trigger.key} threw (Forge records a failed invocation and does not retry): ${String(err)}`);
        continue;
      }
      const status = (answer as { statusCode?: unknown } | null | undefined)?.statusCode;
      if (typeof status !== 'number' || status < 200 || status > 299) {
        this.problems.push(`scheduled trigger ${trigger.key} answered ${JSON.stringify(answer)}: Forge wants a 2xx statusCode, else it records a failed invocation (424)`);
      }
      answers.push(answer);
    }
    return answers;
  }

  /**
   * Stops the first consumer invocation of a matching event at its `atRequest`th outbound request, as a
   * platform timeout would (see CutOff). One-shot: later invocations run whole.
   */
  cutOff(cutOff: CutOff): CutOffHandle {
    if (!Number.isInteger(cutOff.atRequest) || cutOff.atRequest < 1) throw new Error('A cut-off is at request 1 or later.');
    const handle: { fired: AsyncEvent | undefined } = { fired: undefined };
    this.cutOffs.push({ cutOff, handle });
    return handle;
  }

  /** Resolves once no queue event is due, waiting for a slot, or being consumed, including events those pushed. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private publish(request: PushRequest, installContext: string): Response {
    const consumer = (this.manifestModules.consumer ?? []).find((c) => c.queue === request.queueName);
    if (!consumer?.function) return json(404, { message: `No consumer in manifest.yml for queue ${request.queueName}.` });
    for (const pushed of request.payload) {
      const { concurrency } = pushed;
      if (concurrency !== undefined && (typeof concurrency.key !== 'string' || !concurrency.key || !Number.isInteger(concurrency.limit) || concurrency.limit < 1)) {
        return json(400, { message: `concurrency must be {key: non-empty string, limit: positive integer} (got ${JSON.stringify(concurrency)}).` });
      }
    }
    const workspaceId = `{${installContext.replace(/^.*workspace\//, '')}}`;
    const now = this.now();
    request.payload.forEach((pushed, i) => {
      const event: AsyncEvent = { ...structuredClone(pushed), queueName: request.queueName, jobId: request.jobId, eventId: `${request.jobId}-${i}` };
      this.queued.push(event);
      // Forge runs the consumer in an invocation of its own, after the push has answered.
      this.schedule({ event, consumer: { key: consumer.key, function: consumer.function ?? '' }, installContext, workspaceId, dueAt: now + (pushed.delayInSeconds ?? 0) * 1000 });
    });
    return json(201, {});
  }

  /** Holds a delivery until its time, then hands it to the consumer (twice, in at-least-once mode). */
  private schedule(delivery: Delivery): void {
    if (this.closed) return;
    if (delivery.dueAt > this.now()) {
      this.delayed.add(delivery);
      // With the real clock the time comes by itself; a test moving the clock releases it at once.
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.releaseDue();
      }, delivery.dueAt - this.now());
      timer.unref();
      this.timers.add(timer);
      return;
    }
    for (let copy = 0; copy < (this.atLeastOnce ? 2 : 1); copy++) this.track(this.consume(delivery));
  }

  private releaseDue(): void {
    const now = this.now();
    for (const delivery of [...this.delayed]) {
      if (delivery.dueAt > now) continue;
      this.delayed.delete(delivery);
      this.schedule(delivery);
    }
  }

  private track(work: Promise<unknown>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** Waits for a free place under the event's concurrency key; returns its release. */
  private async slot(concurrency: Concurrency | undefined): Promise<() => void> {
    if (!concurrency) return () => {};
    let entry = this.slots.get(concurrency.key);
    if (!entry) {
      entry = { running: 0, waiting: [] };
      this.slots.set(concurrency.key, entry);
    }
    const held = entry;
    while (held.running >= concurrency.limit) await new Promise<void>((resolve) => held.waiting.push(resolve));
    held.running += 1;
    return () => {
      held.running -= 1;
      held.waiting.shift()?.();
    };
  }

  /** One delivery of an event to its consumer, and what Forge does with how it ends. */
  private async consume(delivery: Delivery): Promise<void> {
    const { event, consumer } = delivery;
    const release = await this.slot(event.concurrency);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      const armed = this.cutOffs.find((c) => !c.handle.fired && c.cutOff.match(event.body));
      const delivered = structuredClone(event);
      this.deliveries.push(delivered);
      let ran: { answer: unknown } | { died: true };
      let invocation: Invocation | undefined;
      try {
        ran = await this.run(
          consumer.function,
          { moduleKey: consumer.key, moduleType: 'consumer', workspaceId: delivery.workspaceId },
          (fn, runtime) => fn(structuredClone(delivered), runtime),
          armed ? { ...armed, event: delivered } : undefined,
          (inv) => (invocation = inv),
        );
        this.consumerRuns.push({ event: delivered, requests: invocation?.requests ?? 0, died: 'died' in ran });
      } catch (err) {
        // A thrown InvocationError asks for a retry as a returned one does.
        if (retryAsked(err)) ran = { answer: err };
        else {
          this.problems.push(`consumer ${consumer.key} threw (Forge would retry the event): ${String(err)}`);
          return;
        }
      }
      if ('died' in ran) {
        this.retry(delivery, { retryAfter: 0, retryReason: 'FUNCTION_TIME_OUT' });
        return;
      }
      const asked = retryAsked(ran.answer);
      if (asked) this.retry(delivery, asked);
    } finally {
      release();
    }
  }

  /** The event again, `retryAfter` seconds on, with its retryContext; Forge gives up past MAX_RETRIES. */
  private retry(delivery: Delivery, why: { retryAfter: number; retryReason: string; retryData?: unknown }): void {
    const retryCount = (delivery.event.retryContext?.retryCount ?? 0) + 1;
    if (retryCount > MAX_RETRIES) {
      this.problems.push(`queue event ${delivery.event.eventId} (${JSON.stringify(delivery.event.body)}) was given up after ${MAX_RETRIES} retries (last: ${why.retryReason})`);
      return;
    }
    const retryContext: RetryContext = { retryCount, retryReason: why.retryReason, retryData: why.retryData };
    this.schedule({ ...delivery, event: { ...delivery.event, retryContext }, dueAt: this.now() + why.retryAfter * 1000 });
  }

  /**
   * Counts an outbound request of the current invocation, and stops the invocation when it is where a
   * cut-off aims: 'before' → the request is not sent; 'after' → it is, and its answer is lost.
   */
  private outboundTurn(): 'send' | 'hang' | 'send-then-die' {
    const inv = this.invocation.getStore();
    if (!inv) return 'send';
    if (inv.dead) return 'hang';
    inv.requests += 1;
    if (!inv.cut || inv.cut.handle.fired || inv.requests !== inv.cut.cutOff.atRequest) return 'send';
    inv.cut.handle.fired = inv.cut.event;
    if ((inv.cut.cutOff.mode ?? 'before') === 'before') {
      inv.die();
      return 'hang';
    }
    return 'send-then-die';
  }

  private dieNow(): void {
    this.invocation.getStore()?.die();
  }

  // ---------------------------------------------------------------------------------------------
  // __forge_fetch__: product requests, KV store, queue
  // ---------------------------------------------------------------------------------------------

  private async forgeFetch(ctx: { type?: string; provider?: string; remote?: string; accountId?: string }, path: string, init: RequestInit = {}): Promise<Response> {
    const inv = this.invocation.getStore();
    // A stopped invocation reaches nothing any more.
    if (inv?.dead) return hang();
    if (ctx.type === 'kvs') return this.kvs(path, JSON.parse(await bodyText(init.body)) as Record<string, unknown>);
    if (ctx.type === 'fpp' && ctx.remote === 'bitbucket' && (ctx.provider === 'app' || ctx.provider === 'user')) {
      return this.requestBitbucket(ctx.provider, ctx.accountId ?? inv?.accountId, path, init);
    }
    if (ctx.type === 'fpp' && ctx.remote === 'stargate' && ctx.provider === 'app' && path.startsWith('/webhook/queue/publish/')) {
      if (!inv) return json(400, { message: 'A queue push outside any invocation.' });
      return this.publish(JSON.parse(await bodyText(init.body)) as PushRequest, inv.installContext);
    }
    this.problems.push(`__forge_fetch__ ${JSON.stringify(ctx)} ${path}`);
    return json(500, { message: `The fake Forge runtime does not serve ${path}.` });
  }

  private async requestBitbucket(provider: 'app' | 'user', accountId: string | undefined, path: string, init: RequestInit): Promise<Response> {
    const method = init.method ?? 'GET';
    const turn = this.outboundTurn();
    if (turn === 'hang') return hang();
    const who = provider === 'app' ? this.options.bitbucket.app : accountId ? this.options.bitbucket.users[accountId] : undefined;
    if (!who) {
      // No user behind this invocation (a trigger or a queue consumer), or one the emulator does not know.
      this.outbound.push({ via: `product:${provider}`, method, url: path, status: 401 });
      return new Response('', { status: 401, headers: { 'forge-proxy-error': 'INVALID_PRINCIPAL' } });
    }
    if (!path.startsWith('/2.0/')) return json(404, { message: `requestBitbucket reaches /2.0/ only (got ${path}).` });
    const headers = headerRecord(init.headers);
    headers.authorization = `Basic ${Buffer.from(`${who.email}:${who.token}`).toString('base64')}`;
    const res = await this.realFetch(`${this.options.bitbucket.origin}${path}`, { method, headers, body: init.body ?? null, signal: init.signal ?? null });
    this.outbound.push({ via: `product:${provider}`, method, url: path, status: res.status });
    if (turn === 'send-then-die') {
      this.dieNow();
      return hang();
    }
    return res;
  }

  private kvs(path: string, body: Record<string, unknown>): Response {
    const secret = path.startsWith('/api/v1/secret/');
    const store = secret ? this.secrets : this.records;
    const op = path.replace(/^\/api\/v1\/(secret\/)?/, '');
    const key = body.key;
    const live = (k: string) => {
      const entry = store.get(k);
      if (entry?.expiresAt !== undefined && entry.expiresAt <= this.now()) store.delete(k);
      return store.get(k);
    };
    if (op !== 'query' && (typeof key !== 'string' || !KEY_PATTERN.test(key))) {
      return json(400, { code: 'INVALID_KEY', message: `Invalid key ${JSON.stringify(key)}: 1-500 characters of a-z A-Z 0-9 : . _ - # and spaces.` });
    }
    const k = key as string;
    switch (op) {
      case 'get': {
        const entry = live(k);
        return entry ? json(200, { key: k, value: JSON.parse(entry.json) as unknown }) : json(404, { code: 'KEY_NOT_FOUND', message: 'Key not found' });
      }
      case 'set': {
        const options = (body.options ?? {}) as { keyPolicy?: string; ttl?: { value: number; unit: keyof typeof TTL_UNIT_MS } };
        const text = JSON.stringify(body.value);
        if (text === undefined) return json(400, { code: 'INVALID_VALUE', message: 'The value must be JSON.' });
        if (Buffer.byteLength(text) > (secret ? MAX_SECRET_BYTES : MAX_VALUE_BYTES)) return json(400, { code: 'VALUE_TOO_LARGE', message: 'The value is too large.' });
        if (options.keyPolicy === 'FAIL_IF_EXISTS' && live(k)) return json(409, { code: 'KEY_ALREADY_EXISTS', message: 'The key already exists.' });
        if (options.ttl && !(options.ttl.unit in TTL_UNIT_MS)) return json(400, { code: 'INVALID_TTL', message: 'Unknown TTL unit.' });
        store.set(k, { json: text, ...(options.ttl ? { expiresAt: this.now() + options.ttl.value * TTL_UNIT_MS[options.ttl.unit] } : {}) });
        return new Response('', { status: 200 });
      }
      case 'delete':
        store.delete(k);
        return json(204, null);
      case 'query': {
        if (secret) break;
        const limit = typeof body.limit === 'number' ? body.limit : 10;
        if (limit < 1 || limit > MAX_QUERY_LIMIT) return json(400, { code: 'INVALID_LIMIT', message: `limit must be 1-${MAX_QUERY_LIMIT}.` });
        const where = (body.where ?? []) as { property: string; condition: string; values: unknown[] }[];
        const prefix = where.find((w) => w.property === 'key' && w.condition === 'BEGINS_WITH')?.values[0];
        if (where.length !== (prefix === undefined ? 0 : 1)) break;
        const after = typeof body.after === 'string' ? body.after : '';
        const keys = [...store.keys()].filter((x) => (typeof prefix !== 'string' || x.startsWith(prefix)) && x > after && live(x)).sort();
        const page = keys.slice(0, limit);
        return json(200, {
          data: page.map((x) => ({ key: x, value: JSON.parse((store.get(x) as KvEntry).json) as unknown })),
          ...(keys.length > limit ? { cursor: page.at(-1) } : {}),
        });
      }
    }
    this.problems.push(`KV ${path} ${JSON.stringify(Object.keys(body))}`);
    return json(501, { code: 'NOT_MODELLED', message: `The fake KV store does not serve ${path}.` });
  }

  // ---------------------------------------------------------------------------------------------
  // Egress: global fetch and https.request
  // ---------------------------------------------------------------------------------------------

  /** Where an outbound URL goes: the stand-in for its host, or nowhere (Forge answers 403). */
  private egress(url: URL): URL | undefined {
    if (!egressAllows(this.hosts, url)) return undefined;
    const upstream = this.options.upstreams[url.hostname.toLowerCase()];
    if (!upstream) {
      this.problems.push(`egress to ${url.hostname} is allowed but no stand-in serves it`);
      return undefined;
    }
    return new URL(`${url.pathname}${url.search}`, upstream);
  }

  private readonly fetchThroughEgress = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const turn = this.outboundTurn();
    if (turn === 'hang') return hang();
    const target = this.egress(url);
    if (!target) {
      this.blocked.push(`${request.method} ${url.href}`);
      this.outbound.push({ via: 'fetch', method: request.method, url: url.href, status: 403 });
      return new Response(refusal(url.hostname), { status: 403, headers: { 'content-type': 'text/plain' } });
    }
    const headers = headerRecord(request.headers);
    headers.host = url.host;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const res = await this.realFetch(target, {
      method: request.method,
      headers,
      body: hasBody ? await request.text() : null,
      signal: request.signal,
      redirect: request.redirect,
    });
    this.outbound.push({ via: 'fetch', method: request.method, url: url.href, status: res.status });
    if (turn === 'send-then-die') {
      this.dieNow();
      return hang();
    }
    return res;
  };

  /**
   * `https.request` for clients on Node's http stack (axios): an allowed host's request is sent to its
   * stand-in over loopback HTTP; any other goes to a local gate that answers Forge's 403.
   */
  private readonly httpsRequestThroughEgress = (...args: unknown[]): http.ClientRequest => {
    const [first, second, third] = args;
    const base = typeof first === 'string' || first instanceof URL ? new URL(first) : undefined;
    const opts = ((base ? (typeof second === 'object' ? second : undefined) : first) ?? {}) as http.RequestOptions;
    const cb = [second, third].find((a): a is (res: IncomingMessage) => void => typeof a === 'function');
    const path = base ? `${base.pathname}${base.search}` : (opts.path ?? '/');
    const url = new URL(`https://${base?.host ?? opts.hostname ?? opts.host ?? 'localhost'}${path}`);
    const method = opts.method ?? 'GET';
    const turn = this.outboundTurn();
    const target = turn === 'hang' ? undefined : this.egress(url);
    if (!target && turn !== 'hang') this.blocked.push(`${method} ${url.href}`);
    const goTo = target ?? new URL(path, `http://127.0.0.1:${this.gatePort}`);
    const die = () => this.dieNow();
    // The caller's agent is an https one; the hop to the stand-in is plain loopback HTTP.
    return http.request(
      {
        method,
        hostname: goTo.hostname,
        port: goTo.port,
        path: `${goTo.pathname}${goTo.search}`,
        // The gate never answers a request of a stopped invocation: it hangs, as the platform would leave it.
        headers: { ...(opts.headers as Record<string, string>), host: url.host, ...(turn === 'hang' ? { [HANG_HEADER]: '1' } : {}) },
        timeout: opts.timeout,
      },
      (res) => {
        this.outbound.push({ via: 'https', method, url: url.href, status: res.statusCode ?? 0 });
        if (turn === 'send-then-die') {
          die();
          res.resume();
          return;
        }
        cb?.(res);
      },
    );
  };

  // ---------------------------------------------------------------------------------------------
  // Installing and removing the globals
  // ---------------------------------------------------------------------------------------------

  private async install(): Promise<void> {
    const g = globalThis as Record<string, unknown>;
    if (g.__forge_runtime__ || g.__forge_fetch__) throw new Error('A Forge runtime is already installed in this process.');

    // The gate answers what Forge's egress refuses on Node's http stack.
    this.gate = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      if (req.headers[HANG_HEADER]) return;
      res.writeHead(403, { 'content-type': 'text/plain' }).end(refusal(String(req.headers.host ?? 'that host')));
    });
    this.gate.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.gate?.listen(0, '127.0.0.1', resolve));
    this.gatePort = (this.gate.address() as AddressInfo).port;

    const appId = String(this.options.manifest.app?.id ?? '').replace(/^.*\//, '');
    const noMetric = { incr() {}, decr() {}, set() {}, measure: () => ({ stop() {} }) };
    const invocation = this.invocation;
    const runtimeContext = (inv: Invocation) => this.runtimeContext(inv);
    const now = () => this.now();
    const permissions = this.options.manifest.permissions ?? {};
    g.__forge_runtime__ = {
      // Read per call, as the wrapper sets it per invocation.
      get appContext() {
        const inv = invocation.getStore();
        return {
          appId,
          appVersion: '1.0.0',
          environmentId: '00000000-0000-4000-8000-0000000000e1',
          environmentType: 'DEVELOPMENT',
          invocationId: inv?.id ?? 'none',
          installationId: INSTALLATION_ID,
          functionKey: inv?.functionKey,
          moduleType: inv?.moduleType,
          moduleKey: inv?.moduleKey,
          ...(inv ? { installation: runtimeContext(inv).installation, license: runtimeContext(inv).license } : {}),
          permissions,
        };
      },
      lambdaContext: { awsRequestId: 'fake', getRemainingTimeInMillis: () => Math.max(0, (invocation.getStore()?.deadline ?? now()) - now()) },
      metrics: { counter: () => noMetric, timing: () => noMetric, gauge: () => noMetric },
      proxy: { token: 'fake', url: 'http://127.0.0.1:0' },
      tracing: { traceId: 'trace', spanId: 'span' },
    };
    g.__forge_fetch__ = (ctx: Record<string, string>, path: string, init?: RequestInit) => this.forgeFetch(ctx, path, init);
    this.restore.push(() => {
      delete g.__forge_runtime__;
      delete g.__forge_fetch__;
    });

    const realFetch = globalThis.fetch;
    globalThis.fetch = this.fetchThroughEgress as typeof fetch;
    this.restore.push(() => (globalThis.fetch = realFetch));

    const realRequest = https.request;
    const realGet = https.get;
    https.request = this.httpsRequestThroughEgress as typeof https.request;
    https.get = ((...args: unknown[]) => this.httpsRequestThroughEgress(...args).end()) as typeof https.get;
    this.restore.push(() => {
      https.request = realRequest;
      https.get = realGet;
    });

    // Forge keeps what functions print as their logs; here they are kept for the tests to read.
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const saved = methods.map((m) => console[m]);
    for (const m of methods) {
      console[m] = (...args: unknown[]) => {
        if (!this.invocation.getStore()?.dead) this.logs.push(format(...args));
      };
    }
    this.restore.push(() => methods.forEach((m, i) => (console[m] = saved[i] as (typeof console)[typeof m])));

    // Forge starts each function with an empty environment: only what `forge variables set` gave is in it.
    // Outside invocations (the test, the stand-ins) the process keeps its own.
    const realEnv = process.env;
    const envOf = (): Record<string, string | undefined> => invocation.getStore()?.env ?? realEnv;
    process.env = new Proxy({} as NodeJS.ProcessEnv, {
      get: (_, name) => (typeof name === 'string' ? envOf()[name] : undefined),
      set: (_, name, value) => {
        if (typeof name === 'string') envOf()[name] = String(value);
        return true;
      },
      has: (_, name) => typeof name === 'string' && Object.hasOwn(envOf(), name),
      deleteProperty: (_, name) => (typeof name === 'string' ? delete envOf()[name] : true),
      ownKeys: () => Object.keys(envOf()),
      getOwnPropertyDescriptor: (_, name) => {
        const env = envOf();
        return typeof name === 'string' && Object.hasOwn(env, name) ? { value: env[name], writable: true, enumerable: true, configurable: true } : undefined;
      },
    });
    this.restore.push(() => (process.env = realEnv));
  }

  /** Waits for queued work, then puts every global back and stops the gate. Events still delayed are dropped. */
  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    this.delayed.clear();
    for (const timer of this.timers) clearTimeout(timer);
    for (const undo of this.restore.splice(0).reverse()) undo();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.gate ? this.gate.close(() => resolve()) : resolve()));
  }
}
