/** How a page reads the workspace's latest run of fleet work: the access-key audit, or a bulk action. */
import { workspaceAdmin } from '../access/authorize';
import type { ForgePlatform, TrustedContext } from '../platform/ports';
import { bareUuid } from '../store/keys';

export interface FleetRun<State, Payload, View> {
  load(platform: ForgePlatform, ws: string): Promise<State | undefined>;
  /** Gives a run whose step died, or whose queued message was lost, a new step. */
  wakeIfStalled(platform: ForgePlatform, ws: string, state: State): Promise<void>;
  view(platform: ForgePlatform, ws: string, state: State, payload: Payload): Promise<View>;
}

/**
 * The latest run as a workspace admin sees it, null when there is none. Looking wakes a stalled run:
 * an admin who watches the page is the one who would notice it stopped.
 */
export async function latestRunView<State, Payload, View>(
  platform: ForgePlatform,
  context: TrustedContext,
  run: FleetRun<State, Payload, View>,
  payload: Payload,
): Promise<View | null> {
  await workspaceAdmin(platform, context);
  const ws = bareUuid(context.workspaceId, 'workspace');
  const state = await run.load(platform, ws);
  if (!state) return null;
  await run.wakeIfStalled(platform, ws, state);
  return run.view(platform, ws, state, payload);
}
