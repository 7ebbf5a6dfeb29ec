/**
 * A local stand-in for bitbucket.org's git-over-SSH host. It serves `git@<host>:ws/repo.git` with real
 * `git upload-pack`, and lets a client in only with an access key of the requested repository as the
 * repository directory holds it at that moment, so a key deleted through the API stops working on the
 * next connection. Access keys are read-only: pushes are refused with Bitbucket's words.
 *
 * Like Bitbucket, a key that is an access key nowhere is refused during authentication (the client
 * ends with "Permission denied (publickey)."), and a key that is an access key elsewhere is let in and
 * refused at the repository ("deployment key is not associated with the requested repository").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel } from 'ssh2';
import type { GitRepoDirectory, RepoRef, SshGitEndpoint } from '../contracts';
import { generateKeyPair } from '../../src/ssh/index';
import { parseGitCommand } from './git-command';
import {
  ACCESS_KEY_READ_ONLY,
  INVALID_COMMAND,
  KEY_NOT_ON_REPOSITORY,
  repositoryNotFound,
  shellGreeting,
} from './messages';
import { blobToKeyText, normaliseKeyText } from './public-key';

const { Server: SshServer, utils } = ssh2;

export interface SshGitHostOptions {
  directory: GitRepoDirectory;
  /**
   * Every repository the directory holds. The host needs it to tell, during authentication, whether a
   * key is an access key anywhere (Bitbucket's behaviour). When it is absent and the directory itself
   * has a `repositories()` method, that is used. Without either, every key that proves possession gets
   * past authentication and an unregistered key is refused at the repository instead.
   */
  repositories?: () => Iterable<RepoRef>;
  /** The host name git URLs use for this host (default `bitbucket.org`). */
  aliasHost?: string;
}

export interface SshGitHost {
  host: '127.0.0.1';
  port: number;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, for a client's UserKnownHostsFile. */
  knownHostsLine: string;
  /** OpenSSH's `SHA256:...` fingerprint of the host key. */
  hostKeyFingerprint: string;
  endpoint(): SshGitEndpoint;
  /** Process ids of the git processes serving a request right now. */
  gitProcessIds(): number[];
  /** Ends every client connection and git process and stops listening. */
  close(): Promise<void>;
}

type RepositoryLister = () => Iterable<RepoRef>;

function repositoryLister(options: SshGitHostOptions): RepositoryLister | undefined {
  if (options.repositories) return options.repositories;
  const candidate = (options.directory as Partial<{ repositories: unknown }>).repositories;
  if (typeof candidate === 'function') {
    return () => (candidate as () => Iterable<RepoRef>).call(options.directory);
  }
  return undefined;
}

function gitEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LC_ALL: 'C',
    ...extra,
  };
}

