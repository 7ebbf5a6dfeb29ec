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

const GIT_URL = /(git@[^\s'":]+:[^\s'"]+?|ssh:\/\/[^\s'"]+?|https?:\/\/[^\s'"]+?)(?:\.git)?['"\s]/;

/** The repository git was working on when it failed: a failed submodule clone names it best. */
function failingUrl(text: string): string | undefined {
  const clone = /clone of '([^']+)'/.exec(text)?.[1];
  if (clone) return clone.replace(/\.git$/, '');
  const host = /(git@[^\s:]+): Permission denied/.exec(text)?.[1];
  if (host) return host;
  return GIT_URL.exec(`${text} `)?.[1];
}

/** Explains one line of Valohai's fetch `errors`, naming the repository when git named it. */
export function explainFetchError(text: string, context: { ref: string; sshUrl: string }): string {
  const url = failingUrl(text);
  const where = url ? ` (${url})` : '';
  if (url && !/bitbucket\.org/i.test(url) && /Permission denied|could not read|not allowed/i.test(text)) {
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
    return (
      `Valohai's key was refused by Bitbucket${where}: that repository does not have the connection's access key. ` +
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
