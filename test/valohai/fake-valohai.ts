/**
 * A small in-test Valohai API (`/api/v0/`): the routes the client calls, DRF-style errors, limit/offset
 * pagination, a request log and fault rules (dev/faults.ts).
 */
import { FaultInjector } from '../../dev/faults';
import { Router, serve, type HttpReply, type HttpRequest, type RunningServer } from '../../dev/http';
import type { RetryInfo } from '../../src/http/retry';
import { ValohaiClient } from '../../src/valohai/client';

export const VH_TOKEN = 'vhtoken-0123456789abcdef0123456789abcdef';

export interface FakeProject {
  id: string;
  name: string;
  owner: string;
  repository: { id: number; url: string; ref: string; ssh_private_key?: string } | null;
}

export interface FakeCommit {
  identifier: string;
  ref: string;
  ref_names: string[];
  commit_time: string;
  project: string;
}

export interface LoggedCall {
  method: string;
  path: string;
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface FakeValohai {
  server: RunningServer;
  host: string;
  projects: FakeProject[];
  commits: FakeCommit[];
  ownership: string[] | null;
  /** What the next fetch answers (defaults to the project's commits, no errors). */
  fetchReply: { commits?: unknown[]; errors?: unknown[] } | null;
  faults: FaultInjector;
  log: LoggedCall[];
  hang: RegExp[];
  client(opts?: { token?: string; maxAttempts?: number; timeoutMs?: number; onRetry?: (i: RetryInfo) => void }): { client: ValohaiClient; retries: RetryInfo[] };
  close(): Promise<void>;
}

export async function startFakeValohai(projects: FakeProject[], commits: FakeCommit[] = []): Promise<FakeValohai> {
  const faults = new FaultInjector();
  const log: LoggedCall[] = [];
  const hang: RegExp[] = [];
  const router = new Router('/api/v0');
  const auth = (req: HttpRequest): HttpReply | undefined =>
    req.headers.authorization === `Token ${VH_TOKEN}` ? undefined : { status: 401, body: { detail: 'Invalid token.', code: 'authentication_failed' } };
  const notFound: HttpReply = { status: 404, body: { detail: 'Not found.' } };
  const projectJson = (p: FakeProject) => ({
    id: p.id,
    name: p.name,
    owner: { id: 1, username: p.owner },
    repository: p.repository ? { id: p.repository.id, url: p.repository.url, ref: p.repository.ref } : null,
  });

  const state: FakeValohai = {
    server: undefined as unknown as RunningServer,
    host: '',
    projects,
    commits,
    ownership: ['acme', 'acme:ml-team'],
    fetchReply: null,
    faults,
    log,
    hang,
    client(opts = {}) {
      const retries: RetryInfo[] = [];
      const client = new ValohaiClient({
        host: state.host,
        token: opts.token ?? VH_TOKEN,
        timeoutMs: opts.timeoutMs,
        retry: {
          sleep: async () => undefined,
          random: () => 0.5,
          maxAttempts: opts.maxAttempts ?? 5,
          onRetry: (i) => {
            retries.push(i);
            opts.onRetry?.(i);
          },
        },
      });
      return { client, retries };
    },
    close: () => state.server.close(),
  };

  router
    .on('GET', '/users/me/', (req) => auth(req) ?? { status: 200, body: { id: 7, username: 'ada', email: 'ada@example.com' } })
    .on('GET', '/projects/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      const limit = Number(req.query.get('limit') ?? 20);
      const offset = Number(req.query.get('offset') ?? 0);
      const body: Record<string, unknown> = { count: state.projects.length, previous: null, next: null, results: state.projects.slice(offset, offset + limit).map(projectJson) };
      if (offset + limit < state.projects.length) {
        const next = new URL(req.url.href);
        next.searchParams.set('offset', String(offset + limit));
        body.next = next.href;
      }
      return { status: 200, body };
    })
    .on('POST', '/projects/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      const body = JSON.parse(req.body || '{}') as { name?: string; owner?: string; description?: string };
      if (!body.name) return { status: 400, body: { name: ['This field is required.'] } };
      if (state.projects.some((p) => p.name === body.name && p.owner === body.owner)) {
        return { status: 400, body: { non_field_errors: ['A project with this name already exists for this owner.'] } };
      }
      const p: FakeProject = { id: `00000000-0000-4000-8000-${String(state.projects.length + 1).padStart(12, '0')}`, name: body.name, owner: body.owner ?? 'ada', repository: { id: 900 + state.projects.length, url: '', ref: 'master' } };
      state.projects.push(p);
      return { status: 201, body: projectJson(p) };
    })
    .on('GET', '/projects/ownership_options/', (req) => auth(req) ?? (state.ownership ? { status: 200, body: state.ownership } : notFound))
    .on('GET', '/projects/{id}/', (req) => {
      const p = state.projects.find((x) => x.id === req.params.id);
      return auth(req) ?? (p ? { status: 200, body: projectJson(p) } : notFound);
    })
    .on('POST', '/projects/{id}/fetch/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      const p = state.projects.find((x) => x.id === req.params.id);
      if (!p) return notFound;
      const reply = state.fetchReply ?? { commits: state.commits.filter((c) => c.project === p.id), errors: [] };
      return { status: 201, body: reply };
    })
    .on('OPTIONS', '/repositories/{id}/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      if (!state.projects.some((x) => x.repository && String(x.repository.id) === req.params.id)) return notFound;
      const text = (label: string, required = false) => ({ type: 'string', required, read_only: false, label });
      return {
        status: 200,
        headers: { allow: 'GET, PUT, PATCH, HEAD, OPTIONS' },
        body: { name: 'Repository Instance', actions: { PUT: { id: { type: 'integer', required: false, read_only: true, label: 'ID' }, url: text('URL', true), ref: text('Fetch reference'), ssh_private_key: text('SSH private key') } } },
      };
    })
    .on('PATCH', '/repositories/{id}/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      const p = state.projects.find((x) => x.repository && String(x.repository.id) === req.params.id);
      if (!p?.repository) return notFound;
      const body = JSON.parse(req.body || '{}') as { url?: string; ref?: string; ssh_private_key?: string };
      Object.assign(p.repository, body);
      return { status: 200, body: { id: p.repository.id, url: p.repository.url, ref: p.repository.ref } };
    })
    .on('GET', '/commits/', (req) => {
      const denied = auth(req);
      if (denied) return denied;
      const limit = Number(req.query.get('limit') ?? 20);
      const list = state.commits
        .filter((c) => c.project === req.query.get('project'))
        .sort((a, b) => (req.query.get('ordering') === '-commit_time' ? b.commit_time.localeCompare(a.commit_time) : 0));
      return { status: 200, body: { count: list.length, next: null, previous: null, results: list.slice(0, limit) } };
    });

  state.server = await serve([router], {
    faults,
    before: (req) => {
      log.push({ method: req.method, path: req.url.pathname + req.url.search, body: req.body, authorization: req.headers.authorization, contentType: req.headers['content-type'] });
      if (hang.some((re) => re.test(req.url.pathname))) return new Promise<undefined>(() => undefined);
      return undefined;
    },
  });
  state.host = state.server.url;
  return state;
}
