/**
 * The local preview: the app's real backend (resolvers, queue consumer, push trigger) on the in-memory
 * Forge platform, talking to the stand-ins, and the preview build of the settings pages inside host
 * pages that frame them as Bitbucket does. `npm start` runs it; the browser tests and the benchmarks
 * start it in-process.
 *
 * Forge gives a resolver the caller and the place from its own trusted context. Here the host page
 * decides them: the frame's address names the module, the repository and the person to act as, and
 * `/api/context` and `/api/invoke` turn that into the context the backend sees. A payload can no more
 * change it here than on Forge.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { createFetchTransport, type BitbucketTransport } from '../../src/bitbucket/index';
import type { KeyGenerator } from '../../src/connect/index';
import { DEFAULT_VALOHAI_HOST, MODULE_KEYS, RESOLVERS, type ResolverName } from '../../src/forge/contract';
import { createMemoryBackend, type LogLine, type MemoryPlatform } from '../forge/memory-platform';
import type { Backend } from '../../src/forge/backend';
import type { TrustedContext } from '../../src/forge/platform/ports';
import { ValohaiClient } from '../../src/valohai/index';
import type { RepoRecord, WorkspaceRecord } from '../bitbucket/index';
import { Router, json, serve, type HttpReply, type HttpRequest, type RunningServer } from '../http';
import { previewSeed } from '../seed/index';
import { startStack, type Stack, type StackOptions } from '../stack';
import { accessKeysPage, appHostPage, paths, type AccessKeyRow, type HostView } from './host-page';
import { PEOPLE, colorModeOf, personOf, type Person } from './people';
import { PushRefusal, checkMayPush, parsePushRequest, planSubmoduleChange, submodulesAtHead, type PushRequest, type SubmoduleEntry } from './push';

export interface PreviewOptions {
  /** The folder the preview build of the pages was written to (`npm run build:ui-preview`). */
  buildDir: string;
  /** Stand-ins to use; by default the preview starts its own with the preview seed and closes them too. */
  stack?: Stack;
  /** Key generation (the default is the product's own). */
  generateKey?: KeyGenerator;
  /** Sees each backend log line (npm start prints them). */
  echoLog?: (line: LogLine) => void;
  /** Port to listen on; 0 (the default) lets the OS pick one. */
  port?: number;
  /** How the emulated Valohai's API describes itself (its own stand-ins only): e.g. repository settings it does not say it takes. */
  valohaiApi?: StackOptions['valohaiApi'];
}

export interface PushOutcome {
  commit: string;
  branch: string;
  /** Who pushed: the push event names them as its actor. */
  pushedBy: Person;
  /** The submodule this push added to or removed from `.gitmodules`. */
  added?: SubmoduleEntry;
  removed?: SubmoduleEntry;
  /** The submodules `.gitmodules` names after the push. */
  submodules: SubmoduleEntry[];
  trigger: 'ignored' | 'queued' | 'coalesced';
  /** What Valohai's push-triggered fetch recorded, once the queue was idle. */
  fetch: { at: string; commits: number; errors: string[] } | null;
  message: string;
}

export type PushChoices = Partial<Pick<PushRequest, 'as' | 'addSubmodule' | 'removeSubmodule'>>;

export interface ScheduleOutcome {
  /** Connections whose check ran, waited for the request budget, or was recorded as paused; rotations started. */
  checked: string[];
  deferred: string[];
  paused: string[];
  rotations: string[];
  /** The preview's clock, which the bar can move on to let keys age. */
  now: string;
  message: string;
}

