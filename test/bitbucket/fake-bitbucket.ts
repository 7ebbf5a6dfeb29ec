/**
 * A small in-test Bitbucket API: just the routes the client calls, with in-memory state, pagination,
 * Bitbucket's error envelope, a request log and fault rules (dev/faults.ts) for status, reset and
 * malformed answers.
 */
import { FaultInjector } from '../../dev/faults';
import { Router, serve, type HttpReply, type HttpRequest, type RunningServer } from '../../dev/http';
import { BitbucketClient } from '../../src/bitbucket/client';
import { createFetchTransport } from '../../src/bitbucket/transport';
import type { RetryInfo } from '../../src/http/retry';

export const EMAIL = 'admin@example.com';
export const TOKEN = 'ATATT3xFfGF0-secret-api-token-value-1234567890';
export const BASIC = `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`;

export interface FakeKey {
  id: number;
  key: string;
  label: string;
  comment?: string;
  created_on?: string;
  added_on?: string;
  last_used: string | null;
}

export interface FakeRepo {
  workspace: string;
  slug: string;
  uuid: string;
  name?: string;
  isPrivate?: boolean;
  mainBranch?: string | null;
  sshHref?: string;
  branches: Record<string, string>;
  /** commit → path → text */
  files: Record<string, Record<string, string>>;
  keys: FakeKey[];
  permission?: 'admin' | 'write' | 'read';
}

export const errorBody = (message: string, detail?: string) => ({ type: 'error', error: detail ? { message, detail } : { message } });

