/**
 * Another connection of the same repository and Valohai project, made where this run keeps no record:
 * in the app, or with the CLI on another machine. Its access key carries the project's label; connect
 * and rotate would give Valohai a new key in place of the one that connection gave it, so they stop and
 * say so unless told to take it over.
 */
import { fingerprintOf } from './record';
import { madeWhere, type OtherKey } from './keys';
import type { Warning } from './types';

function describe(repository: string, others: OtherKey[]): string {
  return others
    .map(({ key, maker }) => `access key ${key.id} "${key.label}" (${fingerprintOf(key.key)}) on ${repository}, ${madeWhere(maker)}, last used ${key.lastUsed ?? 'never'}`)
    .join('; ');
}

/** Valohai's words on where it fetches, when that is this repository. */
function valohaiSays(projectName: string, fetchesHere: boolean): string {
  return fetchesHere ? ` Valohai project ${projectName} fetches this repository, most likely with that connection's key.` : '';
}

export class OtherConnectionError extends Error {
  constructor(
    readonly repository: string,
    readonly projectName: string,
    readonly others: OtherKey[],
    fetchesHere: boolean,
  ) {
    super(
      `${repository} is already connected to Valohai project ${projectName} by a connection this CLI does not record: ${describe(repository, others)}.` +
        `${valohaiSays(projectName, fetchesHere)} Going on would replace the key Valohai holds for it with a new one. Nothing was changed. ` +
        `To replace it, run the same command with --take-over (that connection's access keys then stay on Bitbucket until it is removed where it was made); ` +
        `or leave this connection to ${others.some((o) => o.maker === 'app') ? 'the app' : 'where it was made'}.`,
    );
    this.name = 'OtherConnectionError';
  }
}

/** What a take-over replaces (or, on a dry run, would): said in the result, never silently done. */
export function takeOverWarning(repository: string, projectName: string, others: OtherKey[], dryRun: boolean): Warning {
  const app = others.some((o) => o.maker === 'app');
  return {
    code: 'other-connection',
    repository,
    message: dryRun
      ? `--take-over would replace the key Valohai project ${projectName} holds for the other connection (${describe(repository, others)}) with a new one; its access keys would stay on Bitbucket.`
      : `Took over from the other connection (${describe(repository, others)}): Valohai project ${projectName} now holds the new key. ` +
        `That connection's access keys stay on Bitbucket; remove it ${app ? 'in the app' : 'where it was made'} once it is no longer wanted.`,
  };
}
