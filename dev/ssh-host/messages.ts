/**
 * What Bitbucket's git host writes on the SSH error stream when it refuses a request. A git client
 * shows these lines as they are, followed by its own "fatal: Could not read from remote repository."
 */

export const KEY_NOT_ON_REPOSITORY =
  'repository access denied. deployment key is not associated with the requested repository.';

export const ACCESS_KEY_READ_ONLY = 'repository access denied. access via a deployment key is read-only.';

export const INVALID_COMMAND = 'invalid command syntax.';

export function repositoryNotFound(workspace: string, slug: string): string {
  return `Repository not found: there is no repository ${workspace}/${slug}. Check the workspace and repository name in the URL.`;
}

/** The answer to `ssh -T git@host` (a shell request): who you are, and that only git works. */
export function shellGreeting(repositories: string[] | undefined): string {
  const lines = ['authenticated via a deploy key.', '', 'You can use git to connect to Bitbucket. Shell access is disabled.'];
  if (repositories && repositories.length) {
    lines.push('', 'This deploy key has read access to the following repositories:', ...repositories);
  }
  return `${lines.join('\n')}\n`;
}
