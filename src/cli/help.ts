/**
 * What `--help` says beyond the options: every environment variable the CLI reads, and one example per
 * command (on the command's own help, and all of them on the program's).
 */
import type { Command } from 'commander';

export const ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['BITBUCKET_EMAIL', 'your Atlassian account email (required for Bitbucket)'],
  ['BITBUCKET_API_TOKEN', 'an Atlassian API token with Bitbucket scopes (required for Bitbucket)'],
  ['BITBUCKET_API_URL', 'Bitbucket API root (default https://api.bitbucket.org/2.0; --bitbucket-api-url)'],
  ['VALOHAI_TOKEN', 'a Valohai personal API token (required for Valohai)'],
  ['VALOHAI_HOST', 'Valohai host (default https://app.valohai.com; --valohai-host)'],
  ['VALOHAI_BITBUCKET_STATE_DIR', "where connections, stopped audits and this computer's count of the API token's hour are recorded (default $XDG_STATE_HOME/valohai-bitbucket)"],
  ['XDG_STATE_HOME', 'base of the default state folder (default ~/.local/state)'],
  ['VALOHAI_BITBUCKET_TIMEOUT_MS', 'how long one request may take, in ms (default 30000, at most 600000)'],
  ['VALOHAI_BITBUCKET_RETRY_BUDGET_MS', 'how long one call may keep retrying, in ms (default 30000)'],
  ['NO_COLOR', 'set to print progress without colour'],
  ['TERM', 'dumb: progress without colour'],
];

export const EXAMPLES: Readonly<Record<string, string>> = {
  keygen: 'valohai-bitbucket keygen --type rsa --out ./valohai-key',
  connect: 'valohai-bitbucket connect acme/ml-models --project acme/ml-models --dry-run',
  status: 'valohai-bitbucket status https://bitbucket.org/acme/ml-models',
  rotate: 'valohai-bitbucket rotate acme/ml-models --dry-run',
  disconnect: 'valohai-bitbucket disconnect git@bitbucket.org:acme/ml-models.git --yes',
  sync: 'valohai-bitbucket sync --project acme/ml-models',
  check: 'valohai-bitbucket check acme/ml-models --repair --dry-run',
  audit: 'valohai-bitbucket audit acme --csv > access-keys.csv',
  doctor: 'valohai-bitbucket doctor acme/ml-models',
};

/** Adds the examples to each command's help, and the environment and every example to the program's. */
export function addHelp(program: Command): void {
  for (const cmd of program.commands) {
    const example = EXAMPLES[cmd.name()];
    if (example) cmd.addHelpText('after', `\nExample:\n  $ ${example}\n`);
  }
  program.addHelpText('after', () => {
    const width = Math.max(...ENVIRONMENT.map(([name]) => name.length));
    const examples = program.commands.map((c) => EXAMPLES[c.name()]).filter((e): e is string => e !== undefined);
    return [
      '',
      'Environment:',
      ...ENVIRONMENT.map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
      '',
      'Examples:',
      ...examples.map((e) => `  $ ${e}`),
      '',
    ].join('\n');
  });
}
