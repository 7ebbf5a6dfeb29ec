/**
 * The resolvers the pages call, keyed by the contract's names. Each validates its payload with the
 * contract's validator (unknown fields refused), takes workspace, repository and user only from the
 * trusted context, and answers with a Reply: failures carry the fix, never a secret or a stack.
 */
import * as actions from './pages/actions';
import { validatePayload, type PayloadOf, type Reply, type ResolverName, type ValueOf } from './contract';
import { errorName, toResolverError } from './errors';
import * as fleetAudit from './fleet/audit';
import * as fleetBatch from './fleet/batch';
import type { ForgePlatform, TrustedContext } from './platform/ports';
import { removeUnneededKey } from './pages/key-notices';
import { checkSetup } from './pages/setup-check';
import { previewConnect, repositoryPage } from './pages/repository';
import * as workspace from './pages/workspace';

export type ResolverHandler<K extends ResolverName> = (payload: unknown, context: TrustedContext) => Promise<Reply<ValueOf<K>>>;

export type Resolvers = { [K in ResolverName]: ResolverHandler<K> };

/** Secrets met while answering one call: scrubbed from its error reply should a server have echoed one. */
type Secrets = string[];

type Implementation<K extends ResolverName> = (
  platform: ForgePlatform,
  payload: PayloadOf<K>,
  context: TrustedContext,
  secrets: Secrets,
) => Promise<ValueOf<K>>;

const implementations: { [K in ResolverName]: Implementation<K> } = {
  getWorkspaceSettings: (p, payload, ctx) => workspace.workspaceSettings(p, ctx, payload),
  saveValohaiToken: (p, payload, ctx, secrets) => {
    secrets.push(payload.token);
    return workspace.saveValohaiToken(p, ctx, payload);
  },
  saveBitbucketToken: (p, payload, ctx, secrets) => {
    secrets.push(payload.token);
    return workspace.saveBitbucketToken(p, ctx, payload);
  },
  clearCredentials: (p, payload, ctx) => workspace.clearCredentials(p, ctx, payload),
  getRepositoryPage: (p, _payload, ctx, secrets) => repositoryPage(p, ctx, secrets),
  previewConnect: (p, payload, ctx, secrets) => previewConnect(p, ctx, payload, secrets),
  startConnect: (p, payload, ctx) => actions.startConnect(p, ctx, payload),
  startManualConnect: (p, payload, ctx) => actions.startManualConnect(p, ctx, payload),
  verifyManual: (p, _payload, ctx) => actions.verifyManual(p, ctx),
  startRotate: (p, payload, ctx) => actions.startRotate(p, ctx, payload),
  startDisconnect: (p, _payload, ctx) => actions.startDisconnect(p, ctx),
  startVerify: (p, _payload, ctx) => actions.startVerify(p, ctx),
  dismissLeftByHand: (p, _payload, ctx) => actions.dismissLeftByHandKeys(p, ctx),
  getJob: (p, payload, ctx) => actions.getJob(p, ctx, payload.jobId),
  saveTrustSettings: (p, payload, ctx) => workspace.saveTrustSettings(p, ctx, payload),
  saveHealthPolicy: (p, payload, ctx) => workspace.saveHealthPolicy(p, ctx, payload),
  removeUnneededKey: (p, payload, ctx, secrets) => removeUnneededKey(p, ctx, payload, secrets),
  startAudit: (p, payload, ctx) => fleetAudit.startAudit(p, ctx, payload),
  getAudit: (p, payload, ctx) => fleetAudit.getAudit(p, ctx, payload),
  exportAudit: (p, payload, ctx) => fleetAudit.exportAudit(p, ctx, payload),
  planBatch: (p, payload, ctx) => fleetBatch.planBatch(p, ctx, payload),
  startBatch: (p, payload, ctx) => fleetBatch.startBatch(p, ctx, payload),
  getBatch: (p, payload, ctx) => fleetBatch.getBatch(p, ctx, payload),
  cancelBatch: (p, _payload, ctx) => fleetBatch.cancelBatch(p, ctx),
  checkSetup: (p, _payload, ctx, secrets) => checkSetup(p, ctx, secrets),
};

export function createResolvers(platform: ForgePlatform): Resolvers {
  const define =
    <K extends ResolverName>(name: K): ResolverHandler<K> =>
    async (payload, context) => {
      const secrets: Secrets = [];
      try {
        const typed = validatePayload[name](payload) as PayloadOf<K>;
        const implementation = implementations[name] as Implementation<K>;
        return { ok: true, value: await implementation(platform, typed, context, secrets) };
      } catch (err) {
        const error = toResolverError(err, secrets);
        const fields = { resolver: name, code: error.code, error: errorName(err) };
        if (error.code === 'internal') platform.log.error('resolver failed', fields);
        else platform.log.info('resolver refused', fields);
        return { ok: false, error };
      }
    };
  const resolvers = {} as { [K in ResolverName]: ResolverHandler<K> };
  for (const name of Object.keys(implementations) as ResolverName[]) {
    (resolvers as Record<ResolverName, ResolverHandler<ResolverName>>)[name] = define(name);
  }
  return resolvers;
}
