/**
 * The access keys a disconnect without an API token left on Bitbucket. The app cannot list or remove
 * keys without the token, so the job's to-do list is kept here, shown on the repository page on every
 * load, until an admin says the keys are removed. A second run of the same job writes the same list.
 */
import type { LeftByHandView } from '../contract';
import type { RecordStore } from '../platform/ports';
import { keys } from './keys';

export function saveLeftByHand(store: RecordStore, ws: string, repo: string, left: LeftByHandView): Promise<void> {
  return store.set(keys.leftByHand(ws, repo), left);
}

export async function loadLeftByHand(store: RecordStore, ws: string, repo: string): Promise<LeftByHandView | undefined> {
  const left = await store.get<LeftByHandView>(keys.leftByHand(ws, repo));
  return left && Array.isArray(left.repositories) && left.repositories.length ? left : undefined;
}

/** True when there was a list to forget. */
export async function dismissLeftByHand(store: RecordStore, ws: string, repo: string): Promise<boolean> {
  const had = (await loadLeftByHand(store, ws, repo)) !== undefined;
  await store.delete(keys.leftByHand(ws, repo));
  return had;
}
