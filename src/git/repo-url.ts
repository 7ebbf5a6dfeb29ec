import { InvalidRepoUrlError } from './errors';
import { redactUrl } from './redact-url';

export type RepoUrlProtocol = 'ssh' | 'https' | 'http';

export interface ParsedRepoUrl {
  protocol: RepoUrlProtocol;
  /** Lower-case host name, without port; IPv6 literals keep their brackets. */
  host: string;
  port?: number;
  /** User name from the URL (`git` in `git@bitbucket.org:…`); a password is never kept. */
  user?: string;
  /** Repository path as written, without the leading `/`. */
  path: string;
  /** Safe to show: the input with any password replaced by `***`. */
  display: string;
  /** The host is Bitbucket Cloud: ours to manage. Other hosts are reported, never touched. */
  isBitbucket: boolean;
  /** Set when isBitbucket and the path is exactly `workspace/slug` (with or without `.git`). */
  workspace?: string;
  slug?: string;
  /** Lower-case `workspace/slug`: Bitbucket compares slugs without case. */
  key?: string;
}

export const BITBUCKET_HOST = 'bitbucket.org';
/** Bitbucket's SSH on port 443, for networks that block port 22: the same repositories. */
const BITBUCKET_HOSTS = new Set([BITBUCKET_HOST, 'altssh.bitbucket.org']);

const MAX_URL_LENGTH = 2048;
const WORKSPACE = /^[A-Za-z0-9_-]+$/;
const SLUG = /^[A-Za-z0-9_.-]+$/;
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?\]$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

const SSH_HINT = `Use the SSH form, e.g. git@${BITBUCKET_HOST}:workspace/repo.git`;

/**
 * Reads the repository URL forms git accepts for SSH and HTTP(S): `git@host:ws/repo.git`,
 * `ssh://[user@]host[:port]/ws/repo[.git]`, `https://[user[:password]@]host[:port]/ws/repo[.git]`,
 * `http://…`, each with or without a trailing slash. Throws InvalidRepoUrlError for anything else.
 */
export function parseRepoUrl(url: string): ParsedRepoUrl {
  const input = url.trim();
  const display = redactUrl(input);
  const fail = (reason: ConstructorParameters<typeof InvalidRepoUrlError>[0], why: string): never => {
    throw new InvalidRepoUrlError(reason, display, why);
  };
  if (input === '') fail('empty', `The repository URL is empty. ${SSH_HINT}.`);
  if (input.length > MAX_URL_LENGTH) {
    fail('too-long', `The repository URL is ${input.length} characters long; at most ${MAX_URL_LENGTH} are accepted.`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(input)) {
    fail('control-characters', `The repository URL "${display}" contains spaces or control characters. Remove them.`);
  }

  const scheme = SCHEME.exec(input);
  let protocol: RepoUrlProtocol;
  let authority: string;
  let path: string;
  if (scheme) {
    const name = (scheme[1] ?? '').toLowerCase();
    if (name === 'ssh' || name === 'git+ssh' || name === 'ssh+git') protocol = 'ssh';
    else if (name === 'https' || name === 'http') protocol = name;
    else {
      return fail(
        'unsupported-scheme',
        `"${display}" uses ${name}://, which cannot be fetched with an SSH access key. ${SSH_HINT}.`,
      );
    }
    const rest = input.slice(scheme[0].length);
    if (protocol !== 'ssh' && /[?#]/.test(rest)) {
      fail('query-or-fragment', `"${display}" has a query or fragment (? or #). Remove it: a repository URL ends with the repository name.`);
    }
    const slash = rest.indexOf('/');
    authority = slash < 0 ? rest : rest.slice(0, slash);
    path = slash < 0 ? '' : rest.slice(slash + 1);
  } else {
    // scp-like syntax, as git reads it: a colon before any slash; otherwise it is a local path.
    const bracketed = /^([^@/:]*@)?\[[^\]/]*\]:/.exec(input);
    const colon = bracketed ? bracketed[0].length - 1 : input.indexOf(':');
    const slash = input.indexOf('/');
    if (colon < 0 || (slash >= 0 && slash < colon)) {
      return fail('local-path', `"${display}" is a local path, not a repository URL. ${SSH_HINT}.`);
    }
    authority = input.slice(0, colon);
    if (/^[A-Za-z]$/.test(authority)) {
      return fail('local-path', `"${display}" is a Windows path, not a repository URL. ${SSH_HINT}.`);
    }
    path = input.slice(colon + 1);
    protocol = 'ssh';
  }

  const { user, host, port } = splitAuthority(authority, display, !scheme);
  const isBitbucket = BITBUCKET_HOSTS.has(host);
  const parsed: ParsedRepoUrl = { protocol, host, path, display, isBitbucket };
  if (port !== undefined) parsed.port = port;
  if (user !== undefined) parsed.user = user;
  if (isBitbucket) {
    const repo = workspaceAndSlug(path);
    if (repo) {
      parsed.workspace = repo.workspace;
      parsed.slug = repo.slug;
      parsed.key = `${repo.workspace}/${repo.slug}`.toLowerCase();
    }
  }
  return parsed;
}

function splitAuthority(
  authority: string,
  display: string,
  scpLike: boolean,
): { user?: string; host: string; port?: number } {
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostPort = authority.slice(at + 1);
  let host = hostPort;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw badHost(display);
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after !== '') throw badHost(display);
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
    }
  }
  if (!(IPV6_LITERAL.test(host) || HOST_NAME.test(host))) throw badHost(display);

  const out: { user?: string; host: string; port?: number } = { host: host.toLowerCase() };
  if (portText !== undefined) {
    const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (scpLike || !(port >= 1 && port <= 65535)) {
      throw new InvalidRepoUrlError(
        'bad-port',
        display,
        `"${display}" has an invalid port. Write a number from 1 to 65535 after the host, or leave the port out.`,
      );
    }
    out.port = port;
  }
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    out.user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
  }
  return out;
}

