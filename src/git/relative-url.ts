import { RelativeUrlError } from './errors';
import { redactUrl } from './redact-url';

/**
 * A submodule URL as git initialises it (`git submodule init`, `git submodule update --init`):
 * `./x` and `../x` are taken relative to the superproject's remote URL; anything else is used as
 * written. The rules are git 2.39's relative_url() (remote.c), kept to the letter, odd corners
 * included (`../` past an scp-style `host:` falls back to the `:` separator; a trailing `/` of the
 * result is dropped), because what Valohai's git fetches is what counts. Only `/` separates path
 * components, as on the Linux machines that fetch.
 *
 * Throws RelativeUrlError where git fails: `../` more often than the remote URL has components, or
 * an empty superproject URL.
 */
export function resolveSubmoduleUrl(superprojectUrl: string, submoduleUrl: string): string {
  if (!isRelativeSubmoduleUrl(submoduleUrl)) return submoduleUrl;
  if (!urlIsLocalNotSsh(submoduleUrl) || submoduleUrl.startsWith('/')) return submoduleUrl;
  if (superprojectUrl === '') {
    throw new RelativeUrlError(
      '',
      redactUrl(submoduleUrl),
      `The submodule URL "${redactUrl(submoduleUrl)}" is relative, but the superproject has no URL to resolve it against.`,
    );
  }

  let remote = superprojectUrl.endsWith('/') ? superprojectUrl.slice(0, -1) : superprojectUrl;
  const remoteIsRelative = urlIsLocalNotSsh(remote) && !remote.startsWith('/');
  if (remoteIsRelative && !remote.startsWith('./') && !remote.startsWith('../')) remote = `./${remote}`;

  let colonSeparated = false;
  let i = 0;
  for (;;) {
    if (submoduleUrl.startsWith('../', i)) {
      i += 3;
      const chopped = chopLastComponent(remote, remoteIsRelative);
      if (chopped === undefined) {
        throw new RelativeUrlError(
          redactUrl(superprojectUrl),
          redactUrl(submoduleUrl),
          `The submodule URL "${redactUrl(submoduleUrl)}" climbs above "${redactUrl(superprojectUrl)}" (too many "../"); ` +
            'git refuses it too. Remove a "../" or write the full URL, e.g. git@bitbucket.org:workspace/repo.git.',
        );
      }
      remote = chopped.rest;
      colonSeparated ||= chopped.colon;
    } else if (submoduleUrl.startsWith('./', i)) {
      i += 2;
    } else {
      break;
    }
  }
  const tail = submoduleUrl.slice(i);
  let out = `${remote}${colonSeparated ? ':' : '/'}${tail}`;
  if (tail.endsWith('/')) out = out.slice(0, -1);
  return out.startsWith('./') ? out.slice(2) : out;
}

/** Whether git treats the URL as relative to the superproject (either slash after the dots). */
export function isRelativeSubmoduleUrl(url: string): boolean {
  return /^\.\.?[/\\]/.test(url);
}

/** git's url_is_local_not_ssh() on Linux: no colon, or a slash before the first colon. */
function urlIsLocalNotSsh(url: string): boolean {
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  return colon < 0 || (slash >= 0 && slash < colon);
}

/** git's chop_last_dir(): drop the last `/` component, else the part after the last `:`. */
function chopLastComponent(url: string, isRelative: boolean): { rest: string; colon: boolean } | undefined {
  const slash = url.lastIndexOf('/');
  if (slash >= 0) return { rest: url.slice(0, slash), colon: false };
  const colon = url.lastIndexOf(':');
  if (colon >= 0) return { rest: url.slice(0, colon), colon: true };
  if (isRelative || url === '.') return undefined;
  return { rest: '.', colon: false };
}
