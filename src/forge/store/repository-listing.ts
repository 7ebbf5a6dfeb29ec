/**
 * The workspace's repositories as the app last listed them, kept in the app's storage with the time they
 * were read. Listing a workspace of 500 repositories takes five requests as the app, and the app's own
 * credential has about 1,000 an hour on repository endpoints (Forge's scaled limit for a small
 * workspace): two admins opening the workspace page every minute would spend most of it on the list
 * alone. So page loads and bulk plans use the kept listing while it is fresh (LISTING_FRESH_MS), read it
 * again when it is older or when an admin asks ("Refresh list"), and a read that fails (a 429, no answer)
 * leaves the kept listing in place: the page shows it with its time and what stopped the refresh.
 *
 * Stored as one head record and parts of at most PART_SIZE repositories (Bitbucket's page of 100), each
 * far inside Forge's 240 KiB a value, whatever the workspace's size. The parts of a read carry its
 * generation in their keys and the head names it, so a reader never mixes two reads.
 */
import { hooked, listWorkspaceRepositories, type BitbucketTransport, type Repository } from '../../bitbucket/index';
import { REPOSITORY_LIST_FRESH_MINUTES, type ResolverError } from '../contract';
import { toResolverError } from '../errors';
import type { ForgePlatform } from '../platform/ports';
import { bareUuid, keys } from './keys';
import type { StoredConnection } from './records';

/** A kept listing this young is used as it is; an older one is read again on the next page load. */
export const LISTING_FRESH_MS = REPOSITORY_LIST_FRESH_MINUTES * 60_000;
/** After a read that failed, page loads use the kept listing this long before trying again ("Refresh list" tries at once). */
export const LISTING_RETRY_MS = 5 * 60_000;
/** A "Refresh list" this soon after a read uses that read: a second click or a second tab costs nothing. */
export const LISTING_REFRESH_MIN_MS = 15_000;
/** Repositories per stored part: one Bitbucket page. */
export const PART_SIZE = 100;
/** Parts are rewritten by every read; ones a read left behind go by themselves. */
const TTL_SECONDS = 14 * 24 * 3600;

/** One repository as kept: what the pages and bulk plans use, and enough to stand in for a read of it. */
export interface ListedRepository {
  /** Bare UUID (no braces). */
  uuid: string;
  slug: string;
  name: string;
  mainBranch: string | null;
  isPrivate: boolean;
}

/** Bitbucket's rate-limit headers on the listing's answers, where it sent any: recorded, never relied on. */
export interface AppRateLimitSeen {
  at: string;
  limit: number | null;
  nearLimit: boolean | null;
  resource: string | null;
}

export interface ListingHead {
  /** When the kept repositories were read. */
  readAt: string;
  /** Names the parts of that read. */
  generation: string;
  parts: number;
  count: number;
  /** The read stopped at its maximum: the workspace has more repositories than are kept. */
  truncated: boolean;
  workspace: { slug: string; name: string } | null;
  /** Host of the repositories' addresses (bitbucket.org). */
  host: string;
  /** Requests the read sent as the app. */
  requests: number;
  rateLimit?: AppRateLimitSeen | null;
  /** The latest read that failed after `readAt`, and why. */
  failed?: (ResolverError & { at: string }) | null;
}

interface ListingPart {
  generation: string;
  repositories: ListedRepository[];
}

export interface KeptListing {
  repositories: Repository[];
  truncated: boolean;
  workspace: { slug: string; name: string } | null;
  /** When the repositories were read; null when there is no listing (the first read failed). */
  readAt: string | null;
  /** Read by this call (false: the kept listing was used). */
  fresh: boolean;
  /** Why the latest read failed, when the listing shown is older than it. */
  problem: (ResolverError & { at: string }) | null;
}

export interface ListingOptions {
  /** Repositories wanted at most; a kept listing that stopped short of them is read again. */
  max: number;
  /** Read now ("Refresh list", a bulk plan naming a repository the kept listing lacks). */
  refresh?: boolean;
  /** On a failed read with nothing kept, throw (a bulk plan) rather than answer an empty listing (a page). */
  throwWhenNone?: boolean;
}

