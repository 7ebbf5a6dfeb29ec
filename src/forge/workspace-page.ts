/**
 * The workspace settings page: the stored credentials' summaries (never the secrets), saving and
 * clearing them (workspace owners only, each token checked before it is stored), and how each
 * repository of the workspace stands.
 */
import {
  DEFAULT_VALOHAI_HOST,
  type BitbucketCredentialSummary,
  type ClearCredentialsPayload,
  type SaveBitbucketTokenPayload,
  type SaveTrustSettingsPayload,
  type SaveValohaiTokenPayload,
  type TrustSettingsView,
  type ValohaiCredentialSummary,
  type WorkspaceRepository,
  type WorkspaceSettings,
} from './contract';
import { workspaceAdmin, workspaceMember } from './authorize';
import { failures } from './errors';
import { Credentials } from './credentials';
import { bareUuid, keys } from './keys';
import { pointerMayBeLive } from './jobs';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from './platform';
import type { ActiveJobPointer, StoredConnection, WorkspaceSummary } from './records';
import { checkBitbucketToken, checkValohaiToken } from './token-check';
import { listWorkspaceRepositories, type WorkspaceMembership } from './workspace-reads';
import { loadTrust, saveTrust } from './trust';

/** Repositories listed at most; a larger workspace is marked truncated. */
const MAX_REPOSITORIES = 500;
const DAY = 86_400_000;

function valohaiSummary(entry: WorkspaceSummary['valohai'], stored: boolean): ValohaiCredentialSummary {
  if (!entry || !stored) return { configured: false, host: entry?.host ?? DEFAULT_VALOHAI_HOST, username: null };
  const summary: ValohaiCredentialSummary = { configured: true, host: entry.host, username: entry.username };
  if (entry.problem) summary.problem = entry.problem;
  return summary;
}

function bitbucketSummary(entry: WorkspaceSummary['bitbucket'], stored: boolean): BitbucketCredentialSummary {
  if (!entry || !stored) return { configured: false, email: entry?.email ?? null, accountName: null, missingScopes: [] };
  const summary: BitbucketCredentialSummary = {
    configured: true,
    email: entry.email,
    accountName: entry.accountName,
    missingScopes: entry.missingScopes,
    workspaceAdmin: entry.workspaceAdmin ?? null,
  };
  if (entry.problem) summary.problem = entry.problem;
  return summary;
}

/**
 * A member who is not a workspace admin: whether Valohai is set up and who may connect, enough to ask
 * an admin. Not which repositories exist or are connected, not whose tokens are stored.
 */
async function memberSettings(platform: ForgePlatform, context: TrustedContext, membership: WorkspaceMembership): Promise<WorkspaceSettings> {
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  const [summary, valohai, bitbucket, trust] = await Promise.all([
    credentials.summary(),
    credentials.valohai(),
    credentials.bitbucket(),
    loadTrust(platform.store, ws),
  ]);
  return {
    workspace: membership.workspace ?? { slug: '', name: '' },
    canAdminister: false,
    valohai: { configured: valohai !== undefined, host: summary.valohai?.host ?? DEFAULT_VALOHAI_HOST, username: null },
    bitbucket: { configured: bitbucket !== undefined, email: null, accountName: null, missingScopes: [] },
    repositories: [],
    repositoriesTruncated: false,
    trust: { connectors: trust.connectors, otherWorkspaces: [], projectOwners: [] },
  };
}

async function settingsFor(platform: ForgePlatform, context: TrustedContext, membership: WorkspaceMembership): Promise<WorkspaceSettings> {
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  const now = platform.clock.now();
  const [summary, valohai, bitbucket, listing, connections, pointers, trust] = await Promise.all([
    credentials.summary(),
    credentials.valohai(),
    credentials.bitbucket(),
    listWorkspaceRepositories(platform.bitbucketAsApp, context.workspaceId, MAX_REPOSITORIES),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: 5000 }),
    platform.store.query<ActiveJobPointer>(keys.activeJobPrefix(ws), { limit: 5000 }),
    loadTrust(platform.store, ws),
  ]);
  const byRepo = new Map(connections.map(({ value }) => [value.repositoryUuid, value]));
  const runningRepos = new Set(
    pointers.filter(({ value }) => pointerMayBeLive(value, now)).map(({ key }) => key.slice(keys.activeJobPrefix(ws).length)),
  );
  const repositories: WorkspaceRepository[] = listing.repositories.map((repo) => {
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
    const created = connection ? Date.parse(connection.record.createdAt) : Number.NaN;
    return {
      fullName: repo.fullName,
      name: repo.name,
      state,
      projectName: connection?.record.projectName ?? null,
      keyAgeDays: Number.isNaN(created) ? null : Math.max(0, Math.floor((now.getTime() - created) / DAY)),
      settingsUrl: platform.pageUrls?.repositorySettings(repo.workspace, repo.slug) ?? null,
    };
  });
  return {
    workspace: membership.workspace ?? listing.workspace ?? { slug: '', name: '' },
    canAdminister: membership.permission === 'owner',
    valohai: valohaiSummary(summary.valohai, valohai !== undefined),
    bitbucket: bitbucketSummary(summary.bitbucket, bitbucket !== undefined),
    repositories,
    repositoriesTruncated: listing.truncated,
    trust,
  };
}

export async function workspaceSettings(platform: ForgePlatform, context: TrustedContext): Promise<WorkspaceSettings> {
  const membership = await workspaceMember(platform, context);
  return membership.permission === 'owner' ? settingsFor(platform, context, membership) : memberSettings(platform, context, membership);
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
  const username = await checkValohaiToken(platform.makeValohai({ host, token: payload.token }, RESOLVER_LIMITS), host);
  const credentials = new Credentials(platform, bareUuid(context.workspaceId, 'workspace'));
  const entry = await credentials.saveValohai({ host, token: payload.token }, username);
  return valohaiSummary(entry, true);
}

export async function saveBitbucketToken(
  platform: ForgePlatform,
  context: TrustedContext,
  payload: SaveBitbucketTokenPayload,
): Promise<BitbucketCredentialSummary> {
  await workspaceAdmin(platform, context);
  const transport = platform.makeBitbucketWithToken({ email: payload.email, token: payload.token }, RESOLVER_LIMITS);
  const check = await checkBitbucketToken(transport, context.workspaceId, RESOLVER_LIMITS);
  const credentials = new Credentials(platform, bareUuid(context.workspaceId, 'workspace'));
  const entry = await credentials.saveBitbucket({ email: payload.email, token: payload.token }, check);
  return bitbucketSummary(entry, true);
}

export async function clearCredentials(platform: ForgePlatform, context: TrustedContext, payload: ClearCredentialsPayload): Promise<WorkspaceSettings> {
  const membership = await workspaceAdmin(platform, context);
  await new Credentials(platform, bareUuid(context.workspaceId, 'workspace')).clear(payload.which);
  return settingsFor(platform, context, membership);
}

/** Who may connect, and which other workspaces may receive the key: workspace admins only. */
export async function saveTrustSettings(platform: ForgePlatform, context: TrustedContext, payload: SaveTrustSettingsPayload): Promise<TrustSettingsView> {
  await workspaceAdmin(platform, context);
  return saveTrust(platform.store, bareUuid(context.workspaceId, 'workspace'), payload);
}
