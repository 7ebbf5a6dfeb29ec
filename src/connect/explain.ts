/**
 * Turns failures into sentences that say what happened and the exact fix. Client errors already carry
 * such messages; git's own texts from Valohai's fetch are recognised here, because they are what people
 * meet most (Valohai's troubleshooting list).
 */

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True when a failed write certainly did not happen (the server refused it), so undo can assume so. */
export function refusedOutright(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

// A repository address with a path: ssh://…, https://…, or scp-like user@host:path. ssh's own
// "user@host: Permission denied" names the host it connected to, with a space after the colon and no
// path, and so is never taken for a repository (behind a proxy or an alias it is not even the
// repository's host).
const URL_WITH_PATH = /(?:ssh|https?|git):\/\/[^\s'"]+|[\w.+-]+@[\w.-]+:(?![\s/\\])[^\s'"]+/g;

/** An address as git printed it, without the sentence's punctuation after it and without `.git`. */
function trimUrl(url: string): string {
  return url.replace(/[:.,;)\]]+$/, '').replace(/\/+$/, '').replace(/\.git$/, '');
}

/** The host of a repository address. */
export function urlHost(url: string): string | undefined {
  const scp = /^[\w.+-]+@([\w.-]+):/.exec(url);
  if (scp) return scp[1]?.toLowerCase();
  try {
    return new URL(url).hostname.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The repository git was working on when it failed, from git's own words: a failed submodule clone
 * names it best, then a repository git quotes, then the first repository address in the text.
 */
export function failingUrl(text: string): string | undefined {
  const clone = /clone of '([^']+)'/.exec(text)?.[1];
  if (clone) return trimUrl(clone);
  const quoted = /(?:repository|unable to access) '([^']+)'/.exec(text)?.[1];
  if (quoted) return trimUrl(quoted);
  const first = text.match(URL_WITH_PATH)?.[0];
  return first ? trimUrl(first) : undefined;
}

const isBitbucket = (host: string | undefined) => host === 'bitbucket.org' || host === 'altssh.bitbucket.org';

/** Explains one line of Valohai's fetch `errors`, naming the repository when git named it. */
export function explainFetchError(text: string, context: { ref: string; sshUrl: string }): string {
  const url = failingUrl(text);
  const where = url ? ` (${url})` : '';
  const host = url ? urlHost(url) : undefined;
  const reach = /ssh: connect to host (\S+) port (\d+): (.+)/.exec(text) ?? /ssh: Could not resolve hostname ([^\s:]+)(): (.+)/.exec(text);
  if (reach) {
    const why = (reach[3] ?? '').trim().replace(/\.$/, '').toLowerCase();
    return (
      `Valohai could not reach ${reach[1]} over SSH${where}: ${why}. ` +
      `Nothing is wrong with the key; check Bitbucket's status (https://bitbucket.status.atlassian.com), then verify again.`
    );
  }
  if (url && host && !isBitbucket(host) && /Permission denied|could not read|not allowed/i.test(text)) {
    return (
      `Valohai could not fetch ${url}: it is not on Bitbucket Cloud, so this connection cannot give it an access key. ` +
      `Make that repository reachable for Valohai another way, or remove the submodule.`
    );
  }
  if (/could not read Username|Authentication failed/i.test(text)) {
    return (
      `Valohai could not fetch a private repository over https${where}: an SSH key cannot be used for https URLs. ` +
      `Change that submodule's url in .gitmodules to the git@bitbucket.org:workspace/repo.git form.`
    );
  }
  if (/Permission denied \(publickey\)|deployment key is not associated/i.test(text)) {
    // Without git naming another repository, the one refused is the one Valohai fetches.
    const refused = url ?? trimUrl(context.sshUrl);
    return (
      `Valohai's key was refused by Bitbucket (${refused}): that repository does not have the connection's access key. ` +
      `Run connect again to add the key to every submodule repository, or add it on that repository's access-keys page.`
    );
  }
  if (/Repository not found|does not appear to be a git repository/i.test(text)) {
    return (
      `A repository Valohai fetches does not exist or was renamed${where}. ` +
      `Check the submodule URL in .gitmodules (and the repository URL ${context.sshUrl}).`
    );
  }
  if (/invalid format|error in libcrypto|load key/i.test(text)) {
    return (
      `Valohai could not read the private key${where}. Rotate to an RSA key (the default, --key-type rsa), ` +
      `which Valohai documents.`
    );
  }
  if (/couldn't find remote ref|not our ref|unknown revision|did not match any/i.test(text)) {
    return `The fetch reference "${context.ref}" does not exist on Bitbucket. Connect again with --ref set to an existing branch.`;
  }
  if (/Host key verification failed/i.test(text)) {
    return `Valohai did not trust Bitbucket's SSH host key. This is on Valohai's side; retry later or contact Valohai support.`;
  }
  return `Valohai's fetch reported: ${text.trim()}`;
}
