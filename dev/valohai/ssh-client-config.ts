/**
 * The ssh configuration the emulator's git runs with: the URLs' host name (bitbucket.org) reaches the
 * local SSH git host, with the project's key only and the host key checked strictly against the
 * published line (rewritten for the alias through HostKeyAlias). Any other host is answered the way
 * a foreign git host answers a key it does not know, without touching the network.
 */
import type { SshGitEndpoint } from '../contracts';

export interface SshClientFiles {
  /** Contents of the ssh config (`ssh -F`). */
  config: string;
  /** Contents of the known_hosts file. */
  knownHosts: string;
}

/** The host key part (`type base64`) of a known_hosts line, whatever host field it has. */
export function hostKeyOf(knownHostsLine: string): string {
  const parts = knownHostsLine.trim().split(/\s+/);
  const at = parts.findIndex((p) => /^(ssh-|ecdsa-)/.test(p));
  if (at < 0 || parts[at + 1] === undefined) {
    throw new TypeError('The SSH endpoint\'s known_hosts line has no host key: expected "[host]:port ssh-ed25519 AAAA...".');
  }
  return `${parts[at]} ${parts[at + 1]}`;
}

const quote = (path: string) => `"${path.replace(/(["\\])/g, '\\$1')}"`;

export function sshClientFiles(endpoint: SshGitEndpoint, paths: { identityFile: string; knownHostsFile: string }): SshClientFiles {
  const alias = endpoint.aliasHost;
  const config = [
    `Host ${alias}`,
    `  HostName ${endpoint.host}`,
    `  Port ${endpoint.port}`,
    '  User git',
    `  HostKeyAlias ${alias}`,
    `  IdentityFile ${quote(paths.identityFile)}`,
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    '  StrictHostKeyChecking yes',
    `  UserKnownHostsFile ${quote(paths.knownHostsFile)}`,
    '  GlobalKnownHostsFile /dev/null',
    '  UpdateHostKeys no',
    '  CheckHostIP no',
    '  BatchMode yes',
    '  PasswordAuthentication no',
    '  KbdInteractiveAuthentication no',
    '  ConnectTimeout 10',
    '  LogLevel ERROR',
    '',
    `Host * !${alias}`,
    "  ProxyCommand /bin/sh -c 'echo \"%r@%h: Permission denied (publickey).\" >&2; exit 255'",
    '  BatchMode yes',
    '  LogLevel QUIET',
    '',
  ].join('\n');
  return { config, knownHosts: `${alias} ${hostKeyOf(endpoint.knownHostsLine)}\n` };
}
