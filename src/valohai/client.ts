/**
 * The Valohai REST calls the workflows make (`<host>/api/v0/`, `Authorization: Token <token>`), over
 * axios. Every failure becomes a `ValohaiError` built here from plain values; the axios error itself
 * never leaves `send()`, because its `config.data` would carry the private key of `setRepository`.
 */
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { linkBelow } from '../http/egress';
import { networkErrorCode } from '../http/network';
import { encodePathSegment, InvalidPathSegmentError } from '../http/path';
import { redact } from '../http/redact';
import { withRetry, type RetryOptions } from '../http/retry';
import { parseValohaiHost } from './host';
import {
  errorForResponse,
  foreignLink,
  malformedResponse,
  networkError,
  ValohaiError,
  ValohaiNetworkError,
  ValohaiNotFoundError,
  ValohaiRepositoryWriteError,
  type CallContext,
} from './errors';
import { asObject, toCommit, toProject, toUser } from './map';
import {
  judgeRepositoryWrite,
  LOCATION_FIELDS,
  KEY_MADE_IN_VALOHAI,
  parseRepositoryMetadata,
  REPOSITORY_WRITE_FIELDS as FIELDS,
  type RepositoryWriteMetadata,
} from './repository-write';
import type { FetchResult, Project, ValohaiCommit, ValohaiUser } from './types';

export interface ValohaiClientOptions {
  /** `https://app.valohai.com`, or a self-hosted installation's address. */
  host: string;
  /** A personal API token (made at `<host>/auth/tokens/`). */
  token: string;
  /** Overrides of the retry policy (tests inject `sleep` and `random`). */
  retry?: Partial<RetryOptions>;
  /** Per request (default 30 000). */
  timeoutMs?: number;
}

export const DEFAULT_VALOHAI_TIMEOUT_MS = 30_000;
const MAX_PAGES = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'OPTIONS';
type WriteMethod = 'PATCH' | 'PUT';

/**
 * Hosts whose repository settings route passed the preflight, for this process's life only (a
 * failed preflight is not kept: the next attempt reads Valohai's answer again).
 */
const preflightPassed = new Set<string>();
/** The method each host took the repository write with: PATCH unless it answered 405 to it. */
const writeMethods = new Map<string, WriteMethod>();

interface Call {
  method: Method;
  /** Relative to `<host>/api/v0/`, e.g. `projects/?limit=100`. */
  url: string;
  data?: unknown;
}

export function isRetryableValohaiError(err: unknown): boolean {
  return err instanceof ValohaiError && err.retryable;
}

/**
 * For calls that must not run twice (creating a project): only retried when the request surely did
 * not take effect, i.e. it was rate limited or the connection was refused before it was sent.
 */
function isSafeToRepeatUnsafeCall(err: unknown): boolean {
  if (!(err instanceof ValohaiError)) return false;
  if (err instanceof ValohaiNetworkError) return err.networkCode === 'ECONNREFUSED';
  return err.status === 429;
}

/** The host the client calls (see host.ts); throws a TypeError that says how to write it. */
export function normaliseHost(host: string): string {
  const parsed = parseValohaiHost(host);
  if ('problem' in parsed) throw new TypeError(parsed.problem);
  return parsed.host;
}

function repositoryPath(repositoryId: number): string {
  if (!Number.isSafeInteger(repositoryId) || repositoryId <= 0) {
    throw new InvalidPathSegmentError('Valohai repository id', `The Valohai repository id must be a positive whole number (got ${String(repositoryId)}).`);
  }
  return `repositories/${repositoryId}/`;
}

export class ValohaiClient {
  readonly host: string;
  readonly #http: AxiosInstance;
  readonly #token: string;
  readonly #retry: RetryOptions;