export interface Preview {
  url: string;
  stack: Stack;
  platform: MemoryPlatform;
  backend: Backend;
  /** The host page of a repository's Valohai settings (or the workspace's, without a slug). */
  pageUrl(options?: { repository?: string; as?: Person; theme?: 'light' | 'dark' }): string;
  /**
   * Pushes a commit to a repository's main branch and fires the push trigger, as the host page's button
   * does: as the workspace admin unless `as` names another person with write access, optionally adding
   * a submodule (`vendor/<slug>`) or removing one. Rejects with a PushRefusal as the endpoint refuses.
   */
  pushCommit(slug: string, choices?: PushChoices): Promise<PushOutcome>;
  /** Runs the hourly scheduled trigger and waits for the checks and rotations it queued, as the host page's button does. */
  runSchedule(): Promise<ScheduleOutcome>;
  /** Moves the backend's clock on (keys age, checks fall due); the stand-ins keep real time. */
  advanceDays(days: number): void;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

const html = (body: string, status = 200): HttpReply => ({ status, headers: { 'content-type': 'text/html; charset=utf-8' }, body });

/** Resolver payloads are small; anything near this is not from the pages. */
export const MAX_BODY_BYTES = 256 * 1024;

/** Paths that take JSON and nothing else (a text/plain POST needs no CORS preflight). */
const JSON_ONLY = ['/api/invoke', '/preview/push', '/preview/schedule', '/preview/clock'];
/** How far the bar may move the clock in one step. */
const MAX_DAYS_AHEAD = 400;

/**
 * The preview acts as the demo admin for whoever reaches it, so only its own pages may: the Host must
 * be the server's own loopback address (a DNS-rebound name is refused), a request that changes
 * anything must come from its own origin when the browser says where it comes from, and the API takes
 * JSON only.
 */
function refusal(req: HttpRequest, port: number): HttpReply | undefined {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  if (!hosts.includes(String(req.headers.host ?? '').toLowerCase())) {
    return json(421, { message: `The preview answers only at http://127.0.0.1:${port}/ (or localhost): open it there.` });
  }
  if (req.method !== 'GET') {
    const origin = req.headers.origin;
    if (origin !== undefined && !hosts.some((h) => origin.toLowerCase() === `http://${h}`)) {
      return json(403, { message: 'The preview takes changes only from its own pages.' });
    }
    const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (JSON_ONLY.includes(req.url.pathname) && type !== 'application/json') {
      return json(415, { message: 'Send the body as JSON, with Content-Type: application/json.' });
    }
  }
  return undefined;
}

export async function startPreview(options: PreviewOptions): Promise<Preview> {
  const buildDir = resolve(options.buildDir);
  if (!existsSync(join(buildDir, 'index.html'))) {
    throw new Error(`No preview build in ${buildDir}. Run \`npm run build:ui-preview\` first.`);
  }
  const ownStack = !options.stack;
  const stack = options.stack ?? (await startStack({ seed: previewSeed, ...(options.valohaiApi ? { valohaiApi: options.valohaiApi } : {}) }));
  const state = stack.bitbucket.state;

  const transportOf = (person: Person): BitbucketTransport =>
    createFetchTransport({ baseUrl: stack.bitbucket.url, email: PEOPLE[person].email, apiToken: PEOPLE[person].token });
  const byAccount = new Map<string, BitbucketTransport>((Object.keys(PEOPLE) as Person[]).map((p) => [PEOPLE[p].accountId, transportOf(p)]));

  // The backend's clock: the bar moves it on so that keys age and scheduled checks fall due.
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const { platform, backend } = createMemoryBackend({
    clock,
    // The emulator has no app principal; the app's reads go out as the workspace's owner.
    bitbucketAsApp: transportOf('admin'),
    bitbucketAsUser: (context) => {
      const transport = byAccount.get(context.accountId);
      if (!transport) throw new Error(`The preview knows no person with account id ${context.accountId}.`);
      return transport;
    },
    bitbucketApiUrl: stack.bitbucket.url,
    // The Valohai stand-in answers for app.valohai.com, as the SSH host answers for bitbucket.org.
    makeValohai: (connection, limits) =>
      new ValohaiClient({
        host: connection.host === DEFAULT_VALOHAI_HOST ? stack.valohai.url : connection.host,
        token: connection.token,
        timeoutMs: limits.timeoutMs,
        retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs },
      }),
    ...(options.generateKey ? { generateKey: options.generateKey } : {}),
    // Bitbucket's own addresses: the preview pages sit at the same paths, and the preview's bridge
    // sends a link to bitbucket.org there.
    pageUrls: {
      repositorySettings: (ws, slug) => `https://bitbucket.org${paths.repositorySettings(ws, slug)}`,
      workspaceSettings: (ws) => `https://bitbucket.org${paths.workspaceSettings(ws)}`,
    },
    ...(options.echoLog ? { echoLog: options.echoLog } : {}),
  });

