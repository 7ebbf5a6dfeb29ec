/**
 * connect and rotate as callers start them: one run per repository at a time (the lock), with a key
 * pair the app makes (install.ts) or, given `publicKey`, with a key Valohai made (given-key.ts).
 */
import { installGiven } from './given-key';
import { installLocked, lockName, type ConnectInput } from './install';
import type { WorkflowDeps } from './ports';
import type { ProgressSink, WorkflowResult } from './types';

const noop: ProgressSink = () => {};

export async function install(
  deps: WorkflowDeps,
  input: ConnectInput,
  mode: 'connect' | 'rotate',
  progress: ProgressSink = noop,
): Promise<WorkflowResult> {
  const { publicKey } = input;
  const run = () => (publicKey === undefined ? installLocked(deps, input, mode, progress) : installGiven(deps, { ...input, publicKey }, mode, progress));
  return deps.lock ? deps.lock.withLock(lockName(input), run) : run();
}

export const connect = (deps: WorkflowDeps, input: ConnectInput, progress?: ProgressSink) => install(deps, input, 'connect', progress);

export const rotate = (deps: WorkflowDeps, input: ConnectInput, progress?: ProgressSink) => install(deps, input, 'rotate', progress);
