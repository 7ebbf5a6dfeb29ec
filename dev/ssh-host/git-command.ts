/**
 * Reads the command a git client runs over SSH (`git-upload-pack 'ws/repo.git'`) into the service and
 * the repository it names. Accepts the spellings git and people use: `git upload-pack`, a leading `/`
 * (from `ssh://` URLs), with or without `.git`, quoted or not.
 */

export type GitService = 'upload-pack' | 'receive-pack';

export interface GitCommand {
  service: GitService;
  workspace: string;
  slug: string;
}

const COMMAND = /^git[- ](upload-pack|receive-pack)\s+(.+)$/;
const SEGMENT = /^[A-Za-z0-9_.{}-]+$/;

function unquote(arg: string): string {
  const trimmed = arg.trim();
  if (trimmed.length >= 2 && trimmed.startsWith("'") && trimmed.endsWith("'")) {
    // git quotes with sq_quote: a single quote inside is written as '\''.
    return trimmed.slice(1, -1).replace(/'\\''/g, "'");
  }
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  return trimmed;
}

/** The parsed command, or undefined when it is not a git service on a `workspace/repo` path. */
export function parseGitCommand(command: string): GitCommand | undefined {
  const m = COMMAND.exec(command.trim());
  if (!m) return undefined;
  const service = m[1] as GitService;
  let path = unquote(m[2] as string).replace(/^\/+/, '').replace(/\/+$/, '');
  if (path.startsWith('~')) return undefined;
  path = path.replace(/\.git$/i, '');
  const parts = path.split('/');
  if (parts.length !== 2) return undefined;
  const [workspace, slug] = parts as [string, string];
  if (!SEGMENT.test(workspace) || !SEGMENT.test(slug) || workspace.startsWith('.') || slug.startsWith('.')) return undefined;
  return { service, workspace, slug };
}
