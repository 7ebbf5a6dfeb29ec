/**
 * The engine's dependencies for work nobody clicked (a scheduled check, a push): built from the
 * connection's stored record alone. The stored API token is a workspace admin's, lent to the app, and
 * nobody is present to answer for what is done with it, so the trust check asks Bitbucket about the
 * account that made the connection (`connectedBy`), repository by repository. A connection that does
 * not record its maker may have nothing added: every target that needs a key is refused, with why.
 */
import type { Authority, BitbucketApi, WorkflowDeps } from '../../connect/index';
import { splitFullName } from '../platform/clients';
import { StoredTokenWork } from '../jobs/context';
import { KvConnectionStore } from '../store/connections';
import type { ForgePlatform } from '../platform/ports';
import type { StoredConnection } from '../store/records';
import { connectorLapse } from '../access/connector-lapse';

export const NO_MAKER_REASON =
  'the connection does not record who made it, so no automatic change may be made for anyone. An admin of it must add the key, or rotate the connection from its repository page.';

/** Refuses every target: nobody's permission covers an automatic change. */
export function nobodysAuthority(message: string): Authority {
  return {
    check: async (targets) => targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, allowed: false, reason: 'not-admin' as const, message })),
  };
}

/** Refuses every target, with why, when the account automatic work acts for may no longer connect. */
export function gatedAuthority(authority: Authority, lapse: string | undefined): Authority {
  if (!lapse) return authority;
  return nobodysAuthority(lapse);
}

export class AutomaticWork extends StoredTokenWork {
  readonly repo: string;
  readonly connections: KvConnectionStore;

  /** `holder` names this run in the repository's lock. */
  constructor(
    platform: ForgePlatform,
    readonly connection: StoredConnection,
    private readonly holder: string,
  ) {
    const { workspace, repo } = splitFullName(connection.record.repository);
    super(platform, connection.workspaceUuid, workspace);
    // Checks, repairs and push handling: nobody at the keyboard, so the token hour's unattended share.
    this.spender = 'unattended';
    this.repo = repo;
    this.connections = new KvConnectionStore(platform.store, connection.workspaceUuid, connection.repositoryUuid, {
      submodules: connection.submodules,
      projectOwner: null,
    });
  }

  /** The account automatic work acts for, or null when the connection does not say. */
  get actingFor(): string | null {
    return typeof this.connection.connectedBy === 'string' && this.connection.connectedBy ? this.connection.connectedBy : null;
  }

  /** Bitbucket with the stored token (this workspace's repositories read as the app), or undefined when no usable token is stored. */
  async bitbucket(): Promise<BitbucketApi | undefined> {
    const secret = await this.bitbucketSecret();
    return secret ? this.tokenBitbucket(secret) : undefined;
  }

  /** Why automatic work may no longer act for the connection's maker (connectorLapse), asked as the app. */
  async lapse(): Promise<string | undefined> {
    const maker = this.actingFor;
    if (!maker) return NO_MAKER_REASON;
    return connectorLapse(this.platform.store, this.asApp, this.workspaceUuid, maker);
  }

  /** The engine's dependencies: the trust check is the recorded maker's (refusing all when `lapse` says why), the lock the repository's. */
  async deps(bitbucket: BitbucketApi, lapse?: string): Promise<WorkflowDeps> {
    const maker = this.actingFor;
    const authority = maker ? gatedAuthority(await this.authorityFor(maker), lapse) : nobodysAuthority(NO_MAKER_REASON);
    return this.engineDeps(bitbucket, authority, await this.valohai(), this.connections, this.holder);
  }
}
