/**
 * CLI configuration: the environment, overridden by flags. Missing credentials are a usage problem
 * (exit 2) whose message names the variable and where to make the token, with the scopes to tick.
 */

import { BITBUCKET_CLOUD_API_ROOT, BITBUCKET_TOKEN_SCOPES } from '../bitbucket/index';
import { DEFAULT_VALOHAI_HOST, parseValohaiHost } from '../valohai/index';

export const DEFAULT_BITBUCKET_API_URL = BITBUCKET_CLOUD_API_ROOT;
export { BITBUCKET_TOKEN_SCOPES, DEFAULT_VALOHAI_HOST };

export class ConfigError extends Error {
  /** The separate problems a message joins (allSettings), so that joining again does not nest them. */
  readonly problems?: string[];
  constructor(message: string, problems?: string[]) {
    super(message);
    this.name = 'ConfigError';
    if (problems) this.problems = problems;
  }
}

export interface BitbucketConfig {
  apiUrl: string;
  email: string;
  apiToken: string;
}

export interface ValohaiConfig {
  host: string;
  token: string;
}

type Env = Record<string, string | undefined>;

/**
 * Every problem with the settings, found in one run: a missing token is not followed, one run later, by
 * a missing email. Each reading throws a ConfigError; the errors of all of them are said together.
 */
export function allSettings<T extends unknown[]>(...reads: { [K in keyof T]: () => T[K] }): T {
  const problems: string[] = [];
  const values = reads.map((read) => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems ?? [err.message]) if (!problems.includes(p)) problems.push(p);
      return undefined;
    }
  });
  if (problems.length === 1) throw new ConfigError(problems[0] as string);
  if (problems.length) throw new ConfigError(`${problems.length} settings need fixing:\n${problems.map((p) => `  - ${p}`).join('\n')}`, problems);
  return values as T;
}

function required(env: Env, name: string): () => string {
  return () => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(`${name} is not set.`);
    return value;
  };
}

function checkUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} "${value}" is not a URL. Example: ${DEFAULT_BITBUCKET_API_URL}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`${name} must be an http(s) URL, not ${url.protocol}`);
  }
  return value.replace(/\/+$/, '');
}

/** A missing credential's message, with where to make it: said once, after every name it concerns. */
function withHelp<T>(read: () => T, help: string): () => T {
  return () => {
    try {
      return read();
    } catch (err) {
      if (err instanceof ConfigError && /is not set\.$/.test(err.message)) throw new ConfigError(`${err.message} ${help}`);
      throw err;
    }
  };
}

export function bitbucketConfig(env: Env, flags: { bitbucketApiUrl?: string }): BitbucketConfig {
  const tokenHelp =
    `Create an Atlassian API token with scopes at https://id.atlassian.com/manage-profile/security/api-tokens ` +
    `("Create API token with scopes", app Bitbucket) ticking ${BITBUCKET_TOKEN_SCOPES.join(', ')}, ` +
    `then export BITBUCKET_EMAIL (your Atlassian account email) and BITBUCKET_API_TOKEN.`;
  const email = env.BITBUCKET_EMAIL?.trim();
  const token = env.BITBUCKET_API_TOKEN?.trim();
  // Both missing: one line names both, with the help once.
  const bothMissing = !email && !token;
  const [apiUrl, emailValue, apiToken] = allSettings<[string, string, string]>(
    () => checkUrl('BITBUCKET_API_URL', flags.bitbucketApiUrl ?? env.BITBUCKET_API_URL ?? DEFAULT_BITBUCKET_API_URL),
    bothMissing
      ? () => {
          throw new ConfigError(`BITBUCKET_EMAIL is not set, nor BITBUCKET_API_TOKEN. ${tokenHelp}`);
        }
      : withHelp(required(env, 'BITBUCKET_EMAIL'), tokenHelp),
    bothMissing ? () => '' : withHelp(required(env, 'BITBUCKET_API_TOKEN'), tokenHelp),
  );
  return { apiUrl, email: emailValue, apiToken };
}

export function valohaiConfig(env: Env, flags: { valohaiHost?: string }): ValohaiConfig {
  let host = DEFAULT_VALOHAI_HOST;
  const [checked, token] = allSettings<[string, string]>(
    () => {
      const parsed = parseValohaiHost(flags.valohaiHost ?? env.VALOHAI_HOST ?? DEFAULT_VALOHAI_HOST);
      if ('problem' in parsed) throw new ConfigError(`VALOHAI_HOST (or --valohai-host): ${parsed.problem}`);
      return (host = parsed.host);
    },
    () => withHelp(required(env, 'VALOHAI_TOKEN'), `Create a personal API token at ${host}/auth/tokens/ and export VALOHAI_TOKEN.`)(),
  );
  return { host: checked, token };
}

const NAME = '[A-Za-z0-9_.{}-]+';
const SLUG_PAIR = new RegExp(`^(${NAME})/(${NAME}?)(?:\\.git)?/?$`);
const BITBUCKET_WEB = 'bitbucket.org';

function repoOf(workspace: string, repo: string): { workspace: string; repo: string } {
  return { workspace, repo: repo.replace(/\.git$/, '') };
}

/**
 * A repository as people copy it: `acme/ml-models`, its page (`https://bitbucket.org/acme/ml-models`,
 * any page under it such as `/src/main/`), or its clone URL (`git@bitbucket.org:acme/ml-models.git`,
 * `ssh://git@bitbucket.org/acme/ml-models.git`). Another host is refused by name: this tool manages
 * Bitbucket Cloud's access keys only.
 */
export function parseRepoArg(value: string): { workspace: string; repo: string } {
  const text = value.trim();
  const example = 'Write it as <workspace>/<repo>, e.g. acme/ml-models, or paste its Bitbucket URL.';
  const pair = new RegExp(`^(${NAME})/(${NAME})$`).exec(text);
  if (pair) return repoOf(pair[1] as string, pair[2] as string);
  const scp = /^(?:[^@/:\s]+@)?([^@/:\s]+):(.*)$/.exec(text);
  let host: string | undefined;
  let path: string | undefined;
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    host = scp[1];
    path = scp[2];
  } else {
    try {
      const url = new URL(text);
      if (!['https:', 'http:', 'ssh:', 'git+ssh:'].includes(url.protocol)) {
        throw new ConfigError(`"${value}" is a ${url.protocol.replace(/:$/, '')} URL, not a Bitbucket repository. ${example}`);
      }
      host = url.hostname;
      path = url.pathname.replace(/^\//, '');
      // A web page under the repository (/src/main/, /branches/): the first two parts name it.
      if (url.protocol.startsWith('http')) path = path.split('/').slice(0, 2).join('/');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
    }
  }
  if (host === undefined || path === undefined) throw new ConfigError(`"${value}" is not a repository. ${example}`);
  if (host.toLowerCase() !== BITBUCKET_WEB && host.toLowerCase() !== `www.${BITBUCKET_WEB}`) {
    throw new ConfigError(`"${value}" is on ${host}, not Bitbucket Cloud (${BITBUCKET_WEB}): this tool manages Bitbucket Cloud access keys only.`);
  }
  const m = SLUG_PAIR.exec(path);
  if (!m || !m[2]) throw new ConfigError(`"${value}" does not name a repository on ${BITBUCKET_WEB}. ${example}`);
  return repoOf(m[1] as string, m[2] as string);
}