  constructor(opts: ValohaiClientOptions) {
    this.host = normaliseHost(opts.host);
    this.#token = opts.token;
    this.#retry = { isRetryable: isRetryableValohaiError, ...opts.retry };
    this.#http = axios.create({
      baseURL: `${this.host}/api/v0/`,
      // A request URL is always joined to the base, even one that looks absolute (the class of
      // CVE-2025-27152): the token is only ever sent to the configured host.
      allowAbsoluteUrls: false,
      timeout: opts.timeoutMs ?? DEFAULT_VALOHAI_TIMEOUT_MS,
      headers: { Authorization: `Token ${opts.token}`, Accept: 'application/json' },
      // Every status comes back as a response; the body stays text so a broken one can be told apart.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      // A redirect would re-send the token (and for PATCH, the key) somewhere not configured: report it.
      maxRedirects: 0,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
    });
  }

  /** The token's user (`GET users/me/`): the cheapest check that a token works. */
  async me(): Promise<ValohaiUser> {
    const ctx = this.ctx('checking the API token', true);
    return this.call({ method: 'GET', url: 'users/me/' }, ctx, (status, body) => {
      const user = toUser(body);
      if (!user) throw malformedResponse(this.host, ctx, status, 'lacked the username');
      return user;
    });
  }

  /** Every project the token's user can see (all pages). */
  async listProjects(): Promise<Project[]> {
    const ctx = this.ctx('listing projects', true);
    const projects: Project[] = [];
    for await (const item of this.results('projects/?limit=100', ctx)) {
      const project = toProject(item);
      if (!project) throw malformedResponse(this.host, ctx, 200, 'held a project without id or name');
      projects.push(project);
    }
    return projects;
  }

  /** The first page of projects the token's user can see, and how many there are: one request. */
  async projectsPage(limit = 100): Promise<{ count: number; projects: Project[] }> {
    const ctx = this.ctx('listing projects', true);
    return this.call({ method: 'GET', url: `projects/?limit=${Math.max(1, Math.floor(limit))}` }, ctx, (status, body) => {
      const o = asObject(body);
      if (!o || !Array.isArray(o.results)) throw malformedResponse(this.host, ctx, status, 'was not a page of results');
      const projects = o.results.map(toProject).filter((p): p is Project => p !== undefined);
      return { count: typeof o.count === 'number' ? o.count : projects.length, projects };
    });
  }

  /**
   * Whether the fetch route answers, without fetching (a fetch runs git and adds commits): its
   * `OPTIONS` status and the methods its `Allow` header names. One request, nothing changed.
   */
  async fetchRouteMetadata(projectId: string): Promise<{ status: number; allow: string[] }> {
    const ctx = this.ctx(`asking the fetch route of project ${projectId} what it takes`, true);
    ctx.notFound = this.projectNotFound(projectId);
    const url = `projects/${encodePathSegment(projectId, 'project id')}/fetch/`;
    return this.call({ method: 'OPTIONS', url }, ctx, (status, _body, headers) => ({ status, allow: parseRepositoryMetadata(status, undefined, headers.allow).allow }), [405]);
  }

  async getProject(id: string): Promise<Project> {
    const ctx = this.ctx(`reading project ${id}`, true);
    ctx.notFound = this.projectNotFound(id);
    return this.call({ method: 'GET', url: `projects/${encodePathSegment(id, 'project id')}/` }, ctx, (status, body) => {
      const project = toProject(body);
      if (!project) throw malformedResponse(this.host, ctx, status, 'lacked the project id or name');
      return project;
    });
  }

  /** A project by id (UUID), by `owner/name`, or by a name only one visible project has. */
  async findProject(idOrOwnerSlashName: string): Promise<Project> {
    const wanted = idOrOwnerSlashName.trim();
    if (UUID.test(wanted)) return this.getProject(wanted);
    const slash = wanted.indexOf('/');
    const owner = slash >= 0 ? wanted.slice(0, slash) : undefined;
    const name = slash >= 0 ? wanted.slice(slash + 1) : wanted;
    const projects = await this.listProjects();
    const sameOwner = (p: Project) => owner === undefined || p.owner?.toLowerCase() === owner.toLowerCase();
    let matches = projects.filter((p) => sameOwner(p) && p.name === name);
    if (matches.length === 0) matches = projects.filter((p) => sameOwner(p) && p.name.toLowerCase() === name.toLowerCase());
    if (matches.length === 1) return matches[0] as Project;
    if (matches.length > 1) {
      const names = matches.map((p) => `${p.owner ?? '?'}/${p.name} (${p.id})`).join(', ');
      throw new ValohaiError(`Several Valohai projects match "${wanted}": ${names}. Give the project as owner/name or by its id.`, {
        status: 0,
        code: 'ambiguous',
      });
    }
    throw new ValohaiNotFoundError(this.projectNotFound(wanted), { status: 404, code: 'not_found' });
  }

  /** Who may own a new project: organization names, or `organization:team`. */
  async ownershipOptions(): Promise<string[]> {
    const ctx = this.ctx('reading the project ownership options', true);
    return this.call(
      { method: 'GET', url: 'projects/ownership_options/' },
      ctx,
      (status, body) => {
        // Installations without this endpoint answer 404: then there is nothing to choose from.
        if (status === 404) return [];
        if (!Array.isArray(body)) throw malformedResponse(this.host, ctx, status, 'was not a list');
        return body.filter((o): o is string => typeof o === 'string');
      },
      [404],
    );
  }

  /** Creates a project. Not repeated after an unclear failure: a second POST could make a second project. */
  async createProject(input: { name: string; owner: string; description?: string }): Promise<Project> {
    const ctx = this.ctx(`creating project "${input.name}"`, false);
    ctx.invalidHint = 'Check the project name (it must be unique for the owner) and the owner (see the ownership options).';
    const data: Record<string, string> = { name: input.name, owner: input.owner };
    if (input.description) data.description = input.description;
    return this.call(
      { method: 'POST', url: 'projects/', data },
      ctx,
      (status, body) => {
        const project = toProject(body);
        if (!project) throw malformedResponse(this.host, ctx, status, 'lacked the new project id');
        return project;
      },
      [],
      isSafeToRepeatUnsafeCall,
    );
  }

  /**
   * Points the project's repository at `url`/`ref` and gives Valohai the SSH private key to fetch with.
   *
   * UNCONFIRMED: no public Valohai client sets repository settings. This assumes
   * `PATCH /api/v0/repositories/{id}/` with JSON `{"url", "ref", "ssh_private_key"}` (the names are in
   * repository-write.ts) and that the key is never echoed back. So nothing is sent before the route's
   * metadata says those fields are there and writable (checkRepositoryWrite), and where PATCH answers
   * 405 the same values go with PUT.
   *
   * The key is in the request body only: the answer's body is not read on success, and on failure the
   * server's text is scrubbed of the key (whole, by line, and any PEM block) before it is quoted.
   * PATCH sets absolute values, so repeating it is safe.
   */
  async setRepository(repositoryId: number, settings: { url: string; ref: string; sshPrivateKey: string }): Promise<void> {
    const ctx = this.ctx(`saving the repository settings (URL, fetch reference, SSH key) of Valohai repository ${repositoryId}`, true, [
      settings.sshPrivateKey,
    ]);
    ctx.notFound = `Valohai has no repository ${repositoryId} (404). Read the project again: its repository id may have changed.`;
    ctx.invalidHint = 'Check the SSH URL (git@bitbucket.org:workspace/repo.git form), the fetch reference (a branch name) and the key format.';
    await this.checkRepositoryWrite(repositoryId);
    const data = { [FIELDS.url]: settings.url, [FIELDS.ref]: settings.ref, [FIELDS.sshPrivateKey]: settings.sshPrivateKey };
    await this.writeRepository(repositoryId, data, ctx, () => Promise.resolve(data));
  }

  /** Removes the SSH private key from Valohai's repository settings (same assumed call as setRepository). */
  async clearRepositoryKey(repositoryId: number): Promise<void> {
    const ctx = this.ctx(`removing the SSH key from Valohai repository ${repositoryId}`, true);
    ctx.notFound = `Valohai has no repository ${repositoryId} (404): there is no key left to remove there.`;
    // PUT replaces every setting: it carries the URL and fetch reference Valohai has now.
    const whole = async () => {
      const now = await this.call({ method: 'GET', url: repositoryPath(repositoryId) }, ctx, (_s, body) => asObject(body) ?? {});
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      return { [FIELDS.url]: text(now[FIELDS.url]), [FIELDS.ref]: text(now[FIELDS.ref]), [FIELDS.sshPrivateKey]: '' };
    };
    await this.writeRepository(repositoryId, { [FIELDS.sshPrivateKey]: '' }, ctx, whole);
  }

  /**
   * What Valohai says its repository settings route takes (`OPTIONS repositories/{id}/`, answered by
   * Django REST Framework with `actions.PUT`): one request, never cached, nothing changed.
   */
  async repositoryMetadata(repositoryId: number): Promise<RepositoryWriteMetadata> {
    const ctx = this.ctx(`reading which repository settings Valohai repository ${repositoryId} takes`, true);
    ctx.notFound = `Valohai has no repository ${repositoryId} (404). Read the project again: its repository id may have changed.`;
    return this.call({ method: 'OPTIONS', url: repositoryPath(repositoryId) }, ctx, (status, body, headers) => parseRepositoryMetadata(status, body, headers.allow), [405]);
  }

  /**
   * The preflight before the first write of repository settings: throws ValohaiRepositoryWriteError,
   * naming what Valohai offers, unless the fields the app writes are there and writable. A pass is
   * remembered per host for the life of the process.
   */
  async checkRepositoryWrite(repositoryId: number): Promise<void> {
    if (preflightPassed.has(this.host)) return;
    const meta = await this.repositoryMetadata(repositoryId);
    const verdict = judgeRepositoryWrite(meta);
    if (!verdict.ok) throw new ValohaiRepositoryWriteError(this.host, meta.status, verdict);
    preflightPassed.add(this.host);
  }

  /**
   * The preflight of a connection whose key Valohai made: whether Valohai's repository settings take the
   * URL and the fetch reference (the key is never written then). False, not an error, when they do not:
   * the admin then enters them in Valohai. Reads only.
   */
  async repositoryLocationWritable(repositoryId: number): Promise<boolean> {
    return judgeRepositoryWrite(await this.repositoryMetadata(repositoryId), LOCATION_FIELDS).ok;
  }

  /**
   * Points the project's repository at `url`/`ref` and nothing else: the key Valohai made stays as it is.
   * Same assumed call as setRepository, made only where repositoryLocationWritable said yes; a PUT
   * carries the same two fields (DRF keeps a field a PUT leaves out that is not required).
   */
  async setRepositoryLocation(repositoryId: number, settings: { url: string; ref: string }): Promise<void> {
    const ctx = this.ctx(`saving the repository URL and fetch reference of Valohai repository ${repositoryId}`, true);
    ctx.notFound = `Valohai has no repository ${repositoryId} (404). Read the project again: its repository id may have changed.`;
    ctx.invalidHint = 'Check the SSH URL (git@bitbucket.org:workspace/repo.git form) and the fetch reference (a branch name).';
    const data = { [FIELDS.url]: settings.url, [FIELDS.ref]: settings.ref };
    await this.writeRepository(repositoryId, data, ctx, () => Promise.resolve(data));
  }

  /**
   * One write of repository settings: PATCH with `partial`, or PUT with `whole()` where the host
   * answers 405 to PATCH (and the other way round); the method that worked is remembered per host.
   */
  private async writeRepository(repositoryId: number, partial: Record<string, string>, ctx: CallContext, whole: () => Promise<Record<string, string>>): Promise<void> {
    const url = repositoryPath(repositoryId);
    const send = async (method: WriteMethod) =>
      this.call({ method, url, data: method === 'PUT' ? await whole() : partial }, ctx, (status) => status, [405]);
    const first = writeMethods.get(this.host) ?? 'PATCH';
    const other: WriteMethod = first === 'PATCH' ? 'PUT' : 'PATCH';
    for (const method of [first, other]) {
      if ((await send(method)) !== 405) {
        writeMethods.set(this.host, method);
        return;
      }
    }
    throw new ValohaiError(
      `Valohai (${this.host}) answered 405 (method not allowed) to both PATCH and PUT while ${ctx.action}, so nothing was changed there. ` +
        `Valohai does not take repository settings through its API here: ${KEY_MADE_IN_VALOHAI}.`,
      { status: 405, code: 'method_not_allowed' },
    );
  }

  /** Asks Valohai to fetch the repository now. Non-empty `errors` means the fetch failed. */
  async fetchRepository(projectId: string): Promise<FetchResult> {
    // Fetching twice only finds no new commits the second time, so the POST is safe to repeat.
    const ctx = this.ctx(`fetching the repository of project ${projectId}`, true);
    ctx.notFound = this.projectNotFound(projectId);
    const url = `projects/${encodePathSegment(projectId, 'project id')}/fetch/`;
    return this.call({ method: 'POST', url }, ctx, (status, body) => {
      const o = asObject(body);
      if (!o) throw malformedResponse(this.host, ctx, status, 'was not an object');
      const commits = Array.isArray(o.commits) ? o.commits.map(toCommit).filter((c): c is ValohaiCommit => c !== undefined) : [];
      const rawErrors: unknown[] = Array.isArray(o.errors) ? o.errors : o.errors === undefined ? [] : [o.errors];
      const errors = rawErrors.map((e) => redact(typeof e === 'string' ? e : JSON.stringify(e), [this.#token]));
      return { commits, errors };
    });
  }

  /** The project's newest commits as Valohai knows them, newest first. */
  async listCommits(projectId: string, limit = 50): Promise<ValohaiCommit[]> {
    const ctx = this.ctx(`listing the commits of project ${projectId}`, true);
    const query = new URLSearchParams({ project: projectId, ordering: '-commit_time', limit: String(Math.max(1, Math.floor(limit))) });
    return this.call({ method: 'GET', url: `commits/?${query.toString()}` }, ctx, (status, body) => {
      const results = asObject(body)?.results ?? body;
      if (!Array.isArray(results)) throw malformedResponse(this.host, ctx, status, 'was not a list of commits');
      return results.map(toCommit).filter((c): c is ValohaiCommit => c !== undefined);
    });
  }

  private projectNotFound(wanted: string): string {
    return (
      `Valohai has no project "${wanted}" that this token can see. List the projects it can see with \`vh project list\` ` +
      `(valohai-cli) or at ${this.host}/api/v0/projects/, then give the project's id (a UUID) or owner/name.`
    );
  }

  private ctx(action: string, idempotent: boolean, secrets: string[] = []): CallContext {
    return { action, idempotent, secrets: [this.#token, ...secrets] };
  }

  /** Each item of a paginated DRF list, following `next` to the end. */
  private async *results(firstUrl: string, ctx: CallContext): AsyncGenerator<unknown> {
    const seen = new Set<string>();
    let url: string | undefined = firstUrl;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_PAGES || seen.has(url)) throw malformedResponse(this.host, ctx, 200, 'kept pointing to more pages without end');
      seen.add(url);
      const body: Record<string, unknown> = await this.call({ method: 'GET', url }, ctx, (status, b) => {
        const o = asObject(b);
        if (!o || !Array.isArray(o.results)) throw malformedResponse(this.host, ctx, status, 'was not a page of results');
        return o;
      });
      for (const item of body.results as unknown[]) yield item;
      url = typeof body.next === 'string' && body.next !== '' ? this.nextUrl(body.next, ctx) : undefined;
    }
  }

  /**
   * A `next` link as a URL relative to the API root, refused unless it points below the configured
   * host's API root (a proxy writing http:// or an inner host name in links is refused too: say so).
   */
  private nextUrl(next: string, ctx: CallContext): string {
    const verdict = linkBelow(`${this.host}/api/v0`, next);
    if ('refused' in verdict) throw foreignLink(this.host, ctx, verdict.refused);
    return verdict.path.slice(1);
  }

  /**
   * One request with retries. 2xx (and statuses in `expected`) go to `onAnswer` with the parsed body
   * (undefined when empty); other statuses and network failures become `ValohaiError`s.
   */
  private call<T>(
    req: Call,
    ctx: CallContext,
    onAnswer: (status: number, body: unknown, headers: Record<string, string | undefined>) => T,
    expected: readonly number[] = [],
    isRetryable?: (err: unknown) => boolean,
  ): Promise<T> {
    const retry: RetryOptions = isRetryable ? { ...this.#retry, isRetryable: (e) => isRetryable(e) && this.#retry.isRetryable(e) } : this.#retry;
    return withRetry(async () => {
      const res = await this.send(req);
      const text = typeof res.data === 'string' ? res.data : '';
      const ok = res.status >= 200 && res.status < 300;
      const headers = headersOf(res);
      if (!ok && !expected.includes(res.status)) {
        throw errorForResponse(this.host, { status: res.status, headers, text }, ctx);
      }
      let body: unknown;
      // A write's answer is never read: it might quote what was written.
      if (ok && text.trim() !== '' && req.method !== 'PATCH' && req.method !== 'PUT') {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          throw malformedResponse(this.host, ctx, res.status);
        }
      }
      return onAnswer(res.status, body, headers);
    }, retry);
  }

  /** The only place axios is called; an axios error is reduced to its network code right here. */
  private async send(req: Call): Promise<AxiosResponse<unknown>> {
    try {
      return await this.#http.request<unknown>({ method: req.method, url: req.url, data: req.data });
    } catch (err) {
      throw networkError(this.host, networkErrorCode(err));
    }
  }
}

function headersOf(res: AxiosResponse<unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(res.headers as Record<string, unknown>)) {
    if (typeof v === 'string') out[k.toLowerCase()] = v;
    else if (Array.isArray(v)) out[k.toLowerCase()] = v.join(', ');
  }
  return out;
}