function compact(repo: Repository): ListedRepository {
  return { uuid: bareUuid(repo.uuid, 'repository'), slug: repo.slug, name: repo.name, mainBranch: repo.mainBranch, isPrivate: repo.isPrivate };
}

/** A kept repository as the client reads one (its addresses built as Bitbucket writes them). */
export function expand(repo: ListedRepository, workspace: string, host: string): Repository {
  const fullName = `${workspace}/${repo.slug}`;
  return {
    uuid: `{${repo.uuid}}`,
    slug: repo.slug,
    name: repo.name,
    fullName,
    workspace,
    isPrivate: repo.isPrivate,
    mainBranch: repo.mainBranch,
    sshUrl: `git@${host}:${fullName}.git`,
    httpsUrl: `https://${host}/${fullName}.git`,
    htmlUrl: `https://${host}/${fullName}`,
  };
}

function hostOf(repo: Repository | undefined): string {
  try {
    return repo ? new URL(repo.htmlUrl).host : 'bitbucket.org';
  } catch {
    return 'bitbucket.org';
  }
}

const since = (at: string | null | undefined, now: Date) => (at ? now.getTime() - Date.parse(at) : Number.POSITIVE_INFINITY);

/** The kept head and its repositories; undefined when none is kept or its parts are not all there. */
export async function loadKeptListing(platform: ForgePlatform, workspaceUuid: string): Promise<{ head: ListingHead; repositories: ListedRepository[] } | undefined> {
  const ws = bareUuid(workspaceUuid, 'workspace');
  const head = await platform.store.get<ListingHead>(keys.repositoryListing(ws));
  if (!head) return undefined;
  const parts = await platform.store.query<ListingPart>(keys.repositoryListingPartPrefix(ws, head.generation), { limit: head.parts });
  if (parts.length !== head.parts || parts.some(({ value }) => value.generation !== head.generation)) return undefined;
  const repositories = parts.flatMap(({ value }) => value.repositories);
  return repositories.length === head.count ? { head, repositories } : undefined;
}

function asListing(head: ListingHead, kept: ListedRepository[], fresh: boolean): KeptListing {
  const workspace = head.workspace?.slug ?? '';
  return {
    repositories: kept.map((r) => expand(r, workspace, head.host)),
    truncated: head.truncated,
    workspace: head.workspace,
    readAt: head.readAt,
    fresh,
    problem: head.failed ?? null,
  };
}

/** A transport that counts the listing's requests and notes the rate-limit headers of its answers. */
function noted(asApp: BitbucketTransport, now: () => Date) {
  const seen = { requests: 0, rateLimit: null as AppRateLimitSeen | null };
  const transport = hooked(asApp, {
    before: () => void seen.requests++,
    after: (_req, res) => {
      const limit = res.headers['x-ratelimit-limit'];
      const near = res.headers['x-ratelimit-nearlimit'];
      if (limit === undefined && near === undefined) return;
      const parsed = Number.parseInt(limit ?? '', 10);
      seen.rateLimit = {
        at: now().toISOString(),
        limit: Number.isSafeInteger(parsed) ? parsed : null,
        nearLimit: near === undefined ? null : near === 'true',
        resource: res.headers['x-ratelimit-resource'] ?? null,
      };
    },
  });
  return { transport, seen };
}

async function store(platform: ForgePlatform, ws: string, head: ListingHead, repositories: ListedRepository[], previous: ListingHead | undefined): Promise<void> {
  const parts: ListedRepository[][] = [];
  for (let i = 0; i < repositories.length; i += PART_SIZE) parts.push(repositories.slice(i, i + PART_SIZE));
  await Promise.all(
    parts.map((part, i) => platform.store.set(keys.repositoryListingPart(ws, head.generation, i), { generation: head.generation, repositories: part } satisfies ListingPart, { ttlSeconds: TTL_SECONDS })),
  );
  await platform.store.set(keys.repositoryListing(ws), head, { ttlSeconds: TTL_SECONDS });
  if (previous && previous.generation !== head.generation) {
    // The old read's parts are no longer named by the head; left behind, they go with their TTL.
    await Promise.all(Array.from({ length: previous.parts }, (_, i) => platform.store.delete(keys.repositoryListingPart(ws, previous.generation, i)))).catch(() => undefined);
  }
}