export async function startSshGitHost(options: SshGitHostOptions): Promise<SshGitHost> {
  const { directory } = options;
  const aliasHost = options.aliasHost ?? 'bitbucket.org';
  const listRepositories = repositoryLister(options);

  // ssh2's own generateKeyPairSync('ed25519') drops a leading zero byte of the public key (about one
  // key in 256), which ssh2 then refuses to parse; the product's generator writes it whole.
  const hostKey = await generateKeyPair({ type: 'ed25519' });

  const keyOn = (ref: RepoRef, keyText: string) =>
    directory.accessKeys(ref.workspace, ref.slug).find((k) => normaliseKeyText(k.key) === keyText);
  const reposWithKey = (keyText: string): string[] | undefined => {
    if (directory.repositoriesWithKey) return directory.repositoriesWithKey(keyText);
    if (!listRepositories) return undefined;
    const names: string[] = [];
    for (const ref of listRepositories()) if (keyOn(ref, keyText)) names.push(`${ref.workspace}/${ref.slug}`);
    return names;
  };
  const knownAnywhere = (keyText: string) => {
    const repos = reposWithKey(keyText);
    return repos === undefined || repos.length > 0;
  };

  const children = new Set<ChildProcess>();
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();

  function refuse(channel: ServerChannel, message: string, code = 1): void {
    channel.stderr.write(`${message}\n`);
    channel.exit(code);
    channel.end();
  }

  function serveExec(channel: ServerChannel, command: string, env: Record<string, string>, keyText: string): void {
    const parsed = parseGitCommand(command);
    if (!parsed) return refuse(channel, INVALID_COMMAND, 128);
    const { workspace, slug, service } = parsed;
    const bare = directory.bareRepoPath(workspace, slug);
    if (!bare) return refuse(channel, repositoryNotFound(workspace, slug));
    // Read live: a key removed a moment ago is not honoured, even on a connection opened before.
    const record = keyOn({ workspace, slug }, keyText);
    if (!record) return refuse(channel, KEY_NOT_ON_REPOSITORY);
    if (service === 'receive-pack') return refuse(channel, ACCESS_KEY_READ_ONLY);

    const extra: Record<string, string> = {};
    if (env.GIT_PROTOCOL && /^[a-z0-9=:.-]+$/i.test(env.GIT_PROTOCOL)) extra.GIT_PROTOCOL = env.GIT_PROTOCOL;
    const child = spawn('git', ['upload-pack', '--strict', bare], { env: gitEnv(extra), stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.stdin.on('error', () => undefined); // the client may stop reading early (ls-remote)
    channel.pipe(child.stdin);
    child.stdout.pipe(channel, { end: false });
    child.stderr.pipe(channel.stderr, { end: false });
    channel.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    child.on('error', () => undefined);
    child.on('close', (code) => {
      children.delete(child);
      if (code === 0) directory.markKeyUsed(workspace, slug, record.id, new Date());
      try {
        channel.exit(code ?? 1);
        channel.end();
      } catch {
        // the client is gone already
      }
    });
  }

  function onAuthentication(ctx: AuthContext, onAccepted: (keyText: string) => void): void {
    if (ctx.method !== 'publickey' || ctx.username !== 'git') return ctx.reject(['publickey']);
    const keyText = blobToKeyText(ctx.key.data);
    if (!keyText || !knownAnywhere(keyText)) return ctx.reject(['publickey']);
    // Without a signature the client only asks whether the key would do; it must still prove possession.
    if (!ctx.signature) return ctx.accept();
    const key = utils.parseKey(keyText);
    if (key instanceof Error || !ctx.blob || !key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
      return ctx.reject(['publickey']);
    }
    onAccepted(keyText);
    ctx.accept();
  }

  const ssh = new SshServer({ hostKeys: [hostKey.privateKey] }, (client) => {
    connections.add(client);
    let keyText: string | undefined;
    client.on('error', () => undefined);
    client.on('close', () => connections.delete(client));
    client.on('authentication', (ctx) => onAuthentication(ctx, (k) => (keyText = k)));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        const env: Record<string, string> = {};
        session.on('env', (accept, reject, info) => {
          if (info.key === 'GIT_PROTOCOL') {
            env.GIT_PROTOCOL = info.val;
            accept?.();
          } else {
            reject?.();
          }
        });
        session.on('pty', (accept) => accept?.());
        session.on('window-change', (accept) => accept?.());
        session.on('shell', (accept) => {
          const channel = accept();
          channel.write(shellGreeting(keyText ? reposWithKey(keyText) : undefined));
          channel.exit(0);
          channel.end();
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          if (!keyText) return refuse(channel, INVALID_COMMAND, 128);
          serveExec(channel, info.command, env, keyText);
        });
        session.on('subsystem', (_accept, reject) => reject());
      });
    });
  });

  const net: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (net.address() as AddressInfo).port;
  const knownHostsLine = `[127.0.0.1]:${port} ${hostKey.publicKey}`;

  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    knownHostsLine,
    hostKeyFingerprint: hostKey.fingerprint,
    endpoint: () => ({ host: '127.0.0.1', port, knownHostsLine, aliasHost }),
    gitProcessIds: () => [...children].flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
    close() {
      closing ??= (async () => {
        const exits = [...children].map(
          (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('close', () => resolve()))),
        );
        for (const child of children) child.kill('SIGTERM');
        for (const client of connections) client.end();
        const stopped = new Promise<void>((resolve) => net.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all([stopped, ...exits]);
      })();
      return closing;
    },
  };
}
