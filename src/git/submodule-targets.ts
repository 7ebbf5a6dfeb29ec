import { inert } from '../http/inert';
import { InvalidRepoUrlError, RelativeUrlError } from './errors';
import type { Submodule } from './gitmodules';
import { redactUrl } from './redact-url';
import { resolveSubmoduleUrl } from './relative-url';
import { BITBUCKET_HOST, parseRepoUrl, toSshUrl } from './repo-url';

/** A Bitbucket repository a submodule points to: it needs the connection's access key too. */
export interface SubmoduleTarget {
  workspace: string;
  slug: string;
  /** Lower-case `workspace/slug`. */
  key: string;
  path?: string;
  name: string;
  /**
   * The URL git will fetch, relative URLs resolved; nested submodules resolve against it. For an
   * https submodule, the SSH URL it should have instead, so that its own relative submodules are not
   * reported again for a URL that changes with the fix.
   */
  url: string;
  /**
   * The https URL git fetches, when every submodule naming the repository uses https: a public
   * repository is then fetched without any key, and its own relative submodules resolve against it.
   */
  httpsUrl?: string;
}

export type SubmoduleWarningCode = 'https-submodule' | 'foreign-host' | 'missing-url' | 'invalid-url';

export interface SubmoduleWarning {
  code: SubmoduleWarningCode;
  message: string;
  /** Name of the submodule the warning is about. */
  submodule: string;
  /** `.gitmodules` line to change. */
  line?: number;
  /** Lower-case `workspace/slug` of the repository the warning is about, when it names one. */
  repository?: string;
}

export interface SubmoduleTargets {
  targets: SubmoduleTarget[];
  warnings: SubmoduleWarning[];
}

/**
 * Turns the submodules of a superproject into the Bitbucket repositories that need its access key,
 * and warnings for what an SSH key cannot serve: https URLs (the repo is still a target: only the
 * `.gitmodules` line must change), other hosts (never touched), missing or unusable URLs.
 * Repositories reached by more than one submodule are listed once, under the first.
 */
export function submoduleTargets(superprojectUrl: string, submodules: readonly Submodule[]): SubmoduleTargets {
  const targets = new Map<string, SubmoduleTarget>();
  const warnings: SubmoduleWarning[] = [];

  for (const sub of submodules) {
    const label = describe(sub);
    const line = sub.urlLine ?? sub.line;
    const warn = (code: SubmoduleWarningCode, message: string): void => {
      warnings.push({ code, message, submodule: sub.name, line });
    };

    if (sub.url === undefined || sub.url.trim() === '') {
      warn(
        'missing-url',
        `${label} has no url, so git cannot fetch it. Add a line under [submodule "${short(sub.name)}"] (line ${sub.line}): ` +
          `url = git@${BITBUCKET_HOST}:workspace/repo.git`,
      );
      continue;
    }
    if (sub.url.startsWith('-')) {
      // git ignores such URLs: they could be read as command-line options.
      warn('invalid-url', `${label} has a url starting with "-" (line ${line}), which git ignores. Write the repository URL, e.g. url = git@${BITBUCKET_HOST}:workspace/repo.git`);
      continue;
    }

    let resolved: string;
    try {
      resolved = resolveSubmoduleUrl(superprojectUrl, sub.url);
    } catch (err) {
      if (!(err instanceof RelativeUrlError)) throw err;
      warn('invalid-url', `${label} (line ${line}): ${err.message}`);
      continue;
    }

    let parsed;
    try {
      parsed = parseRepoUrl(resolved);
    } catch (err) {
      if (!(err instanceof InvalidRepoUrlError)) throw err;
      const ssh = err.reason === 'unsupported-scheme' ? bitbucketSshFormOf(resolved) : undefined;
      warn('invalid-url', `${label} (line ${line}): ${err.message}${ssh ? ` Change line ${line} to: url = ${ssh}` : ''}`);
      continue;
    }

    if (!parsed.isBitbucket) {
      const alias = parsed.host.includes('bitbucket')
        ? ` If "${parsed.host}" is an SSH config alias for Bitbucket, Valohai cannot use it: write url = ${
            bitbucketSshFormOf(`https://${BITBUCKET_HOST}/${parsed.path}`) ?? `git@${BITBUCKET_HOST}:workspace/repo.git`
          } instead.`
        : '';
      warn(
        'foreign-host',
        `${label} is on ${parsed.host}, not Bitbucket Cloud (line ${line}); this connection does not manage its access. ` +
          `Make sure Valohai can fetch it another way.${alias}`,
      );
      continue;
    }
    if (parsed.workspace === undefined || parsed.slug === undefined || parsed.key === undefined) {
      warn(
        'invalid-url',
        `${label} has the url "${parsed.display}" (line ${line}), which does not name a Bitbucket repository. ` +
          `Write url = git@${BITBUCKET_HOST}:workspace/repo.git`,
      );
      continue;
    }

    const sshForm = parsed.protocol === 'ssh' ? resolved : toSshUrl(parsed);
    if (parsed.protocol !== 'ssh') {
      warnings.push({
        code: 'https-submodule',
        message:
          `${label} uses ${parsed.protocol}:// ("${redactUrl(sub.url)}"), which Valohai cannot fetch with an SSH access key. ` +
          `Change .gitmodules line ${line} to: url = ${sshForm}`,
        submodule: sub.name,
        line,
        repository: parsed.key,
      });
    }
    const https = parsed.protocol === 'https' ? resolved : undefined;
    const known = targets.get(parsed.key);
    if (!known) {
      const target: SubmoduleTarget = {
        workspace: parsed.workspace,
        slug: parsed.slug,
        key: parsed.key,
        name: sub.name,
        url: sshForm,
      };
      if (sub.path !== undefined) target.path = sub.path;
      if (https !== undefined) target.httpsUrl = https;
      targets.set(parsed.key, target);
    } else if (https === undefined) {
      delete known.httpsUrl; // another submodule fetches it over SSH: that one needs the key
    }
  }
  return { targets: [...targets.values()], warnings };
}

/** The Bitbucket SSH URL for the same path under another scheme, if it names a repository. */
function bitbucketSshFormOf(url: string): string | undefined {
  try {
    const parsed = parseRepoUrl(url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, 'https://'));
    return parsed.isBitbucket && parsed.workspace !== undefined ? toSshUrl(parsed) : undefined;
  } catch {
    return undefined;
  }
}

function describe(sub: Submodule): string {
  const name = short(sub.name);
  return sub.path !== undefined && sub.path !== sub.name ? `Submodule "${name}" (${short(sub.path)})` : `Submodule "${name}"`;
}

/** A name or path from `.gitmodules` as messages show it: cut short, control characters made visible. */
function short(text: string): string {
  return inert(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
