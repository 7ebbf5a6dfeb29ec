/**
 * The engine's ConnectionStore over the record store, for one repository. The app keeps one
 * connection per repository, keyed by the repository's UUID, so the engine's `workspace/slug` only
 * has to agree on the project: a renamed repository still finds its connection.
 */
import { ageDays, type ConnectionRecord, type ConnectionStore } from '../../connect/index';
import { createHash } from 'node:crypto';
import { keys } from './keys';
import type { RecordStore } from '../platform/ports';
import type { StoredConnection } from './records';

/** The connection's key age in whole days, null when its record does not say when the key was made. */
export function keyAgeOf(connection: StoredConnection, now: Date): number | null {
  return ageDays(connection.record.createdAt, now);
}

/** Whether the connection's key is at least `days` old (a key of unknown age is not). */
export function keyIsOld(connection: StoredConnection, days: number, now: Date): boolean {
  const age = keyAgeOf(connection, now);
  return age !== null && age >= days;
}

export interface ConnectionDefaults {
  submodules: boolean;
  projectOwner: string | null;
  /** The account a connect job runs for: recorded as the connection's maker (StoredConnection.connectedBy). */
  connectedBy?: string;
}

export class KvConnectionStore implements ConnectionStore {
  private readonly key: string;

  constructor(
    private readonly store: RecordStore,
    private readonly workspaceUuid: string,
    private readonly repositoryUuid: string,
    private readonly defaults: ConnectionDefaults,
  ) {
    this.key = keys.connection(workspaceUuid, repositoryUuid);
  }

  load(): Promise<StoredConnection | undefined> {
    return this.store.get<StoredConnection>(this.key);
  }

  save(connection: StoredConnection): Promise<void> {
    return this.store.set(this.key, connection);
  }

  async get(_repository: string, projectId: string): Promise<ConnectionRecord | undefined> {
    const stored = await this.load();
    return stored && stored.record.projectId === projectId ? stored.record : undefined;
  }

  /** The engine wrote a key it manages with the API token: from now on this is an automatic connection. */
  async put(record: ConnectionRecord): Promise<void> {
    const stored = await this.load();
    const same = stored && stored.record.projectId === record.projectId ? stored : undefined;
    await this.save({
      workspaceUuid: this.workspaceUuid,
      repositoryUuid: this.repositoryUuid,
      mode: 'automatic',
      state: 'connected',
      submodules: same?.submodules ?? this.defaults.submodules,
      projectOwner: this.defaults.projectOwner ?? same?.projectOwner ?? null,
      publicKeyLine: null,
      manualTargets: [],
      warnings: same?.warnings ?? [],
      verifiedAt: same && same.record.publicKey === record.publicKey ? same.verifiedAt : null,
      lastPushFetch: same?.lastPushFetch ?? null,
      // Until the workflow records its own fetch; a rotation undone puts the old key back with its state.
      lastFetch: same?.lastFetch ?? null,
      connectedBy: this.defaults.connectedBy ?? same?.connectedBy ?? null,
      // What the checks and pushes learnt stays true across a rotation: `.gitmodules` as the last push
      // read it, and the repositories Valohai no longer fetches.
      ...(same?.gitmodulesHash !== undefined ? { gitmodulesHash: same.gitmodulesHash } : {}),
      ...(same?.unneededTargets ? { unneededTargets: same.unneededTargets } : {}),
      record,
    });
  }

  async delete(_repository: string, projectId: string): Promise<void> {
    const stored = await this.load();
    if (stored && stored.record.projectId === projectId) await this.store.delete(this.key);
  }
}

/** What StoredConnection.gitmodulesHash keeps of a `.gitmodules` (undefined: the file is absent). */
export function gitmodulesHash(text: string | undefined): string {
  return `sha256:${createHash('sha256').update(text ?? '').digest('hex')}`;
}