  const workspaceOf = (slug: string): WorkspaceRecord | undefined => state.findWorkspace(slug);
  const repoOf = (ws: WorkspaceRecord, slug: string | null): RepoRecord | undefined => (slug ? state.findRepo(ws, slug) : undefined);

  /** The place and the person the frame was opened for, from its address. */
  const frameOf = (query: URLSearchParams): { context: TrustedContext; module: 'repository' | 'workspace'; repo?: RepoRecord } | HttpReply => {
    const ws = workspaceOf(query.get('workspace') ?? '');
    if (!ws) return json(404, { message: 'The frame names no workspace the preview knows.' });
    const module = query.get('module') === 'workspace' ? 'workspace' : 'repository';
    const context: TrustedContext = { workspaceId: ws.uuid, accountId: PEOPLE[personOf(query)].accountId, moduleKey: MODULE_KEYS[module] };
    if (module === 'workspace') return { context, module };
    const repo = repoOf(ws, query.get('repo'));
    if (!repo) return json(404, { message: 'The frame names no repository the preview knows.' });
    context.repositoryUuid = repo.uuid;
    return { context, module, repo };
  };

  const api = new Router('/api')
    .on('GET', '/context', (req) => {
      const frame = frameOf(req.query);
      if ('status' in frame) return frame;
      const { context, module, repo } = frame;
      return json(200, {
        accountId: context.accountId,
        workspaceId: context.workspaceId,
        moduleKey: context.moduleKey,
        extension: {
          type: module === 'workspace' ? 'bitbucket:workspaceSettingsMenuPage' : 'bitbucket:repoSettingsMenuPage',
          ...(repo ? { repository: { uuid: repo.uuid } } : {}),
        },
        theme: { colorMode: colorModeOf(req.query) },
        locale: 'en-US',
      });
    })
    .on('POST', '/invoke', async (req) => {
      const frame = frameOf(req.query);
      if ('status' in frame) return frame;
      let body: { functionKey?: unknown; payload?: unknown };
      try {
        body = JSON.parse(req.body) as typeof body;
      } catch {
        return json(400, { message: 'The body must be JSON: {"functionKey": ..., "payload": ...}.' });
      }
      const name = body.functionKey;
      if (typeof name !== 'string' || !(RESOLVERS as readonly string[]).includes(name)) {
        return json(404, { message: `No resolver named ${String(name)}.` });
      }
      return json(200, await backend.resolvers[name as ResolverName](body.payload ?? {}, frame.context));
    });

  // One push at a time: a submodule change reads .gitmodules at the head and commits on top of it.
  let pushing: Promise<unknown> = Promise.resolve();
  const pushCommit = (request: PushRequest): Promise<PushOutcome> => {
    const next = pushing.catch(() => undefined).then(() => pushNow(request));
    pushing = next;
    return next;
  };

