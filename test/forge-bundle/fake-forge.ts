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
 *   listen for them; each in its own invocation context (who is calling, which module).
 *
 * One at a time per process: it replaces globals (`fetch`, `https.request`, `console`) while open.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { format } from 'node:util';
import type { AsyncEvent, PushEvent } from '@forge/events';
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
}

/** Who is being invoked and for whom: what Forge knows of an invocation and the app cannot change. */
interface Invocation {
  id: string;
  functionKey: string;
  moduleKey: string;
  accountId?: string;
  installContext: string;
  deadline: number;
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

const json = (status: number, body: unknown) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

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

  private readonly invocation = new AsyncLocalStorage<Invocation>();
  private readonly functions = new Map<string, Promise<Fn>>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly hosts: string[];
  private readonly restore: (() => void)[] = [];
  private gate: http.Server | undefined;
  private gatePort = 0;
  private readonly sockets = new Set<Socket>();
  private readonly realFetch = globalThis.fetch;

  private constructor(private readonly options: FakeForgeOptions) {
    this.hosts = egressHosts(options.manifest);
  }

  static async start(options: FakeForgeOptions): Promise<FakeForge> {
    const forge = new FakeForge(options);
    await forge.install();
    return forge;
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

  private async run(functionKey: string, moduleKey: string, timeoutMs: number, who: { accountId?: string; workspaceId: string }, call: (fn: Fn) => unknown): Promise<unknown> {
    const fn = await this.fn(functionKey);
    const inv: Invocation = {
      id: randomUUID(),
      functionKey,
      moduleKey,
      installContext: `ari:cloud:bitbucket::workspace/${who.workspaceId.replace(/[{}]/g, '')}`,
      deadline: Date.now() + timeoutMs,
      ...(who.accountId ? { accountId: who.accountId } : {}),
    };
    return this.invocation.run(inv, async () => await call(fn));
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
      workspaceId: input.workspaceId,
      extension: { type: mod.type, ...(input.repositoryUuid ? { repository: { uuid: input.repositoryUuid } } : {}) },
    };
    const reply = await this.run(mod.resolverFunction, input.moduleKey, RESOLVER_TIMEOUT_MS, input, (fn) =>
      fn(
        { call: { functionKey: input.functionKey, payload: input.payload }, context },
        { principal: { accountId: input.accountId }, installContext: `ari:cloud:bitbucket::workspace/${input.workspaceId.replace(/[{}]/g, '')}` },
      ),
    );
    return reply === undefined ? undefined : (JSON.parse(JSON.stringify(reply)) as unknown);
  }

