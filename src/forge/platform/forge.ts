/**
 * The platform inside Forge: `@forge/kvs` for secrets and records, the `connection-jobs` queue,
 * `requestBitbucket` as the app and as the user, `fetch` with the stored API token, and the Forge log.
 * Nothing here touches the Forge runtime until a call needs it, so importing it is free.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import api, { assumeTrustedRoute, getAppContext, NeedsAuthenticationError } from '@forge/api';
import { Queue } from '@forge/events';
import { kvs, WhereConditions } from '@forge/kvs';
import { BITBUCKET_CLOUD_API_ROOT, createFetchTransport, type BitbucketRequest, type BitbucketResponse, type BitbucketTransport } from '../../bitbucket/index';
import { generateKeyPair } from '../../ssh/index';
import { ValohaiClient } from '../../valohai/index';
import { MODULE_KEYS } from '../contract';
import { concurrencyKeyOf, EGRESS_VALOHAI_ORIGINS, MAX_QUEUE_DELAY_SECONDS, type ForgePlatform, type LogFields, type Logger, type RecordStore, type SecretStore, type StoreWriteOptions } from './ports';

export const QUEUE_KEY = 'connection-jobs';
export const BITBUCKET_API_URL = BITBUCKET_CLOUD_API_ROOT;

/** Per resolver call: the consent error asUser() raised, to be rethrown to Forge once the call ends. */
const invocation = new AsyncLocalStorage<{ consent?: unknown }>();

type BitbucketRequester = () => { requestBitbucket: ReturnType<typeof api.asApp>['requestBitbucket'] };

async function send(requester: BitbucketRequester, req: BitbucketRequest): Promise<BitbucketResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  // The client builds paths only from segments it encoded and checked with the rules `route` applies
  // (src/http/path.ts), and keeps only the path of `next` links; `route` would encode them a second
  // time, so the path is taken as it is.
  const res = await requester().requestBitbucket(assumeTrustedRoute(`/2.0${req.path}`), {
    method: req.method,
    headers,
    body,
    signal: req.signal,
  });
  const text = await res.text();
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return { status: res.status, headers: out, text };
}

/** A `requestBitbucket` of Forge (`asApp()` or `asUser()`), as the Bitbucket client's transport. */
function forgeTransport(requester: BitbucketRequester): BitbucketTransport {
  return {
    async request(req) {
      try {
        return await send(requester, req);
      } catch (err) {
        if (err instanceof NeedsAuthenticationError) {
          const slot = invocation.getStore();
          if (slot) slot.consent ??= err;
        }
        throw err;
      }
    },
  };
}

const ttlOf = (options?: StoreWriteOptions) =>
  options?.ttlSeconds ? { ttl: { value: Math.max(1, Math.ceil(options.ttlSeconds)), unit: 'SECONDS' as const } } : {};

const forgeStore: RecordStore = {
  get: <T>(key: string) => kvs.get<T>(key),
  set: (key, value, options) => kvs.set(key, value, ttlOf(options)),
  async create(key, value, options) {
    try {
      await kvs.set(key, value, { keyPolicy: 'FAIL_IF_EXISTS', ...ttlOf(options) });
      return true;
    } catch (err) {
      // Whatever the refusal's code, a key that now exists means someone else created it first.
      if ((await kvs.get(key)) !== undefined) return false;
      throw err;
    }
  },
  delete: (key) => kvs.delete(key),
  async query<T>(prefix: string, options: { limit?: number } = {}) {
    const limit = options.limit ?? 100;
    const out: { key: string; value: T }[] = [];
    let cursor: string | undefined;
    do {
      let q = kvs.query().where('key', WhereConditions.beginsWith(prefix)).limit(Math.min(100, limit - out.length));
      if (cursor) q = q.cursor(cursor);
      const page = await q.getMany<T>();
      out.push(...page.results.map((r) => ({ key: r.key, value: r.value })));
      cursor = page.nextCursor;
    } while (cursor && out.length < limit);
    return out;
  },
};

const forgeSecrets: SecretStore = {
  get: (key) => kvs.getSecret<unknown>(key),
  set: (key, value) => kvs.setSecret(key, value),
  delete: (key) => kvs.deleteSecret(key),
};

/** One JSON line per entry: Forge's log keeps it searchable. Callers pass no secrets (see Logger). */
const forgeLog: Logger = {
  info: (message: string, fields?: LogFields) => console.log(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message: string, fields?: LogFields) => console.warn(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message: string, fields?: LogFields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

function appId(): string | null {
  try {
    return getAppContext().appAri.appId;
  } catch {
    return null;
  }
}

export function createForgePlatform(): ForgePlatform {
  let queue: Queue | undefined;
  const app = forgeTransport(() => api.asApp());
  const user = forgeTransport(() => api.asUser());
  return {
    secrets: forgeSecrets,
    store: forgeStore,
    async enqueue(message, options) {
      queue ??= new Queue({ key: QUEUE_KEY });
      const delay = options?.delaySeconds;
      // One at a time per repository (or per fleet work): the app's own locks stay, this spares a
      // duplicate delivery the wait for them.
      const key = options?.concurrencyKey ?? concurrencyKeyOf(message);
      await queue.push({
        body: message,
        ...(delay ? { delayInSeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil(delay))) } : {}),
        ...(key ? { concurrency: { key, limit: 1 } } : {}),
      });
    },
    bitbucketAsApp: app,
    // asUser() acts as the user of the current invocation, which is the context's account.
    bitbucketAsUser: () => user,
    makeBitbucketWithToken: ({ email, token }, limits) =>
      createFetchTransport({ baseUrl: BITBUCKET_API_URL, email, apiToken: token, timeoutMs: limits.timeoutMs }),
    makeValohai: ({ host, token }, limits) =>
      new ValohaiClient({ host, token, timeoutMs: limits.timeoutMs, retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs } }),
    valohaiOrigins: EGRESS_VALOHAI_ORIGINS,
    generateKey: ({ type, comment }) => generateKeyPair({ type, comment }),
    clock: { now: () => new Date() },
    log: forgeLog,
    async runResolver(call) {
      const slot: { consent?: unknown } = {};
      const reply = await invocation.run(slot, call);
      // Thrown to Forge on purpose: the page's bridge turns it into the "Allow access" prompt.
      if (slot.consent) throw slot.consent;
      return reply;
    },
    pageUrls: {
      // The settings page's address as Bitbucket builds it for a Forge module.
      repositorySettings: (ws, slug) => {
        const id = appId();
        return id ? `https://bitbucket.org/${encodeURIComponent(ws)}/${encodeURIComponent(slug)}/admin/forge/${id}/${MODULE_KEYS.repository}` : null;
      },
      // Unconfirmed where Bitbucket mounts a workspace settings page: no link rather than a wrong one.
      workspaceSettings: () => null,
    },
  };
}