export interface LoggedRequest {
  method: string;
  path: string;
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface FakeBitbucket {
  server: RunningServer;
  baseUrl: string;
  repos: FakeRepo[];
  faults: FaultInjector;
  log: LoggedRequest[];
  /** POSTs to deploy-keys that are applied and then answered 502, as when a gateway loses the answer. */
  applyThenFail: { count: number };
  /** Requests whose path matches one of these are never answered (no timer keeps the test alive). */
  hang: RegExp[];
  /** A client over the fetch transport with instant, recorded retries. */
  client(opts?: { apiToken?: string; maxAttempts?: number; timeoutMs?: number }): { client: BitbucketClient; retries: RetryInfo[] };
  close(): Promise<void>;
}

export async function startFakeBitbucket(repos: FakeRepo[]): Promise<FakeBitbucket> {
  const faults = new FaultInjector();
  const log: LoggedRequest[] = [];
  let nextKeyId = 1000;
  const applyThenFail = { count: 0 };
  const hang: RegExp[] = [];
  const router = new Router('/2.0');

  const authorized = (req: HttpRequest): HttpReply | undefined =>
    req.headers.authorization === BASIC ? undefined : { status: 401, body: 'Unauthorized' };
  const find = (req: HttpRequest) =>
    repos.find(
      (r) =>
        (r.workspace === req.params.workspace || `{${r.workspace}-uuid}` === req.params.workspace) &&
        (r.slug === req.params.repo_slug || r.uuid === req.params.repo_slug),
    );
  const noRepo: HttpReply = { status: 404, body: errorBody('Repository not found') };
  const page = (req: HttpRequest, values: unknown[]): HttpReply => {
    const pagelen = Math.min(100, Number(req.query.get('pagelen') ?? 10));
    const pageNo = Number(req.query.get('page') ?? 1);
    const slice = values.slice((pageNo - 1) * pagelen, pageNo * pagelen);
    const body: Record<string, unknown> = { pagelen, page: pageNo, size: values.length, values: slice };
    if (pageNo * pagelen < values.length) {
      const next = new URL(req.url.href);
      next.searchParams.set('page', String(pageNo + 1));
      body.next = next.href;
    }
    return { status: 200, body };
  };
  const repoJson = (r: FakeRepo) => ({
    type: 'repository',
    uuid: r.uuid,
    slug: r.slug,
    name: r.name ?? r.slug,
    full_name: `${r.workspace}/${r.slug}`,
    workspace: { type: 'workspace', slug: r.workspace },
    is_private: r.isPrivate ?? true,
    mainbranch: r.mainBranch === null ? null : { type: 'branch', name: r.mainBranch ?? 'main' },
    links: {
      html: { href: `https://bitbucket.org/${r.workspace}/${r.slug}` },
      clone: [
        { name: 'https', href: `https://someone@bitbucket.org/${r.workspace}/${r.slug}.git` },
        { name: 'ssh', href: r.sshHref ?? `git@bitbucket.org:${r.workspace}/${r.slug}.git` },
      ],
    },
  });
  const keyJson = (r: FakeRepo, k: FakeKey) => ({
    type: 'deploy_key',
    ...k,
    repository: { type: 'repository', full_name: `${r.workspace}/${r.slug}`, name: r.slug, uuid: r.uuid },
  });

  router
    .on('GET', '/user', (req) => authorized(req) ?? { status: 200, body: { type: 'user', account_id: '557058:abc', display_name: 'Ada Admin', nickname: 'ada' } })
    .on('GET', '/user/workspaces/{workspace}/permissions/repositories', (req) => {
      const denied = authorized(req);
      if (denied) return denied;
      // the filter is ignored on purpose: the client must pick the right entry itself
      const values = repos
        .filter((r) => r.workspace === req.params.workspace && r.permission)
        .map((r) => ({ type: 'repository_permission', permission: r.permission, repository: { type: 'repository', uuid: r.uuid, full_name: `${r.workspace}/${r.slug}` } }));
      return page(req, values);
    })
    .on('GET', '/repositories/{workspace}', (req) => {
      const denied = authorized(req);
      if (denied) return denied;
      return page(req, repos.filter((r) => r.workspace === req.params.workspace).map(repoJson));
    })
    .on('GET', '/repositories/{workspace}/{repo_slug}', (req) => {
      const r = find(req);
      return authorized(req) ?? (r ? { status: 200, body: repoJson(r) } : noRepo);
    })
    .on('GET', '/repositories/{workspace}/{repo_slug}/refs/branches', (req) => {
      const r = find(req);
      if (!r) return authorized(req) ?? noRepo;
      const values = Object.entries(r.branches).map(([name, hash]) => ({ type: 'branch', name, target: { type: 'commit', hash } }));
      return authorized(req) ?? page(req, values);
    })
    .on('GET', '/repositories/{workspace}/{repo_slug}/refs/branches/{name}', (req) => {
      const r = find(req);
      if (!r) return authorized(req) ?? noRepo;
      const hash = r.branches[req.params.name as string];
      if (!hash) return { status: 404, body: errorBody(`Branch "${req.params.name}" not found`) };
      return authorized(req) ?? { status: 200, body: { type: 'branch', name: req.params.name, target: { type: 'commit', hash } } };
    })
    .on('GET', '/repositories/{workspace}/{repo_slug}/src/{commit}/{path}', (req) => {
      const r = find(req);
      if (!r) return authorized(req) ?? noRepo;
      const text = r.files[req.params.commit as string]?.[decodeURIComponent(req.params.path as string)];
      if (text === undefined) return { status: 404, body: errorBody('No such file or directory') };
      return authorized(req) ?? { status: 200, body: text };
    })
    .on('GET', '/repositories/{workspace}/{repo_slug}/deploy-keys', (req) => {
      const r = find(req);
      if (!r) return authorized(req) ?? noRepo;
      return authorized(req) ?? page(req, r.keys.map((k) => keyJson(r, k)));
    })
    .on('POST', '/repositories/{workspace}/{repo_slug}/deploy-keys', (req) => {
      const denied = authorized(req);
      if (denied) return denied;
      const r = find(req);
      if (!r) return noRepo;
      const body = JSON.parse(req.body) as { key?: string; label?: string };
      const [type = '', b64 = '', ...comment] = (body.key ?? '').trim().split(/\s+/);
      if (!/^ssh-(ed25519|rsa)$/.test(type) || !/^AAAA[A-Za-z0-9+/=]+$/.test(b64)) {
        return { status: 400, body: errorBody('Invalid SSH key', `Key ${body.key ?? ''} could not be parsed`) };
      }
      if (r.keys.some((k) => k.key === `${type} ${b64}`)) {
        return { status: 400, body: errorBody('Someone has already added that access key to this repository.') };
      }
      const key: FakeKey = { id: nextKeyId++, key: `${type} ${b64}`, label: body.label ?? '', created_on: '2025-01-02T03:04:05.000000+00:00', last_used: null };
      if (comment.length) key.comment = comment.join(' ');
      r.keys.push(key);
      if (applyThenFail.count > 0) {
        applyThenFail.count--;
        return { status: 502, body: 'Bad Gateway' };
      }
      return { status: 200, body: keyJson(r, key) };
    })
    .on('DELETE', '/repositories/{workspace}/{repo_slug}/deploy-keys/{key_id}', (req) => {
      const denied = authorized(req);
      if (denied) return denied;
      const r = find(req);
      if (!r) return noRepo;
      const i = r.keys.findIndex((k) => String(k.id) === req.params.key_id);
      if (i < 0) return { status: 404, body: errorBody('Deploy key not found') };
      r.keys.splice(i, 1);
      return { status: 204 };
    });

  const server = await serve([router], {
    faults,
    before: (req) => {
      log.push({
        method: req.method,
        path: req.url.pathname + req.url.search,
        body: req.body,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
      });
      if (hang.some((re) => re.test(req.url.pathname))) return new Promise<undefined>(() => undefined);
      return undefined;
    },
  });
  const baseUrl = `${server.url}/2.0`;
  return {
    server,
    baseUrl,
    repos,
    faults,
    log,
    applyThenFail,
    hang,
    client(opts = {}) {
      const retries: RetryInfo[] = [];
      const transport = createFetchTransport({ baseUrl, email: EMAIL, apiToken: opts.apiToken ?? TOKEN, timeoutMs: opts.timeoutMs });
      const client = new BitbucketClient({
        transport,
        retry: { sleep: async () => undefined, random: () => 0.5, maxAttempts: opts.maxAttempts ?? 5, onRetry: (i) => retries.push(i) },
      });
      return { client, retries };
    },
    close: () => server.close(),
  };
}
