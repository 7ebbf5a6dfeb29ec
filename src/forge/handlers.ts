/**
 * The Forge entry points over a backend: `@forge/resolver` definitions for the pages, the queue
 * consumer and the push trigger. Only here is Forge's `req.context` read, and only its trusted fields.
 */
import { makeResolver } from '@forge/resolver';
import { createBackend, type Backend } from './backend';
import { RESOLVERS, type ResolverError } from './contract';
import { toResolverError } from './errors';
import { bracedUuid } from './store/keys';
import type { Delivery, ForgePlatform, TrustedContext } from './platform/ports';

type Json = Record<string, unknown>;

const objectOr = (value: unknown): Json => (typeof value === 'object' && value !== null ? (value as Json) : {});

/**
 * Workspace, repository and account from Forge's invocation context. Forge fills `accountId` from the
 * invocation's principal and the rest from where the page was opened; a page cannot set them.
 */
export function trustedContext(context: unknown): TrustedContext {
  const c = objectOr(context);
  const repository = objectOr(objectOr(c.extension).repository);
  const workspaceId = bracedUuid(typeof c.workspaceId === 'string' ? c.workspaceId : '', 'workspace');
  const accountId = typeof c.accountId === 'string' ? c.accountId : '';
  const trusted: TrustedContext = { workspaceId, accountId };
  if (typeof repository.uuid === 'string') trusted.repositoryUuid = bracedUuid(repository.uuid, 'repository');
  if (typeof c.moduleKey === 'string') trusted.moduleKey = c.moduleKey;
  return trusted;
}

/** What Forge's AsyncEvent says of its delivery: the event's id and, on a redelivery, the retry count. */
export function deliveryOf(event: unknown): Delivery | undefined {
  const e = objectOr(event);
  if (typeof e.eventId !== 'string' || !e.eventId) return undefined;
  const retryCount = objectOr(e.retryContext).retryCount;
  return { eventId: e.eventId, retryCount: typeof retryCount === 'number' && Number.isInteger(retryCount) && retryCount > 0 ? retryCount : 0 };
}

export interface ForgeHandlers {
  backend: Backend;
  /** `forge/index.resolver`: the definitions handler `@forge/resolver` builds. */
  resolver: ReturnType<typeof makeResolver>;
  /** `forge/index.jobConsumer`: called with the queue event, whose `body` is the message (see deliveryOf). */
  jobConsumer: (event: unknown) => Promise<void>;
  /** `forge/index.onPush`. */
  onPush: (event: unknown, context?: unknown) => Promise<void>;
  /**
   * `forge/index.onSchedule`: the hourly scheduled trigger. Forge wants a 2xx `statusCode` back, else it
   * records the invocation as failed.
   */
  onSchedule: (event?: unknown, context?: unknown) => Promise<{ statusCode: number }>;
}

export function createForgeHandlers(platform: ForgePlatform): ForgeHandlers {
  const backend = createBackend(platform);
  const definitions: Record<string, (req: { payload: unknown; context: unknown }) => Promise<unknown>> = {};
  for (const name of RESOLVERS) {
    definitions[name] = async (req) => {
      let context: TrustedContext;
      try {
        context = trustedContext(req.context);
      } catch (err) {
        const error: ResolverError = toResolverError(err);
        return { ok: false, error };
      }
      const call = (): Promise<unknown> => backend.resolvers[name](req.payload, context);
      return platform.runResolver ? platform.runResolver(call) : call();
    };
  }
  const defined = makeResolver(definitions);
  // `@forge/resolver` looks a function key up with `in`, which also finds what every object inherits:
  // `constructor` would answer with the request's context. Only the app's own names reach it.
  const resolver: ReturnType<typeof makeResolver> = (request, runtime) => {
    const functionKey: unknown = objectOr(objectOr(request).call).functionKey;
    if (typeof functionKey !== 'string' || !Object.hasOwn(definitions, functionKey)) {
      return Promise.reject(new Error('Resolver has no definition for that function key.'));
    }
    return defined(request, runtime);
  };
  return {
    backend,
    resolver,
    jobConsumer: (event) => backend.consume(objectOr(event).body, deliveryOf(event)),
    onPush: async (event) => {
      await backend.onPush(event);
    },
    onSchedule: async () => {
      await backend.onSchedule();
      return { statusCode: 204 };
    },
  };
}