function badHost(display: string): InvalidRepoUrlError {
  return new InvalidRepoUrlError('bad-host', display, `"${display}" has no valid host name. ${SSH_HINT}.`);
}

function workspaceAndSlug(path: string): { workspace: string; slug: string } | undefined {
  let p = path.startsWith('/') ? path.slice(1) : path;
  if (p.endsWith('/')) p = p.slice(0, -1);
  if (p.endsWith('.git')) p = p.slice(0, -4);
  const parts = p.split('/');
  if (parts.length !== 2) return undefined;
  const [workspace, slug] = parts as [string, string];
  if (!isWorkspace(workspace) || !isSlug(slug)) return undefined;
  return { workspace, slug };
}

function isWorkspace(workspace: string): boolean {
  return WORKSPACE.test(workspace);
}

function isSlug(slug: string): boolean {
  return SLUG.test(slug) && slug !== '.' && slug !== '..';
}

/** The SSH URL Valohai wants for a Bitbucket repository: `git@bitbucket.org:workspace/slug.git`. */
export function bitbucketSshUrl(workspace: string, slug: string): string {
  if (!isWorkspace(workspace) || !isSlug(slug)) {
    throw new InvalidRepoUrlError(
      'bad-workspace-or-slug',
      redactUrl(`${workspace}/${slug}`),
      'A Bitbucket workspace is letters, digits, "-" and "_"; a repository slug may also hold ".". ' +
        `Got "${redactUrl(`${workspace}/${slug}`)}".`,
    );
  }
  return `git@${BITBUCKET_HOST}:${workspace}/${slug}.git`;
}

/**
 * The SSH form of a parsed Bitbucket repository URL (https, http, `ssh://…:22/…` or altssh alike),
 * e.g. for a warning that tells users what to write instead of an https submodule URL.
 */
export function toSshUrl(parsed: ParsedRepoUrl): string {
  if (!parsed.isBitbucket || parsed.workspace === undefined || parsed.slug === undefined) {
    throw new InvalidRepoUrlError(
      'not-a-bitbucket-repository',
      parsed.display,
      `"${parsed.display}" is not a Bitbucket repository URL, so it has no Bitbucket SSH form. ${SSH_HINT}.`,
    );
  }
  return bitbucketSshUrl(parsed.workspace, parsed.slug);
}
