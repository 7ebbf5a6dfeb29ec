/**
 * The workspace settings page: the stored credentials' summaries (never the secrets), saving and
 * clearing them (workspace owners only, each token checked before it is stored), and how each
 * repository of the workspace stands.
 */
import {
  DEFAULT_VALOHAI_HOST,
  expiryProblem,
  InvalidPayloadError,
  type BitbucketCredentialSummary,
  type HealthPolicyView,
  type SaveHealthPolicyPayload,
  type ClearCredentialsPayload,
  type SaveBitbucketTokenPayload,
  type SaveTrustSettingsPayload,
  type SaveValohaiTokenPayload,
  type TrustSettingsView,
  type ValohaiCredentialSummary,
  type WorkspaceRepository,
  type WorkspaceSettings,
  type WorkspaceSettingsPayload,
} from '../contract';
import { workspaceAdmin, workspaceMember } from '../access/authorize';
import { valohaiFor } from '../platform/clients';
import { failures } from '../errors';
import { automationPause, automationView, loadAutomation, loadPolicy, savePolicy, tokenLifetime, type HealthRecord } from '../store/health-records';
import { Credentials } from '../store/credentials';
import { bareUuid, keys } from '../store/keys';
import { keyAgeOf } from '../store/connections';
import { pointerMayBeLive } from '../jobs/slots';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import type { ActiveJobPointer, StoredConnection, WorkspaceSummary } from '../store/records';
import { checkBitbucketToken, checkValohaiToken, tokenLosses, worseTokenRefusal } from './token-check';
import { tokenHourView, withTokenHour } from './token-hour';
import type { WorkspaceMembership } from '../../bitbucket/index';
import { workspaceRepositories } from '../store/repository-listing';
import { loadTrust, saveTrust } from '../access/trust';

/** Repositories listed at most; a larger workspace is marked truncated. */
const MAX_REPOSITORIES = 500;

function valohaiSummary(entry: WorkspaceSummary['valohai'], stored: boolean, now: Date): ValohaiCredentialSummary {
  if (!entry || !stored) return { configured: false, host: entry?.host ?? DEFAULT_VALOHAI_HOST, username: null };
  const summary: ValohaiCredentialSummary = { configured: true, host: entry.host, username: entry.username, lifetime: tokenLifetime(entry, now) };
  if (entry.problem) summary.problem = entry.problem;
  return summary;
}

function bitbucketSummary(entry: WorkspaceSummary['bitbucket'], stored: boolean, now: Date): BitbucketCredentialSummary {
  if (!entry || !stored) return { configured: false, email: entry?.email ?? null, accountName: null, missingScopes: [] };
  const summary: BitbucketCredentialSummary = {
    configured: true,
    email: entry.email,
    accountName: entry.accountName,
    missingScopes: entry.missingScopes,
    workspaceAdmin: entry.workspaceAdmin ?? null,
    lifetime: tokenLifetime(entry, now),
  };
  if (entry.problem) summary.problem = entry.problem;
  return summary;
}

/** The expiry date typed beside a token, checked with the server's clock (the validator checked its shape). */
function checkedExpiry(platform: ForgePlatform, resolver: 'saveValohaiToken' | 'saveBitbucketToken', expiresOn: string | undefined): string | null {
  if (!expiresOn) return null;
  const problem = expiryProblem(expiresOn, platform.clock.now());
  if (problem) throw new InvalidPayloadError(resolver, 'expiresOn', problem, true);
  return expiresOn;
}

/**
 * A member who is not a workspace admin: whether Valohai is set up and who may connect, enough to ask
 * an admin. Not which repositories exist or are connected, not whose tokens are stored.
 */