  const pushNow = async (request: PushRequest): Promise<PushOutcome> => {
    const ws = workspaceOf(request.workspace);
    const repo = ws && repoOf(ws, request.repository);
    if (!ws || !repo) throw new PushRefusal(400, `No repository ${request.workspace}/${request.repository} in the preview.`);
    const person = request.as;
    checkMayPush(state, repo, person);
    const stamp = new Date().toISOString();
    const change =
      request.addSubmodule !== undefined || request.removeSubmodule !== undefined ? await planSubmoduleChange(state, repo, request) : undefined;
    const commit = await state.pushCommit(ws.slug, repo.slug, {
      branch: repo.mainBranch,
      message: change ? change.message : `Preview push at ${stamp}`,
      ...(change
        ? { files: change.files, gitlinks: change.gitlinks }
        : { files: { 'PREVIEW_PUSHES.md': `Last pushed from the local preview at ${stamp}.\n` } }),
    });
    const pusher = state.findUser(PEOPLE[person].email);
    // The fields of Bitbucket's push event that the app reads: who, where, and which branch moved to what.
    const trigger = await backend.onPush({
      ...(pusher ? { actor: { type: 'user', accountId: pusher.accountId, uuid: pusher.uuid } } : {}),
      workspace: { uuid: ws.uuid },
      repository: { uuid: repo.uuid, slug: repo.slug },
      push: { ref: repo.mainBranch, mainbranch: repo.mainBranch, after: commit, created: false, closed: false, forced: false, truncated: false, commits: [{ hash: commit }] },
    });
    await platform.idle();
    const page = await backend.resolvers.getRepositoryPage({}, { workspaceId: ws.uuid, repositoryUuid: repo.uuid, accountId: PEOPLE.admin.accountId });
    const fetch = page.ok ? (page.value.connection?.lastPushFetch ?? null) : null;
    const short = commit.slice(0, 7);
    // The admin is the preview's default pusher (as every push was before one could be chosen); anyone else is named.
    const who = person === 'admin' ? '' : ` as ${PEOPLE[person].displayName}`;
    const what = [
      ...(change?.removed ? [`removing submodule ${change.removed.path}`] : []),
      ...(change?.added ? [`adding submodule ${change.added.path} (${change.added.url})`] : []),
    ];
    const pushed = `Pushed ${short} to ${repo.mainBranch}${who}${what.length ? `, ${what.join(' and ')}` : ''}.`;
    let message: string;
    if (trigger === 'ignored') message = `${pushed} The repository is not connected, so the app ignored the push.`;
    else if (!fetch) message = `${pushed} Valohai was asked to fetch.`;
    else if (fetch.errors.length) message = `${pushed} Valohai's fetch reported: ${fetch.errors.join(' ')}`;
    else message = `${pushed} Valohai fetched ${fetch.commits} new commit${fetch.commits === 1 ? '' : 's'}.`;
    return {
      commit,
      branch: repo.mainBranch,
      pushedBy: person,
      ...(change?.added ? { added: change.added } : {}),
      ...(change?.removed ? { removed: change.removed } : {}),
      submodules: change ? change.submodules : await submodulesAtHead(repo),
      trigger,
      fetch,
      message,
    };
  };

  const runSchedule = async (): Promise<ScheduleOutcome> => {
    const run = await backend.onSchedule();
    await platform.idle();
    const all = run?.workspaces ?? [];
    const pick = (k: 'queued' | 'deferred' | 'paused' | 'rotations') => all.flatMap((w) => w[k]);
    const out = { checked: pick('queued'), deferred: pick('deferred'), paused: pick('paused'), rotations: pick('rotations'), now: clock.now().toISOString() };
    const parts: string[] = [];
    if (out.rotations.length) parts.push(`rotated ${out.rotations.join(', ')}`);
    if (out.checked.length) parts.push(`checked ${out.checked.join(', ')}`);
    if (out.deferred.length) parts.push(`${out.deferred.length} left for the next hour (request budget)`);
    if (out.paused.length) parts.push(`${out.paused.join(', ')} paused: a stored token is refused or expired`);
    const message = parts.length ? `Scheduled check: ${parts.join('; ')}.` : 'Scheduled check: no connection was due (each is checked once a day).';
    return { ...out, message };
  };

