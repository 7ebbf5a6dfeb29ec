/**
 * The small HTTP toolkit the emulators share: a router whose paths are written the way the official
 * specs write them (`/repositories/{workspace}/{repo_slug}`), so a test can list every served route and
 * look it up in the spec; a loopback server on an OS-picked port; and JSON/plain-text replies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface HttpRequest {
  method: Method;
  /** Path below the router's base, decoded per segment into `params`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Raw body text ('' when none). */
  body: string;
  /** The absolute URL the client used, for building `next` links. */
  url: URL;
}

export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as text/plain; undefined as an empty body. */
  body?: unknown;
}

export type Handler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

export interface RouteInfo {
  method: Method;
  /** Template relative to the base, in spec form, e.g. `/repositories/{workspace}/{repo_slug}`. */
  template: string;
}

interface Route extends RouteInfo {
  regex: RegExp;
  names: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  constructor(readonly base: string) {}

  on(method: Method, template: string, handler: Handler): this {
    const names: string[] = [];
    const pattern = template
      .split('/')
      .map((seg) => {
        const m = /^\{([^}]+)\}$/.exec(seg);
        if (m) {
          names.push(m[1] as string);
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    // A trailing `{path}` parameter in a template that ends with `/{path}` may span slashes (file paths).
    const spanning = template.endsWith('/{path}') ? pattern.replace(/\(\[\^\/\]\+\)$/, '(.+)') : pattern;
    this.routes.push({ method, template, names, handler, regex: new RegExp(`^${spanning}/?$`) });
    return this;
  }

  list(): RouteInfo[] {
    return this.routes.map(({ method, template }) => ({ method, template }));
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: Method[] } | null {
    const allowed: Method[] = [];
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] as string);
      });
      return { route, params };
    }
    return allowed.length ? { allowed } : null;
  }
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** What the server asks of the fault injector (faults.ts) before it routes a request: whether it answered. */
export interface RequestFaults {
  apply(method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export interface ServeOptions {
  faults?: RequestFaults;
  /** Reply for a path no route matches. */
  notFound?: (req: HttpRequest) => HttpReply;
  /** Called for every request after it is answered (request logs for tests). */
  onRequest?: (entry: { method: string; path: string; status: number; body: string }, headers: HttpRequest['headers']) => void;
  /** Extra handler tried before the routers (control endpoints). */
  before?: (req: HttpRequest) => Promise<HttpReply | undefined> | HttpReply | undefined;
  /** Port to listen on; 0 (the default) lets the OS pick one. */
  port?: number;
  /** Request bodies larger than this are answered 413 and not read further (default: no cap). */
  maxBodyBytes?: number;
}

class BodyTooLargeError extends Error {}

function send(res: ServerResponse, reply: HttpReply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload = '';
  if (typeof reply.body === 'string') {
    payload = reply.body;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

async function readBody(req: IncomingMessage, max: number | undefined): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (max !== undefined && Number.isFinite(declared) && declared > max) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (max !== undefined && size > max) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves `routers` on 127.0.0.1 at a port the OS picks. `close()` also drops idle keep-alive sockets. */
export async function serve(routers: Router[], options: ServeOptions = {}): Promise<RunningServer> {
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    let body: string;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      // The rest of the body is not read: the connection closes once the answer is out.
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ message: `The request body is larger than ${options.maxBodyBytes} bytes.` }));
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase() as Method;
    const base: HttpRequest = {
      method,
      path: url.pathname,
      params: {},
      query: url.searchParams,
      headers: req.headers,
      body,
      url,
    };
    const finish = (reply: HttpReply) => {
      options.onRequest?.({ method, path: url.pathname + url.search, status: reply.status, body }, req.headers);
      send(res, reply);
    };
    try {
      const early = await options.before?.(base);
      if (early) return finish(early);
      if (options.faults && (await options.faults.apply(method, url.pathname, req, res))) {
        options.onRequest?.({ method, path: url.pathname + url.search, status: res.statusCode, body }, req.headers);
        return;
      }
      for (const router of routers) {
        if (!url.pathname.startsWith(router.base)) continue;
        const rel = url.pathname.slice(router.base.length) || '/';
        const found = router.match(method, rel);
        if (!found) continue;
        if ('allowed' in found) {
          return finish({ status: 405, headers: { allow: found.allowed.join(', ') }, body: 'Method Not Allowed' });
        }
        return finish(await found.route.handler({ ...base, path: rel, params: found.params }));
      }
      finish(options.notFound?.(base) ?? { status: 404, body: 'Not Found' });
    } catch (err) {
      finish({ status: 500, body: `Internal error: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): HttpReply => ({ status, body, headers });