async function memberSettings(platform: ForgePlatform, context: TrustedContext, membership: WorkspaceMembership): Promise<WorkspaceSettings> {
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  const now = platform.clock.now();
  const [summary, valohai, bitbucket, trust, policy, automation] = await Promise.all([
    credentials.summary(),
    credentials.valohai(),
    credentials.bitbucket(),
    loadTrust(platform.store, ws),
    loadPolicy(platform.store, ws),
    loadAutomation(platform.store, ws),
  ]);
  return {
    workspace: membership.workspace ?? { slug: '', name: '' },
    canAdminister: false,
    valohai: { configured: valohai !== undefined, host: summary.valohai?.host ?? DEFAULT_VALOHAI_HOST, username: null },
    bitbucket: { configured: bitbucket !== undefined, email: null, accountName: null, missingScopes: [] },
    repositories: [],
    repositoriesTruncated: false,
    repositoriesListedAt: null,
    repositoriesProblem: null,
    trust: { connectors: trust.connectors, otherWorkspaces: [], projectOwners: [] },
    policy,
    valohaiOwners: [],
    // When checks run is no secret; what they found (repositories, keys) is for admins.
    automation: { ...automationView(automation, now, automationPause(summary, now)), lastRunChecked: 0, lastRunDeferred: 0, rotationsToday: 0 },
    keyNotices: [],
  };
}

async function settingsFor(platform: ForgePlatform, context: TrustedContext, membership: WorkspaceMembership, refreshRepositories = false): Promise<WorkspaceSettings> {
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  const now = platform.clock.now();
  const [summary, valohai, bitbucket, listing, connections, pointers, trust, policy, automation, checks] = await Promise.all([
    credentials.summary(),
    credentials.valohai(),
    credentials.bitbucket(),
    // Kept a few minutes, read again when older or asked for; a read that fails leaves the kept one shown.
    workspaceRepositories(platform, context.workspaceId, { max: MAX_REPOSITORIES, refresh: refreshRepositories }),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: 5000 }),
    platform.store.query<ActiveJobPointer>(keys.activeJobPrefix(ws), { limit: 5000 }),
    loadTrust(platform.store, ws),
    loadPolicy(platform.store, ws),
    loadAutomation(platform.store, ws),
    platform.store.query<HealthRecord>(keys.healthPrefix(ws), { limit: 5000 }),
  ]);
  const paused = automationPause(summary, now);
  const hour = bitbucket ? await tokenHourView(platform, bitbucket) : undefined;
  // Only for choosing an owner of new projects in a bulk connect: a Valohai that does not answer leaves the list empty.
  const valohaiOwners = valohai ? await valohaiFor(platform, valohai, RESOLVER_LIMITS).ownershipOptions().catch(() => [] as string[]) : [];
  const healthByRepo = new Map(checks.map(({ key, value }) => [key.slice(keys.healthPrefix(ws).length), value]));
  const byRepo = new Map(connections.map(({ value }) => [value.repositoryUuid, value]));
  const runningRepos = new Set(
    pointers.filter(({ value }) => pointerMayBeLive(value, now)).map(({ key }) => key.slice(keys.activeJobPrefix(ws).length)),
  );
  const repositories: WorkspaceRepository[] = listing.repositories.slice(0, MAX_REPOSITORIES).map((repo) => {
    const uuid = bareUuid(repo.uuid, 'repository');
    const connection = byRepo.get(uuid);
    const state = runningRepos.has(uuid)
      ? 'running'
      : connection?.state === 'manual-pending'
        ? 'manual'
        : connection?.movedAway
          ? 'moved-away'
          : connection
          ? 'connected'
          : 'not-connected';
    const latest = connection?.state === 'connected' ? healthByRepo.get(uuid)?.entries?.at(-1) : undefined;
    return {
      fullName: repo.fullName,
      name: repo.name,
      state,
      projectName: connection?.record.projectName ?? null,
      keyAgeDays: connection ? keyAgeOf(connection, now) : null,
      ...(connection ? { keySource: connection.record.keySource === 'valohai' ? ('valohai' as const) : ('app' as const) } : {}),
      settingsUrl: platform.pageUrls?.repositorySettings(repo.workspace, repo.slug) ?? null,
      health: connection?.state === 'connected' && paused ? 'paused' : (latest?.health ?? null),
      lastVerifiedAt: connection?.verifiedAt ?? null,
    };
  });
  const keyNotices = checks.flatMap(({ value }) => (Array.isArray(value.keyNotices) ? value.keyNotices : [])).sort((a, b) => a.repository.localeCompare(b.repository) || a.keyId - b.keyId);
  return {
    workspace: membership.workspace ?? listing.workspace ?? { slug: '', name: '' },
    canAdminister: membership.permission === 'owner',
    valohai: valohaiSummary(summary.valohai, valohai !== undefined, now),
    bitbucket: { ...bitbucketSummary(summary.bitbucket, bitbucket !== undefined, now), ...(hour ? { hour } : {}) },
    repositories,
    repositoriesTruncated: listing.truncated || listing.repositories.length > MAX_REPOSITORIES,
    repositoriesListedAt: listing.readAt,
    repositoriesProblem: listing.problem,
    trust,
    policy,
    automation: automationView(automation, now, paused),
    keyNotices,
    valohaiOwners,
  };
}

