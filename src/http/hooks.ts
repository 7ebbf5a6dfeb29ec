/**
 * What every request of a transport must pass through (counting, a spending limit, noting refusals and
 * rate limits, a ledger) as hooks on the transport, instead of wrappers stacked by hand around it.
 *
 * Hooks run in the order they are given, each of `before`, `after` and `failed` in that order. A `before`
 * that throws stops the request: nothing is sent, no later hook is asked, and the caller gets its error
 * (that is how a limit refuses). A hook that throws in `after` or `failed` (a fault of the app's own, or
 * a `failed` hook's more exact account of the failure) has its error reach the caller, and the hooks
 * after it are not asked.
 */

export interface RequestHooks<Req, Res> {
  /** Before the request is sent; throw to refuse sending it. */
  before?(req: Req): void | Promise<void>;
  /** When an answer came back, whatever its status. */
  after?(req: Req, res: Res): void;
  /** When no answer came back (the transport threw). */
  failed?(req: Req, err: unknown): void;
}

/** Sends `req` with `send`, asking `hooks` around it. */
export async function withHooks<Req, Res>(hooks: readonly RequestHooks<Req, Res>[], req: Req, send: (req: Req) => Promise<Res>): Promise<Res> {
  for (const hook of hooks) await hook.before?.(req);
  let res: Res;
  try {
    res = await send(req);
  } catch (err) {
    for (const hook of hooks) hook.failed?.(req, err);
    throw err;
  }
  for (const hook of hooks) hook.after?.(req, res);
  return res;
}

/** The shape of a transport: one function that sends a request, and maybe the root it sends to. */
export interface HookableTransport<Req, Res> {
  readonly baseUrl?: string;
  request(req: Req): Promise<Res>;
}

/** `transport`, every request of it passing through `hooks` in the order given. */
export function hooked<Req, Res>(transport: HookableTransport<Req, Res>, ...hooks: RequestHooks<Req, Res>[]): HookableTransport<Req, Res> {
  return {
    ...(transport.baseUrl !== undefined ? { baseUrl: transport.baseUrl } : {}),
    request: (req) => withHooks(hooks, req, (r) => transport.request(r)),
  };
}

/** One call of a port's method: what a port watched by method hands its hooks. */
export interface MethodCall {
  method: string;
  args: readonly unknown[];
}

/**
 * `port`, each of its methods passing through `hooks` when called through it; for a port whose every
 * method is one request (and whose transport is out of reach, as a stand-in's is). Every method answers
 * with a promise. The port's own calls of its methods are not seen: one call through the result is one
 * call to the hooks.
 */
export function watchMethods<T extends object>(port: T, ...hooks: RequestHooks<MethodCall, unknown>[]): T {
  return new Proxy(port, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => withHooks(hooks, { method: name, args }, async () => fn.apply(target, args));
    },
  });
}
