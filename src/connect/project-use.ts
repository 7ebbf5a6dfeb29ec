/**
 * One Valohai project, one repository. A project's repository settings say which code Valohai fetches
 * and runs with that project's secrets, so pointing them at another repository is a takeover unless
 * someone who may decide it asked for it. The engine reads the settings before it writes them: a URL
 * naming another repository stops connect and rotate, and disconnect then leaves Valohai alone.
 */
import { parseRepoUrl } from '../git/index';
import { inert } from '../http/inert';
import type { RepositoryInfo } from './ports';
import { Refusal } from './refusal';
import type { Warning } from './types';

/** The lower-case `workspace/slug` a Bitbucket URL names, or the trimmed URL for anything else. */
function repositoryKey(url: string): string {
  try {
    const parsed = parseRepoUrl(url);
    if (parsed.isBitbucket && parsed.key) return parsed.key;
    return parsed.display.toLowerCase();
  } catch {
    return url.trim().toLowerCase();
  }
}

/**
 * The URL Valohai's project fetches, when it names a repository other than `repository`; undefined when
 * the project fetches nothing yet or fetches this repository (in any URL form).
 */
export function fetchesElsewhere(fetched: string | null | undefined, repository: Pick<RepositoryInfo, 'fullName'>): string | undefined {
  const url = fetched?.trim();
  if (!url) return undefined;
  if (repositoryKey(url) === repository.fullName.toLowerCase()) return undefined;
  return inert(url);
}

/** Said on a connection whose project now fetches `fetches`. */
export function projectMovedWarning(project: string, fetches: string): Warning {
  return {
    code: 'project-moved',
    message: `Valohai project ${project} now fetches ${fetches}, not this repository: this connection's key is no longer used. Disconnect to remove its access keys.`,
  };
}

/** Connect would re-point a project that fetches another repository, and nobody confirmed the move. */
export class ProjectInUseError extends Refusal {
  constructor(
    readonly project: string,
    readonly fetches: string,
  ) {
    super(
      `Nothing was changed: Valohai project ${project} fetches ${fetches}. Connecting would make it fetch and run this ` +
        `repository's code, with that project's secrets.`,
      'Choose another project or create a new one. To move the project here on purpose, confirm the move ' +
        '(--move-project on the CLI; a workspace admin on the settings page).',
    );
    this.name = 'ProjectInUseError';
  }
}

/** Rotate on a project that now fetches another repository would take it back: it stops instead. */
export class ProjectMovedError extends Refusal {
  constructor(
    readonly project: string,
    readonly fetches: string,
  ) {
    super(
      `Nothing was changed: Valohai project ${project} now fetches ${fetches}, not this repository, so this ` +
        `connection's key is no longer used there.`,
      'Disconnect to remove its access keys, or connect again to another project.',
    );
    this.name = 'ProjectMovedError';
  }
}