  const viewOf = async (req: HttpRequest, ws: WorkspaceRecord, repo?: RepoRecord): Promise<HostView> => {
    const notice = req.query.get('notice');
    return {
      person: personOf(req.query),
      theme: colorModeOf(req.query),
      workspace: { slug: ws.slug, name: ws.name },
      repositories: state.repos.filter((r) => r.workspace === ws).map((r) => ({ slug: r.slug, name: r.slug })),
      ...(repo ? { repository: { slug: repo.slug, name: repo.slug, mainBranch: repo.mainBranch, submodules: await submodulesAtHead(repo) } } : {}),
      ...(notice ? { notice: { text: notice, tone: req.query.get('tone') === 'error' ? 'error' : 'ok' } } : {}),
      daysAhead: Math.round(offsetMs / 86_400_000),
    };
  };

  const frameSrc = (view: HostView): string => {
    const query = new URLSearchParams({ module: view.repository ? 'repository' : 'workspace', workspace: view.workspace.slug });
    if (view.repository) query.set('repo', view.repository.slug);
    query.set('as', view.person);
    query.set('theme', view.theme);
    return `/app/index.html?${query.toString()}`;
  };

  /** The acting person's own view of a repository's access keys, through the Bitbucket API. */
  const listKeys = async (person: Person, ws: string, slug: string): Promise<AccessKeyRow[] | { error: string }> => {
    const res = await transportOf(person).request({ method: 'GET', path: `/repositories/${ws}/${slug}/deploy-keys?pagelen=100` });
    const body = JSON.parse(res.text || '{}') as { values?: Record<string, unknown>[]; error?: { message?: string } };
    if (res.status !== 200) return { error: `Bitbucket answered ${res.status}: ${body.error?.message ?? 'no message'}` };
    return (body.values ?? []).map((k) => ({
      id: Number(k.id),
      label: String(k.label ?? ''),
      key: String(k.key ?? ''),
      lastUsed: typeof k.last_used === 'string' ? k.last_used : null,
      createdOn: typeof k.created_on === 'string' ? k.created_on : null,
    }));
  };

  const changeKeys = async (req: HttpRequest, ws: WorkspaceRecord, repo: RepoRecord): Promise<HttpReply> => {
    const person = personOf(req.query);
    const form = new URLSearchParams(req.body);
    const base = `/repositories/${ws.slug}/${repo.slug}/deploy-keys`;
    const remove = form.get('delete');
    const res = remove
      ? await transportOf(person).request({ method: 'DELETE', path: `${base}/${encodeURIComponent(remove)}` })
      : await transportOf(person).request({
          method: 'POST',
          path: base,
          body: { key: (form.get('key') ?? '').trim(), label: (form.get('label') ?? '').trim() },
        });
    const ok = res.status >= 200 && res.status < 300;
    let text = remove ? 'The access key was deleted.' : 'The access key was added.';
    if (!ok) {
      const body = (() => {
        try {
          return JSON.parse(res.text) as { error?: { message?: string } };
        } catch {
          return {};
        }
      })();
      text = `Bitbucket refused (${res.status}): ${body.error?.message ?? 'no message'}`;
    }
    const query = new URLSearchParams({ as: person, theme: colorModeOf(req.query), notice: text, tone: ok ? 'ok' : 'error' });
    return { status: 303, headers: { location: `${paths.accessKeys(ws.slug, repo.slug)}?${query.toString()}` } };
  };

