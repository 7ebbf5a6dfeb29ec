/**
 * Another connection of the same repository and Valohai project, made where this run keeps no record:
 * in the app, or with the CLI on another machine. Its access key carries the project's label; connect
 * and rotate would give Valohai a new key in place of the one that connection gave it, so they stop and
 * say so unless told to take it over (the CLI's --take-over, the app's Adopt).
 *
 * Who reads the words matters: the CLI's person runs the same command again with --take-over, the
 * app's chooses Adopt on the repository page. `runner` is whoever runs the workflow (the label it writes).
 */
import { fingerprintOf } from './record';
import { madeWhere, normaliseKey, type OtherKey, type TargetKeys } from './keys';
import type { LabelMaker } from './label';
import type { OtherConnectionKey, Warning } from './types';

function fingerprintOrNote(key: string): string {
  try {
    return fingerprintOf(key);
  } catch {
    return 'unreadable key';
  }
}

function describe(repository: string, others: OtherKey[], runner: LabelMaker): string {
  return others
    .map(({ key, maker }) => `access key ${key.id} "${key.label}" (${fingerprintOrNote(key.key)}) on ${repository}, ${madeWhere(maker, runner)}, last used ${key.lastUsed ?? 'never'}`)
    .join('; ');
}

/** Valohai's words on where it fetches, when that is this repository. */
function valohaiSays(projectName: string, fetchesHere: boolean): string {
  return fetchesHere ? ` Valohai project ${projectName} fetches this repository, most likely with that connection's key.` : '';
}

/** Where that connection's keys go once nothing uses them, as the runner's person can do it. */
function whereToRemove(others: OtherKey[], runner: LabelMaker): string {
  if (runner === 'cli') return others.some((o) => o.maker === 'app') ? 'in the app' : 'where it was made';
  return others.some((o) => o.maker === 'cli')
    ? "with the CLI's disconnect where that connection was made, or on each repository's access keys page once nothing uses them"
    : "on each repository's access keys page once nothing uses them";
}

/**
 * Whether a key labelled for the project that the record does not name stands for another connection
 * that connect would replace: Bitbucket saw it used after every key this run's record names there (with
 * no such key, ever used), so Valohai's last fetch may have used it. A key nobody used is a lookalike:
 * named in a warning, never in the way (Valohai keeps its settings' URL after a disconnect, so where it
 * fetches says nothing of whose key it holds, or whether it holds one).
 */
export function counts(other: OtherKey): boolean {
  return other.live;
}

export class OtherConnectionError extends Error {
  constructor(
    readonly repository: string,
    readonly projectName: string,
    readonly others: OtherKey[],
    fetchesHere: boolean,
    runner: LabelMaker = 'cli',
    action: 'connect' | 'rotate' = 'connect',
  ) {
    const found =
      `${repository} is already connected to Valohai project ${projectName} by a connection ${runner === 'cli' ? 'this CLI' : 'the app'} does not record: ` +
      `${describe(repository, others, runner)}.${valohaiSays(projectName, fetchesHere)}`;
    super(
      runner === 'cli'
        ? `${found} Going on would replace the key Valohai holds for it with a new one. Nothing was changed. ` +
            `To replace it, run the same command with --take-over (that connection's access keys then stay on Bitbucket until it is removed where it was made); ` +
            `or leave this connection to ${others.some((o) => o.maker === 'app') ? 'the app' : 'where it was made'}.`
        : action === 'rotate'
          ? // The app's own connection is here too, but Bitbucket saw the other's key used after the app's: Valohai fetches with it.
            `${found} Bitbucket saw that key used after the app's, so Valohai most likely fetches with it now. Rotating would replace it with the app's new key, ` +
            `so nothing was changed and the app's keys stay as they are. ` +
            `If that connection is no longer wanted, ${others.some((o) => o.maker === 'cli') ? "remove it with the CLI's disconnect where it was made" : 'remove its keys'}, then rotate here.`
          : `${found} Connecting would replace the key Valohai holds for it with a new one, so nothing was changed. ` +
            `To move the connection to the app, choose Adopt: the app makes its own key, gives it to Valohai and checks that Valohai fetches with it. ` +
            `That connection's access keys stay on Bitbucket: remove them ${whereToRemove(others, runner)}.`,
    );
    this.name = 'OtherConnectionError';
  }
}

/** What a take-over replaces (or, on a dry run, would): said in the result, never silently done. */
export function takeOverWarning(repository: string, projectName: string, others: OtherKey[], dryRun: boolean, runner: LabelMaker = 'cli'): Warning {
  const what = describe(repository, others, runner);
  if (runner === 'app') {
    return {
      code: 'other-connection',
      repository,
      message:
        `Adopted the connection made ${others.some((o) => o.maker === 'cli') ? 'with the CLI' : 'outside the app'} (${what}): Valohai project ${projectName} now holds the app's new key. ` +
        `That connection's access keys stay on Bitbucket: remove them ${whereToRemove(others, runner)}.`,
    };
  }
  return {
    code: 'other-connection',
    repository,
    message: dryRun
      ? `--take-over would replace the key Valohai project ${projectName} holds for the other connection (${what}) with a new one; its access keys would stay on Bitbucket.`
      : `Took over from the other connection (${what}): Valohai project ${projectName} now holds the new key. ` +
        `That connection's access keys stay on Bitbucket; remove it ${whereToRemove(others, runner)} once it is no longer wanted.`,
  };
}

/**
 * The other connection's keys as a result carries them: each key found on the repository with every
 * target that holds it too (the same public key), so a page can name the repositories it is on.
 */
export function otherConnectionKeys(others: OtherKey[], targetKeys: TargetKeys[]): OtherConnectionKey[] {
  return others.map(({ key, maker, live }) => {
    const wanted = normaliseKey(key.key);
    const repositories = targetKeys.flatMap(({ target, keys }) =>
      keys.filter((k) => normaliseKey(k.key) === wanted).map((k) => ({ repository: `${target.workspace}/${target.slug}`, id: k.id, lastUsed: k.lastUsed })),
    );
    return { label: key.label, fingerprint: fingerprintOrNote(key.key), maker, live, lastUsed: key.lastUsed, repositories };
  });
}
