/**
 * Fault injection for the emulators, set per route and method at run time, in-process
 * (`injector.add(rule)`) or over HTTP (`POST /__faults` with the rule as JSON, `DELETE /__faults`,
 * `GET /__faults`). A rule matches on method and a path regular expression, lets `after` matching calls
 * through, then affects the next `times` calls (all further calls when `times` is absent).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpReply, HttpRequest } from './http';

export interface FaultRule {
  /** HTTP method to match, or '*' (default) for any. */
  method?: string;
  /** Regular expression (source) tested against the request path, e.g. "/deploy-keys$". */
  path: string;
  /** Matching calls to let through before the fault starts (0 = the first call is affected). */
  after?: number;
  /** How many calls the fault affects once started; absent means every later call. */
  times?: number;
  /** Delay before answering (alone it only slows the call; with another effect, delays that too). */
  latencyMs?: number;
  /** Answer with this status instead of the real handler. */
  status?: number;
  /** Body for `status` (object → JSON, string → text). */
  body?: unknown;
  headers?: Record<string, string>;
  /** Destroy the connection without answering. */
  reset?: boolean;
  /** Answer 200 with a body that is not valid JSON. */
  malformed?: boolean;
}

interface ActiveRule extends FaultRule {
  id: number;
  regex: RegExp;
  seen: number;
  hits: number;
}

export interface FaultView extends FaultRule {
  id: number;
  /** Matching calls seen so far. */
  seen: number;
  /** Calls the fault actually affected. */
  hits: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  add(rule: FaultRule): number {
    const regex = new RegExp(rule.path);
    const id = this.nextId++;
    this.rules.push({ ...rule, id, regex, seen: 0, hits: 0 });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultView[] {
    return this.rules.map(({ regex: _regex, ...rest }) => ({ ...rest }));
  }

  /**
   * Applies the first matching rule. Returns true when the response was written (or the connection
   * destroyed) here, false when the real handler should answer (possibly after a delay).
   */
  async apply(method: string, path: string, _req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    for (const rule of this.rules) {
      if (rule.method && rule.method !== '*' && rule.method.toUpperCase() !== method) continue;
      if (!rule.regex.test(path)) continue;
      rule.seen += 1;
      const start = rule.after ?? 0;
      const active = rule.seen > start && (rule.times === undefined || rule.seen <= start + rule.times);
      if (!active) continue;
      rule.hits += 1;
      if (rule.latencyMs) await sleep(rule.latencyMs);
      if (rule.reset) {
        res.socket?.destroy();
        return true;
      }
      if (rule.malformed) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"values": [ this is not json');
        return true;
      }
      if (rule.status !== undefined) {
        const headers: Record<string, string> = { ...rule.headers };
        let payload = '';
        if (typeof rule.body === 'string') {
          payload = rule.body;
          headers['content-type'] ??= 'text/plain; charset=utf-8';
        } else if (rule.body !== undefined) {
          payload = JSON.stringify(rule.body);
          headers['content-type'] ??= 'application/json';
        }
        res.writeHead(rule.status, headers);
        res.end(payload);
        return true;
      }
      return false; // latency only
    }
    return false;
  }

  /** Handles the HTTP control endpoint `/__faults`; returns undefined for any other path. */
  control(req: HttpRequest): HttpReply | undefined {
    if (req.path !== '/__faults' && req.path !== '/__faults/') return undefined;
    if (req.method === 'GET') return { status: 200, body: this.list() };
    if (req.method === 'DELETE') {
      this.clear();
      return { status: 204 };
    }
    if (req.method === 'POST') {
      let rule: FaultRule;
      try {
        rule = JSON.parse(req.body) as FaultRule;
        if (typeof rule.path !== 'string') throw new Error('"path" (a regular expression) is required');
        new RegExp(rule.path);
      } catch (err) {
        return { status: 400, body: { error: err instanceof Error ? err.message : 'invalid rule' } };
      }
      return { status: 201, body: { id: this.add(rule) } };
    }
    return { status: 405, body: 'Method Not Allowed' };
  }
}
