/**
 * The Bitbucket Cloud REST 2.0 calls the workflows make, over a `BitbucketTransport`. Paths are the
 * spec's templates with each value encoded (and refused when it could change the path); answers are
 * mapped to small types; failures to typed errors; transient failures retried.
 */
import { BITBUCKET_CLOUD_API_ROOT } from './account';
import { linkBelow } from '../http/egress';
import { networkErrorCode } from '../http/network';
import { encodeFilePath, encodePathSegment, encodeRefSegment, InvalidPathSegmentError } from '../http/path';
import { retryAfterSecondsOf, withRetry, type RetryOptions } from '../http/retry';
import {
  BitbucketError,
  BranchNotFoundError,
  errorForResponse,
  foreignLink,
  malformedResponse,
  networkError,
  type RequestContext,
} from './errors';
import { asObject, permissionFor, toAccessKey, toRepository, toUser } from './map';
import { bbqlString, braceUuid } from './query';
import type { BitbucketRequest, BitbucketResponse, BitbucketTransport } from './transport';
import type { AccessKey, BitbucketUser, Repository, RepositoryPermission } from './types';

export interface BitbucketClientOptions {
  transport: BitbucketTransport;
  /** Overrides of the retry policy (tests inject `sleep` and `random`). */
  retry?: Partial<RetryOptions>;
}

/** Retries of a 429 that carries no Retry-After, per call. */
const MAX_429_RETRIES_WITHOUT_RETRY_AFTER = 1;

/** Pages followed at most: a `next` chain longer than this is a server fault, not data. */
const MAX_PAGES = 1000;

export function isRetryableBitbucketError(err: unknown): boolean {
  return err instanceof BitbucketError && err.retryable;
}

const ok = (status: number) => status >= 200 && status < 300;

function repoPath(workspace: string, repo: string): string {
  return `/repositories/${encodePathSegment(workspace, 'workspace')}/${encodePathSegment(repo, 'repository')}`;
}

/** Bitbucket Cloud's API root: where a transport that names none (Forge's `requestBitbucket`) sends requests. */

export class BitbucketClient {
  private readonly transport: BitbucketTransport;
  private readonly retry: RetryOptions;
  /** The root `next` links must stay below. */
  private readonly apiRoot: string;

  constructor(opts: BitbucketClientOptions) {
    this.transport = opts.transport;
    this.apiRoot = (opts.transport.baseUrl ?? BITBUCKET_CLOUD_API_ROOT).replace(/\/+$/, '');
    this.retry = { isRetryable: isRetryableBitbucketError, ...opts.retry };
  }

