/**
 * Workspace-level reads about another account, made as the app: which role an account holds in a
 * workspace. Automatic work acts for the account that made a connection and asks this first, so that a
 * demoted account, or one the workspace's "who may connect" no longer lets act, stops it.
 */
import { encodePathSegment } from '../http/path';
import { errorForResponse, malformedResponse, type RequestContext } from './errors';
import type { BitbucketTransport } from './transport';

export type WorkspaceRole = 'owner' | 'collaborator' | 'member' | 'none';

const bbql = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** `accountId`'s role in `workspace` (slug or `{uuid}`); 'none' when the account is no member. Throws on any other failure. */
export async function accountWorkspaceRole(transport: BitbucketTransport, workspace: string, accountId: string): Promise<WorkspaceRole> {
  const ctx: RequestContext = { action: 'reading the role of the account that made the connection', idempotent: true };
  const q = encodeURIComponent(`user.account_id=${bbql(accountId)}`);
  const res = await transport.request({ method: 'GET', path: `/workspaces/${encodePathSegment(workspace, 'workspace')}/permissions?q=${q}` });
  if (res.status !== 200) throw errorForResponse(res, ctx);
  let values: unknown;
  try {
    values = (JSON.parse(res.text) as { values?: unknown }).values;
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values)) throw malformedResponse(ctx, res.status);
  const mine = (values as Record<string, unknown>[]).find((v) => (v.user as { account_id?: unknown } | undefined)?.account_id === accountId);
  const role = mine?.permission;
  return role === 'owner' || role === 'collaborator' || role === 'member' ? role : 'none';
}