export async function workspaceSettings(platform: ForgePlatform, context: TrustedContext, payload: WorkspaceSettingsPayload = {}): Promise<WorkspaceSettings> {
  const membership = await workspaceMember(platform, context);
  return membership.permission === 'owner' ? settingsFor(platform, context, membership, payload.refreshRepositories === true) : memberSettings(platform, context, membership);
}

export async function saveValohaiToken(
  platform: ForgePlatform,
  context: TrustedContext,
  payload: SaveValohaiTokenPayload,
): Promise<ValohaiCredentialSummary> {
  await workspaceAdmin(platform, context);
  const host = payload.host ?? DEFAULT_VALOHAI_HOST;
  // Forge would block any other host, and a blocked call answers 403, which would read as a bad token.
  if (!platform.valohaiOrigins.includes(host)) throw failures.valohaiHostNotAllowed(host, platform.valohaiOrigins);
  const expiresOn = checkedExpiry(platform, 'saveValohaiToken', payload.expiresOn);
  const username = await checkValohaiToken(platform.makeValohai({ host, token: payload.token }, RESOLVER_LIMITS), host);
  const credentials = new Credentials(platform, bareUuid(context.workspaceId, 'workspace'));
  const entry = await credentials.saveValohai({ host, token: payload.token }, username, expiresOn);
  return valohaiSummary(entry, true, platform.clock.now());
}

export async function saveBitbucketToken(
  platform: ForgePlatform,
  context: TrustedContext,
  payload: SaveBitbucketTokenPayload,
): Promise<BitbucketCredentialSummary> {
  await workspaceAdmin(platform, context);
  const expiresOn = checkedExpiry(platform, 'saveBitbucketToken', payload.expiresOn);
  // The check's requests are the new token's user's: they count in that user's hour.
  const check = await withTokenHour(platform, payload, payload.email, (token) => checkBitbucketToken(token, context.workspaceId, RESOLVER_LIMITS));
  const credentials = new Credentials(platform, bareUuid(context.workspaceId, 'workspace'));
  if (!payload.confirmWorse) {
    // A working token is not swapped for one that does less under a green "Saved": the page asks first.
    const [stored, secret] = await Promise.all([credentials.summary(), credentials.bitbucket()]);
    const usable = secret !== undefined && stored.bitbucket !== undefined && tokenLifetime(stored.bitbucket, platform.clock.now()).level !== 'expired';
    const losses = stored.bitbucket ? tokenLosses(stored.bitbucket, usable, { ...check, email: payload.email }) : [];
    if (losses.length > 0) throw worseTokenRefusal(losses);
  }
  const entry = await credentials.saveBitbucket({ email: payload.email, token: payload.token }, check, expiresOn);
  return bitbucketSummary(entry, true, platform.clock.now());
}

export async function clearCredentials(platform: ForgePlatform, context: TrustedContext, payload: ClearCredentialsPayload): Promise<WorkspaceSettings> {
  const membership = await workspaceAdmin(platform, context);
  await new Credentials(platform, bareUuid(context.workspaceId, 'workspace')).clear(payload.which);
  return settingsFor(platform, context, membership);
}

/** How connections look after themselves: workspace admins only. */
export async function saveHealthPolicy(platform: ForgePlatform, context: TrustedContext, payload: SaveHealthPolicyPayload): Promise<HealthPolicyView> {
  await workspaceAdmin(platform, context);
  return savePolicy(platform.store, bareUuid(context.workspaceId, 'workspace'), payload);
}

/** Who may connect, and which other workspaces may receive the key: workspace admins only. */
export async function saveTrustSettings(platform: ForgePlatform, context: TrustedContext, payload: SaveTrustSettingsPayload): Promise<TrustSettingsView> {
  await workspaceAdmin(platform, context);
  return saveTrust(platform.store, bareUuid(context.workspaceId, 'workspace'), payload);
}