  async getRepository(workspace: string, repo: string): Promise<Repository> {
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `reading repository ${full}`, repository: full, idempotent: true };
    return this.request({ method: 'GET', path: repoPath(workspace, repo) }, ctx, (res) => {
      const repository = toRepository(this.json(res, ctx));
      if (!repository) throw malformedResponse(ctx, res.status, 'lacked the repository uuid or full_name');
      return repository;
    });
  }

  /** The commit hash at the head of `branch`. */
  async getBranchHead(workspace: string, repo: string, branch: string): Promise<string> {
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `reading branch "${branch}" of ${full}`, repository: full, idempotent: true };
    const base = repoPath(workspace, repo);
    const hashOf = (status: number, body: unknown) => {
      const hash = asObject(asObject(body)?.target)?.hash;
      if (typeof hash !== 'string' || !/^[0-9a-f]{7,64}$/i.test(hash)) {
        throw malformedResponse(ctx, status, 'lacked the branch target hash');
      }
      return hash;
    };
    const direct = await this.request(
      { method: 'GET', path: `${base}/refs/branches/${encodeRefSegment(branch)}` },
      ctx,
      (res) => (res.status === 404 ? undefined : hashOf(res.status, this.json(res, ctx))),
      [404],
    );
    if (direct) return direct;
    // Some front ends decode %2F before routing, so a `feature/x` branch can 404 on the direct path:
    // ask for it by name through the filter instead.
    if (branch.includes('/')) {
      const q = encodeURIComponent(`name=${bbqlString(branch)}`);
      for await (const value of this.values(`${base}/refs/branches?q=${q}&pagelen=100`, ctx)) {
        if (asObject(value)?.name === branch) return hashOf(200, value);
      }
    }
    throw new BranchNotFoundError(branch, full);
  }

  /** The file's text at `commit`, or undefined when the file (or commit) does not exist. */
  async getFileAtCommit(workspace: string, repo: string, commit: string, path: string): Promise<string | undefined> {
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `reading ${path} at ${commit.slice(0, 12)} in ${full}`, repository: full, idempotent: true };
    const url = `${repoPath(workspace, repo)}/src/${encodePathSegment(commit, 'commit')}/${encodeFilePath(path)}`;
    return this.request({ method: 'GET', path: url }, ctx, (res) => (res.status === 404 ? undefined : res.text), [404]);
  }

  /** Every repository of the workspace the token's account can see (all pages, 100 a page). */
  async listRepositories(workspace: string): Promise<Repository[]> {
    const ctx: RequestContext = { action: `listing the repositories of workspace ${workspace}`, idempotent: true };
    const repos: Repository[] = [];
    for await (const value of this.values(`/repositories/${encodePathSegment(workspace, 'workspace')}?pagelen=100`, ctx)) {
      const repository = toRepository(value);
      if (!repository) throw malformedResponse(ctx, 200, 'held a repository without uuid or full_name');
      repos.push(repository);
    }
    return repos;
  }

  /** Every access key on the repository (all pages). */
  async listAccessKeys(workspace: string, repo: string): Promise<AccessKey[]> {
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `listing the access keys of ${full}`, repository: full, idempotent: true };
    const keys: AccessKey[] = [];
    for await (const value of this.values(`${repoPath(workspace, repo)}/deploy-keys?pagelen=100`, ctx)) {
      const key = toAccessKey(value);
      if (!key) throw malformedResponse(ctx, 200, 'held an access key without id or key');
      keys.push(key);
    }
    return keys;
  }

  /**
   * Adds a read-only access key. Throws `AccessKeyAlreadyPresentError` when Bitbucket says the key is
   * already on the repository.
   *
   * This POST is retried like a read: if an attempt was applied but its answer lost, the repeat gets
   * 400 "already added that access key", which surfaces as `AccessKeyAlreadyPresentError` and which the
   * caller treats as "present" (looking the key up by listing). A repeat can never add a second copy.
   */
  async addAccessKey(workspace: string, repo: string, key: { key: string; label: string }): Promise<AccessKey> {
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `adding an access key to ${full}`, repository: full, idempotent: true, addingAccessKey: true };
    const body = { key: key.key, label: key.label };
    return this.request({ method: 'POST', path: `${repoPath(workspace, repo)}/deploy-keys`, body }, ctx, (res) => {
      const added = toAccessKey(this.json(res, ctx));
      if (!added) throw malformedResponse(ctx, res.status, 'lacked the new key id');
      return added;
    });
  }

  /** Removes an access key; 'absent' when there was none with that id (404). */
  async deleteAccessKey(workspace: string, repo: string, id: number): Promise<'deleted' | 'absent'> {
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new InvalidPathSegmentError('access key id', `The access key id must be a positive whole number (got ${String(id)}).`);
    }
    const full = `${workspace}/${repo}`;
    const ctx: RequestContext = { action: `removing access key ${id} from ${full}`, repository: full, idempotent: true };
    const path = `${repoPath(workspace, repo)}/deploy-keys/${encodePathSegment(String(id), 'access key id')}`;
    return this.request({ method: 'DELETE', path }, ctx, (res) => (res.status === 404 ? 'absent' : 'deleted'), [404]);
  }

  /** The caller's effective permission on the repository with `repoUuid` in `workspace`. */
  async getRepositoryPermission(workspace: string, repoUuid: string): Promise<RepositoryPermission> {
    const uuid = braceUuid(repoUuid, 'repository UUID');
    const ctx: RequestContext = { action: `reading your permission on repository ${uuid} in ${workspace}`, idempotent: true };
    const q = encodeURIComponent(`repository.uuid=${bbqlString(uuid)}`);
    const path = `/user/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions/repositories?q=${q}`;
    // The entry is matched by uuid as well, so a server that ignored the filter cannot hand back
    // another repository's permission.
    for await (const value of this.values(path, ctx)) {
      const permission = permissionFor(value, uuid);
      if (permission) return permission;
    }
    return 'none';
  }

  /** The account the credentials belong to. */
  async getCurrentUser(): Promise<BitbucketUser> {
    const ctx: RequestContext = { action: 'reading the current user', idempotent: true };
    return this.request({ method: 'GET', path: '/user' }, ctx, (res) => {
      const user = toUser(this.json(res, ctx));
      if (!user) throw malformedResponse(ctx, res.status, 'lacked the account_id');
      return user;
    });
  }

  /** Each value of a paginated list, following `next` to the end. */
  private async *values(firstPath: string, ctx: RequestContext): AsyncGenerator<unknown> {
    const seen = new Set<string>();
    let path: string | undefined = firstPath;
    for (let page = 0; path !== undefined; page++) {
      if (page >= MAX_PAGES || seen.has(path)) throw malformedResponse(ctx, 200, 'kept pointing to more pages without end');
      seen.add(path);
      const current: string = path;
      const body = await this.request({ method: 'GET', path: current }, ctx, (res) => {
        const o = asObject(this.json(res, ctx));
        if (!o || !Array.isArray(o.values)) throw malformedResponse(ctx, res.status, 'was not a page of values');
        return o;
      });
      for (const value of body.values as unknown[]) yield value;
      if (typeof body.next !== 'string' || body.next === '') {
        path = undefined;
      } else {
        const verdict = linkBelow(this.apiRoot, body.next);
        if ('refused' in verdict) throw foreignLink(this.apiRoot, ctx, verdict.refused);
        path = verdict.path;
      }
    }
  }

  private json(res: BitbucketResponse, ctx: RequestContext): unknown {
    try {
      return JSON.parse(res.text) as unknown;
    } catch {
      throw malformedResponse(ctx, res.status);
    }
  }

  /**
   * One request with retries: 2xx (and the statuses in `expected`) go to `onAnswer`, which may throw
   * (a malformed body is retried when the call is safe to repeat); other statuses become typed errors.
   */
  private request<T>(
    req: BitbucketRequest,
    ctx: RequestContext,
    onAnswer: (res: BitbucketResponse) => T,
    expected: readonly number[] = [],
  ): Promise<T> {
    // A 429 without Retry-After says nothing of when Bitbucket lets the user in again (its hour rolls):
    // retried once, quickly, in case it was a burst, and no more, so a spent hour is not asked again and again.
    let unsaidWaits = 0;
    const isRetryable = (err: unknown) => {
      if (!this.retry.isRetryable(err)) return false;
      if (err instanceof BitbucketError && err.status === 429 && retryAfterSecondsOf(err) === undefined) return ++unsaidWaits <= MAX_429_RETRIES_WITHOUT_RETRY_AFTER;
      return true;
    };
    return withRetry(async () => {
      let res: BitbucketResponse;
      try {
        res = await this.transport.request(req);
      } catch (err) {
        if (err instanceof BitbucketError) throw err;
        throw networkError(undefined, networkErrorCode(err));
      }
      if (!ok(res.status) && !expected.includes(res.status)) throw errorForResponse(res, ctx);
      return onAnswer(res);
    }, { ...this.retry, isRetryable });
  }
}
