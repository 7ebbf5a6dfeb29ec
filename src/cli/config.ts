/**
 * CLI configuration: the environment, overridden by flags. Missing credentials are a usage problem
 * (exit 2) whose message names the variable and where to make the token, with the scopes to tick.
 */

import { BITBUCKET_CLOUD_API_ROOT, BITBUCKET_TOKEN_SCOPES } from '../bitbucket/index';
import { DEFAULT_VALOHAI_HOST, parseValohaiHost } from '../valohai/index';

export const DEFAULT_BITBUCKET_API_URL = BITBUCKET_CLOUD_API_ROOT;
export { BITBUCKET_TOKEN_SCOPES, DEFAULT_VALOHAI_HOST };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
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

function required(env: Env, name: string, help: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set. ${help}`);
  return value;
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

export function bitbucketConfig(env: Env, flags: { bitbucketApiUrl?: string }): BitbucketConfig {
  const tokenHelp =
    `Create an Atlassian API token with scopes at https://id.atlassian.com/manage-profile/security/api-tokens ` +
    `("Create API token with scopes", app Bitbucket) ticking ${BITBUCKET_TOKEN_SCOPES.join(', ')}, ` +
    `then export BITBUCKET_EMAIL (your Atlassian account email) and BITBUCKET_API_TOKEN.`;
  return {
    apiUrl: checkUrl('BITBUCKET_API_URL', flags.bitbucketApiUrl ?? env.BITBUCKET_API_URL ?? DEFAULT_BITBUCKET_API_URL),
    email: required(env, 'BITBUCKET_EMAIL', tokenHelp),
    apiToken: required(env, 'BITBUCKET_API_TOKEN', tokenHelp),
  };
}

export function valohaiConfig(env: Env, flags: { valohaiHost?: string }): ValohaiConfig {
  const parsed = parseValohaiHost(flags.valohaiHost ?? env.VALOHAI_HOST ?? DEFAULT_VALOHAI_HOST);
  if ('problem' in parsed) throw new ConfigError(`VALOHAI_HOST (or --valohai-host): ${parsed.problem}`);
  const { host } = parsed;
  return {
    host,
    token: required(env, 'VALOHAI_TOKEN', `Create a personal API token at ${host}/auth/tokens/ and export VALOHAI_TOKEN.`),
  };
}

/** `workspace/repo` → parts; anything else is a usage error with an example. */
export function parseRepoArg(value: string): { workspace: string; repo: string } {
  const m = /^([A-Za-z0-9_.{}-]+)\/([A-Za-z0-9_.{}-]+)$/.exec(value.trim());
  if (!m) throw new ConfigError(`"${value}" is not a repository. Write it as <workspace>/<repo>, e.g. acme/ml-models.`);
  return { workspace: m[1] as string, repo: (m[2] as string).replace(/\.git$/, '') };
}
