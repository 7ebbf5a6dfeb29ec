/**
 * Who may put the connection's key where. Repository content (`.gitmodules`) chooses the targets, so
 * it is input, never authority: before anything changes, every target is put to an `Authority`, which
 * answers for the person acting. One refused target stops the whole workflow, before any key or
 * Valohai setting changes, with each refusal named and the way out.
 */
import { Refusal } from './refusal';
import type { Target } from './types';

export type RefusalReason =
  /** The person acting does not administer the repository. */
  | 'not-admin'
  /** In another workspace that no workspace admin has allowed. */
  | 'other-workspace'
  /** Could not be checked (the answer was refused or did not come). */
  | 'unchecked';

export interface TargetVerdict {
  /** `workspace/slug`. */
  repository: string;
  allowed: boolean;
  reason?: RefusalReason;
  /** The sentence after the repository's name: why, and who can fix it. */
  message?: string;
}

/**
 * Decides, for the person acting, which targets the key may go on. The CLI runs with the caller's own
 * API token, so Bitbucket itself is the authority there (`ownCredentials`); the Forge app acts with a
 * workspace admin's lent token and asks Bitbucket about the person who started the action.
 */
export interface Authority {
  check(targets: Target[]): Promise<TargetVerdict[]>;
}

/** The CLI: every request is made with the caller's own token, and Bitbucket refuses what they may not do. */
export const ownCredentials: Authority = {
  check: async (targets) => targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, allowed: true })),
};

export class NotAuthorisedError extends Refusal {
  constructor(readonly refused: (TargetVerdict & { via: string })[]) {
    const lines = refused.map((v) => `  - ${v.repository}${v.via === 'superproject' ? '' : ` (submodule ${v.via})`}: ${v.message ?? 'not allowed.'}`);
    const submodules = refused.some((v) => v.via !== 'superproject');
    super(
      `Nothing was changed: the key may not go on ${refused.length === 1 ? 'this repository' : 'these repositories'}:\n${lines.join('\n')}`,
      submodules
        ? 'Ask the admin of each repository named to connect it, or connect this repository only (without submodules; --no-submodules on the CLI).'
        : 'Ask an admin of this repository to connect it.',
      '\n',
    );
    this.name = 'NotAuthorisedError';
  }
}

/** Puts every target to the authority; throws NotAuthorisedError naming each one refused. */
export async function authorise(authority: Authority, targets: Target[]): Promise<void> {
  const refused = refusedTargets(targets, await authority.check(targets));
  if (refused.length) throw new NotAuthorisedError(refused);
}

/** The targets `verdicts` do not allow, each with its verdict and how it was reached. */
export function refusedTargets(targets: Target[], verdicts: TargetVerdict[]): (TargetVerdict & { via: string })[] {
  const byName = new Map(verdicts.map((v) => [v.repository.toLowerCase(), v]));
  return targets.flatMap((t) => {
    const v = byName.get(t.key);
    // A target the authority did not answer for is refused: silence is not consent.
    if (!v) return [{ repository: `${t.workspace}/${t.slug}`, allowed: false, reason: 'unchecked' as const, message: 'could not be checked.', via: t.via }];
    return v.allowed ? [] : [{ ...v, via: t.via }];
  });
}

/**
 * Work that nobody started (a scheduled or automatic rotation, each item of a bulk action, a repair)
 * may only restore what a person granted: the key goes back on the repositories the connection records,
 * and never on one `.gitmodules` named since, whoever pushed it. Such a repository stops the work
 * before anything changes; a person's own action (connect again, rotate), which checks that they
 * administer it, is the way to add it.
 */
export class TargetsGrewError extends Refusal {
  constructor(readonly added: { repository: string; via: string }[]) {
    const lines = added.map((t) => `  - ${t.repository}${t.via === 'superproject' ? '' : ` (submodule ${t.via})`}`);
    super(
      `Nothing was changed: since a person last connected or rotated this connection, Valohai would also need ${added.length === 1 ? 'this repository' : 'these repositories'}, which ${added.length === 1 ? 'does' : 'do'} not hold the connection's key:\n${lines.join('\n')}\n` +
        'Work nobody started gives the key to no repository a person has not chosen.',
      'An admin of each repository named can add it by rotating the connection from its repository page (or by connecting again with the CLI), which checks that they administer it; or remove the submodule.',
      '\n',
    );
    this.name = 'TargetsGrewError';
  }
}

/** The discovered targets a record does not hold: those a person has not chosen for the key. */
export function unrecordedTargets<T extends { key: string }>(targets: T[], recorded: { repository: string }[] | undefined): T[] {
  const known = new Set((recorded ?? []).map((t) => t.repository.toLowerCase()));
  return targets.filter((t) => !known.has(t.key));
}