  const host = new Router('')
    .on('GET', '/favicon.ico', () => ({ status: 204 }))
    .on('GET', '/', (req) => ({ status: 302, headers: { location: `${paths.repositorySettings('acme', 'ml-models')}${req.url.search}` } }))
    .on('GET', '/{workspace}/workspace/settings/valohai', async (req) => {
      const ws = workspaceOf(req.params.workspace ?? '');
      if (!ws) return html('<p>No such workspace in the preview.</p>', 404);
      const view = await viewOf(req, ws);
      return html(appHostPage(view, frameSrc(view)));
    })
    .on('GET', '/{workspace}/{repo_slug}/admin/valohai', async (req) => {
      const ws = workspaceOf(req.params.workspace ?? '');
      const repo = ws && repoOf(ws, req.params.repo_slug ?? '');
      if (!ws || !repo) return html('<p>No such repository in the preview.</p>', 404);
      const view = await viewOf(req, ws, repo);
      return html(appHostPage(view, frameSrc(view)));
    })
    .on('GET', '/{workspace}/{repo_slug}/admin/access-keys', async (req) => {
      const ws = workspaceOf(req.params.workspace ?? '');
      const repo = ws && repoOf(ws, req.params.repo_slug ?? '');
      if (!ws || !repo) return html('<p>No such repository in the preview.</p>', 404);
      const view = (await viewOf(req, ws, repo)) as HostView & { repository: NonNullable<HostView['repository']> };
      return html(accessKeysPage(view, await listKeys(view.person, ws.slug, repo.slug)));
    })
    .on('POST', '/{workspace}/{repo_slug}/admin/access-keys', async (req) => {
      const ws = workspaceOf(req.params.workspace ?? '');
      const repo = ws && repoOf(ws, req.params.repo_slug ?? '');
      if (!ws || !repo) return html('<p>No such repository in the preview.</p>', 404);
      return changeKeys(req, ws, repo);
    })
    .on('POST', '/preview/schedule', async () => json(200, await runSchedule()))
    .on('POST', '/preview/clock', (req) => {
      let body: { days?: unknown };
      try {
        body = JSON.parse(req.body) as typeof body;
      } catch {
        return json(400, { message: 'The body must be JSON: {"days": n}.' });
      }
      const days = body.days;
      if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_DAYS_AHEAD) {
        return json(400, { message: `days must be a whole number from 1 to ${MAX_DAYS_AHEAD}.` });
      }
      offsetMs += days * 86_400_000;
      return json(200, { now: clock.now().toISOString(), daysAhead: Math.round(offsetMs / 86_400_000), message: `The preview's clock is now ${Math.round(offsetMs / 86_400_000)} days ahead.` });
    })
    .on('POST', '/preview/push', async (req) => {
      let body: unknown;
      try {
        body = JSON.parse(req.body);
      } catch {
        return json(400, { message: 'The body must be JSON: {"workspace": ..., "repository": ...}.' });
      }
      try {
        return json(200, await pushCommit(parsePushRequest(body)));
      } catch (err) {
        if (err instanceof PushRefusal) return json(err.status, { message: err.message });
        return json(400, { message: err instanceof Error ? err.message : 'The push failed.' });
      }
    });

  const staticFile = (req: HttpRequest): HttpReply => {
    if (!req.path.startsWith('/app/')) return html('<p>Not found.</p>', 404);
    const file = resolve(buildDir, `.${decodeURIComponent(req.path.slice('/app'.length))}`);
    if (!file.startsWith(buildDir + sep) || !existsSync(file) || !statSync(file).isFile()) return html('<p>Not found.</p>', 404);
    return { status: 200, headers: { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' }, body: readFileSync(file, 'utf8') };
  };

  // Filled in once the server listens; no request can arrive before.
  let port = 0;
  const guard = (req: HttpRequest) => refusal(req, port);

  let server: RunningServer;
  try {
    server = await serve([api, host], {
      notFound: staticFile,
      before: guard,
      maxBodyBytes: MAX_BODY_BYTES,
      ...(options.port ? { port: options.port } : {}),
    });
    port = server.port;
  } catch (err) {
    if (ownStack) await stack.close();
    throw err;
  }

  return {
    url: server.url,
    stack,
    platform,
    backend,
    pageUrl: ({ repository, as = 'admin', theme = 'light' } = {}) => {
      const path = repository ? paths.repositorySettings('acme', repository) : paths.workspaceSettings('acme');
      return `${server.url}${path}?${new URLSearchParams({ as, theme }).toString()}`;
    },
    pushCommit: (slug, choices = {}) => pushCommit(parsePushRequest({ workspace: 'acme', repository: slug, ...choices })),
    runSchedule,
    advanceDays: (days) => {
      offsetMs += days * 86_400_000;
    },
    async close() {
      await server.close();
      await platform.idle();
      if (ownStack) await stack.close();
    },
  };
}
