/**
 * What connect and rotate write of a connection: the record the adapters keep (store, CLI state file),
 * written once a key is in place everywhere, and the new key noted in it before it is added anywhere, so
 * that a key a failed run could not take back is still known to be the connection's.
 */
import { parsePublicKey } from '../ssh/index';
import type { Plan } from './discover';
import { normaliseKey } from './keys';
import type { ConnectionRecord, GeneratedKey, ValohaiProjectInfo, WorkflowDeps } from './ports';
import type { Saga } from './saga';
import type { RecordedKeyType, WorkflowResult } from './types';

export function fingerprintOf(line: string): string {
  return parsePublicKey(line).fingerprint;
}

/** The connection as it stands once the key is on every target that answered: its record, written whole. */
export async function remember(
  deps: WorkflowDeps,
  plan: Plan,
  project: ValohaiProjectInfo,
  publicKey: string,
  keyType: RecordedKeyType,
  label: string,
  createdAt: Date,
  result: WorkflowResult,
  submodules: boolean,
  retired: string[] = [],
  keySource?: 'valohai',
): Promise<void> {
  await deps.store?.put({
    repository: plan.repository.fullName,
    projectId: project.id,
    projectName: project.name,
    fingerprint: fingerprintOf(publicKey),
    publicKey: normaliseKey(publicKey),
    keyType,
    label,
    createdAt: createdAt.toISOString(),
    ref: plan.ref,
    submodules,
    targets: result.accessKeys
      .filter((a) => a.status === 'added' || a.status === 'present')
      .map((a) => ({ repository: a.repository, keyId: a.id })),
    ...(retired.length ? { retired } : {}),
    ...(keySource ? { keySource } : {}),
  });
}

/**
 * Writes the new key into the record before it is added anywhere, as a retired key when the connection
 * already has a current one; undone (the record put back as it was) when the workflow is undone.
 */
export async function noteKey(
  deps: WorkflowDeps,
  saga: Saga,
  plan: Plan,
  project: ValohaiProjectInfo,
  remembered: ConnectionRecord | undefined,
  key: Pick<GeneratedKey, 'publicKey' | 'fingerprint'> & { type: RecordedKeyType },
  label: string,
  now: Date,
  submodules: boolean,
  keySource?: 'valohai',
): Promise<void> {
  const store = deps.store;
  if (!store) return;
  const publicKey = normaliseKey(key.publicKey);
  const noted: ConnectionRecord = remembered
    ? { ...remembered, retired: [...new Set([...(remembered.retired ?? []), publicKey])] }
    : {
        repository: plan.repository.fullName,
        projectId: project.id,
        projectName: project.name,
        fingerprint: key.fingerprint,
        publicKey,
        keyType: key.type,
        label,
        createdAt: now.toISOString(),
        ref: plan.ref,
        submodules,
        targets: [],
        ...(keySource ? { keySource } : {}),
      };
  await store.put(noted);
  saga.onUndo('record-key', 'the record of the new key', () =>
    remembered ? store.put(remembered) : store.delete(plan.repository.fullName, project.id),
  );
}