  /** A product event (e.g. `avi:bitbucket:push:repository`) delivered to every trigger listening for it. */
  async deliverEvent(event: { eventType: string; workspace: { uuid: string } } & Record<string, unknown>): Promise<number> {
    const triggers = (this.manifestModules.trigger ?? []).filter((t) => t.events?.includes(event.eventType));
    for (const trigger of triggers) {
      const installContext = `ari:cloud:bitbucket::workspace/${event.workspace.uuid.replace(/[{}]/g, '')}`;
      await this.run(trigger.function ?? '', trigger.key, this.handlerOf(trigger.function ?? '').timeoutMs, { workspaceId: event.workspace.uuid }, (fn) =>
        fn(structuredClone(event), { installContext, workspaceId: event.workspace.uuid }),
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
    const installContext = `ari:cloud:bitbucket::workspace/${workspaceId.replace(/[{}]/g, '')}`;
    const answers: unknown[] = [];
    for (const trigger of this.manifestModules.scheduledTrigger ?? []) {
      const functionKey = trigger.function ?? '';
      let answer: unknown;
      try {
        answer = await this.run(functionKey, trigger.key, this.handlerOf(functionKey).timeoutMs, { workspaceId }, (fn) =>
          fn({ context: { moduleKey: trigger.key }, contextToken: randomUUID() }, { installContext, workspaceId }),
        );
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

  /** Resolves once no queue event is waiting or being consumed, including events those pushed. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private publish(request: PushRequest, installContext: string): Response {
    const consumer = (this.manifestModules.consumer ?? []).find((c) => c.queue === request.queueName);
    if (!consumer?.function) return json(404, { message: `No consumer in manifest.yml for queue ${request.queueName}.` });
    const functionKey = consumer.function;
    const workspaceId = `{${installContext.replace(/^.*workspace\//, '')}}`;
    request.payload.forEach((pushed, i) => {
      const event: AsyncEvent = { ...structuredClone(pushed), queueName: request.queueName, jobId: request.jobId, eventId: `${request.jobId}-${i}` };
      this.queued.push(event);
      if (pushed.delayInSeconds) this.problems.push('a queue event with delayInSeconds (this fake delivers at once)');
      // Forge runs the consumer in an invocation of its own, after the push has answered.
      const work = new Promise((resolve) => setImmediate(resolve))
        .then(() =>
          this.run(functionKey, consumer.key, this.handlerOf(functionKey).timeoutMs, { workspaceId }, (fn) =>
            fn(structuredClone(event), { installContext, workspaceId }),
          ),
        )
        .catch((err: unknown) => this.problems.push(`consumer ${consumer.key} threw (Forge would retry the event): ${String(err)}`));
      this.running.add(work);
      void work.finally(() => this.running.delete(work));
    });
    return json(201, {});
  }

  // ---------------------------------------------------------------------------------------------
  // __forge_fetch__: product requests, KV store, queue
  // ---------------------------------------------------------------------------------------------

  private async forgeFetch(ctx: { type?: string; provider?: string; remote?: string; accountId?: string }, path: string, init: RequestInit = {}): Promise<Response> {
    const inv = this.invocation.getStore();
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
    return res;
  }

  private kvs(path: string, body: Record<string, unknown>): Response {
    const secret = path.startsWith('/api/v1/secret/');
    const store = secret ? this.secrets : this.records;
    const op = path.replace(/^\/api\/v1\/(secret\/)?/, '');
    const key = body.key;
    const live = (k: string) => {
      const entry = store.get(k);
      if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) store.delete(k);
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
        store.set(k, { json: text, ...(options.ttl ? { expiresAt: Date.now() + options.ttl.value * TTL_UNIT_MS[options.ttl.unit] } : {}) });
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
    const target = this.egress(url);
    if (!target) this.blocked.push(`${method} ${url.href}`);
    const goTo = target ?? new URL(path, `http://127.0.0.1:${this.gatePort}`);
    // The caller's agent is an https one; the hop to the stand-in is plain loopback HTTP.
    return http.request(
      {
        method,
        hostname: goTo.hostname,
        port: goTo.port,
        path: `${goTo.pathname}${goTo.search}`,
        headers: { ...(opts.headers as Record<string, string>), host: url.host },
        timeout: opts.timeout,
      },
      (res) => {
        this.outbound.push({ via: 'https', method, url: url.href, status: res.statusCode ?? 0 });
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
          installationId: '00000000-0000-4000-8000-0000000000a1',
          moduleKey: inv?.moduleKey,
          permissions,
        };
      },
      lambdaContext: { getRemainingTimeInMillis: () => Math.max(0, (invocation.getStore()?.deadline ?? Date.now()) - Date.now()) },
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
    for (const m of methods) console[m] = (...args: unknown[]) => void this.logs.push(format(...args));
    this.restore.push(() => methods.forEach((m, i) => (console[m] = saved[i] as (typeof console)[typeof m])));
  }

  /** Waits for queued work, then puts every global back and stops the gate. */
  async close(): Promise<void> {
    await this.idle();
    for (const undo of this.restore.splice(0).reverse()) undo();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.gate ? this.gate.close(() => resolve()) : resolve()));
  }
}
