/**
 * "Check the set-up" on the workspace page: the shared set-up check (connect/doctor.ts) with the
 * stored credentials, Forge's egress list and the first connected repository. Workspace admins only;
 * changes nothing.
 */
import { doctor } from '../../connect/index';
import { tokenUser, withTokenHour } from './token-hour';
import type { SetupCheck } from '../contract';
import { workspaceAdmin } from '../access/authorize';
import { failures } from '../errors';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import { VALOHAI_HOSTS_COMMAND } from '../platform/valohai-hosts';
import { Credentials } from '../store/credentials';
import { bareUuid, keys } from '../store/keys';
import type { StoredConnection } from '../store/records';

/** Within the resolver's 25 s, and one request per call: the count it reports is what was sent. */
const LIMITS = { ...RESOLVER_LIMITS, maxAttempts: 1 };

export async function checkSetup(platform: ForgePlatform, context: TrustedContext, secrets: string[]): Promise<SetupCheck> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const credentials = new Credentials(platform, ws);
  const [valohai, bitbucket, connections, summary] = await Promise.all([
    credentials.valohai(),
    credentials.bitbucket(),
    platform.store.query<StoredConnection>(keys.connectionPrefix(ws), { limit: 1 }),
    credentials.summary(),
  ]);
  if (!valohai) throw failures.valohaiNotSetUp();
  if (!bitbucket) throw failures.bitbucketNotSetUp();
  secrets.push(valohai.token, bitbucket.token);
  const first = connections[0]?.value.record;
  // A request Bitbucket holds (the token's hour spent) ends the check with whose token and until when, not a report of "no answer".
  const report = await withTokenHour(platform, bitbucket, tokenUser(bitbucket, summary), (token) => doctor({
    bitbucket: token,
    valohai: platform.makeValohai({ host: valohai.host, token: valohai.token }, LIMITS),
    valohaiHost: valohai.host,
    clock: platform.clock,
    workspace: context.workspaceId,
    ...(first ? { repository: first.repository, project: first.projectId } : {}),
    egress: {
      allowed: platform.valohaiOrigins,
      fix: `Whoever deploys the app adds the host (${VALOHAI_HOSTS_COMMAND} ${new URL(valohai.host).hostname}), runs npm run build and forge deploy; or save a Valohai host the app may call.`,
    },
    replace: { bitbucket: 'then save it under "Bitbucket API token" on this page.', valohai: 'then save it under "Valohai" on this page.' },
  }));
  return { ...report, checkedAt: platform.clock.now().toISOString() };
}