/**
 * The workspace's repositories: the kept listing while it is fresh (and holds as many as wanted), else
 * read as the app and kept. A read that fails leaves the kept listing in place and is answered with it
 * and the failure; with nothing kept, a page gets an empty listing and the failure.
 */
export async function workspaceRepositories(platform: ForgePlatform, workspaceId: string, options: ListingOptions): Promise<KeptListing> {
  const ws = bareUuid(workspaceId, 'workspace');
  const now = platform.clock.now();
  const kept = await loadKeptListing(platform, ws).catch(() => undefined);
  if (kept) {
    const { head } = kept;
    const covers = !head.truncated || head.count >= options.max;
    const age = since(head.readAt, now);
    const justRead = age < LISTING_REFRESH_MIN_MS;
    const fresh = age < LISTING_FRESH_MS;
    const resting = since(head.failed?.at, now) < LISTING_RETRY_MS;
    if (covers && (justRead || (!options.refresh && (fresh || resting)))) return asListing(head, kept.repositories, false);
  }
  const { transport, seen } = noted(platform.bitbucketAsApp, () => platform.clock.now());
  try {
    const listing = await listWorkspaceRepositories(transport, `{${ws}}`, options.max);
    const repositories = listing.repositories.map(compact);
    const head: ListingHead = {
      readAt: now.toISOString(),
      generation: `${now.getTime().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      parts: Math.ceil(repositories.length / PART_SIZE),
      count: repositories.length,
      truncated: listing.truncated,
      workspace: listing.workspace,
      host: hostOf(listing.repositories[0]),
      requests: seen.requests,
      rateLimit: seen.rateLimit ?? kept?.head.rateLimit ?? null,
    };
    // A listing that cannot be kept is still shown: the next load reads again.
    await store(platform, ws, head, repositories, kept?.head).catch((err: unknown) => platform.log.warn('repository listing not kept', { error: err instanceof Error ? err.name : 'unknown' }));
    return { ...asListing(head, repositories, true), repositories: listing.repositories };
  } catch (err) {
    const failed = { ...toResolverError(err), at: now.toISOString() };
    platform.log.warn('repository listing not read', { code: failed.code, requests: seen.requests });
    if (kept) {
      const head: ListingHead = { ...kept.head, failed, ...(seen.rateLimit ? { rateLimit: seen.rateLimit } : {}) };
      await platform.store.set(keys.repositoryListing(ws), head, { ttlSeconds: TTL_SECONDS }).catch(() => undefined);
      return asListing(head, kept.repositories, false);
    }
    if (options.throwWhenNone) throw err;
    return { repositories: [], truncated: false, workspace: null, readAt: null, fresh: false, problem: failed };
  }
}

/**
 * One repository of the workspace as the app last saw it, whatever its age: what a page shows when the
 * app's own read of the repository is refused for a while (a 429, no answer). From the kept listing, else
 * from its connection's record (its name as connected; its main branch then unknown).
 */
export async function keptRepository(platform: ForgePlatform, workspaceUuid: string, repositoryUuid: string): Promise<Repository | undefined> {
  const uuid = bareUuid(repositoryUuid, 'repository');
  const kept = await loadKeptListing(platform, workspaceUuid).catch(() => undefined);
  const listed = kept?.repositories.find((r) => r.uuid === uuid);
  if (kept && listed) return expand(listed, kept.head.workspace?.slug ?? '', kept.head.host);
  const connection = await platform.store.get<StoredConnection>(keys.connection(workspaceUuid, uuid)).catch(() => undefined);
  const fullName = connection?.record.repository ?? '';
  const slash = fullName.indexOf('/');
  if (slash <= 0) return undefined;
  const slug = fullName.slice(slash + 1);
  return expand({ uuid, slug, name: slug, mainBranch: null, isPrivate: true }, fullName.slice(0, slash), kept?.head.host ?? 'bitbucket.org');
}
