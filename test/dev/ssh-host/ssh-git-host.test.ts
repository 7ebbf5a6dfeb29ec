import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import {
  ACCESS_KEY_READ_ONLY,
  KEY_NOT_ON_REPOSITORY,
  sha256Fingerprint,
  startSshGitHost,
  type SshGitHost,
} from '../../../dev/ssh-host/index';
import { createGitWorld, git, gitEnv, run, strictSshCommand, type GitWorld, type KeyPair, type RunResult } from './support/git-world';

const { Client, utils } = ssh2;

let world: GitWorld;
let host: SshGitHost;
let alpha: KeyPair; // access key on ws/alpha
let stranger: KeyPair; // an access key nowhere
let alphaHead: string;
let alphaKeyId: number;
let clones = 0;

before(async () => {
  world = await createGitWorld();
  await world.createRepo('ws', 'alpha');
  await world.createRepo('ws', 'beta');
  alphaHead = await world.commit('ws', 'alpha', { files: { 'README.md': 'alpha\n' } });
  await world.commit('ws', 'beta', { files: { 'README.md': 'beta\n' } });
  [alpha, stranger] = await Promise.all([world.keyPair('alpha'), world.keyPair('stranger')]);
  alphaKeyId = world.directory.addKey('ws', 'alpha', alpha.publicText);
  host = await startSshGitHost({ directory: world.directory });
});
after(async () => {
  await host.close();
  await world.cleanup();
});

async function cloneWith(key: KeyPair, url: string, sshHost: SshGitHost = host): Promise<RunResult & { dir: string }> {
  const dir = join(world.root, `clone-${clones++}`);
  const sshCommand = await strictSshCommand(world.root, { port: sshHost.port, knownHostsLine: sshHost.knownHostsLine, keyPath: key.privatePath });
  const res = await run('git', ['clone', url, dir], { env: gitEnv({ GIT_SSH_COMMAND: sshCommand }) });
  return { ...res, dir };
}

const scpUrl = (repo: string) => `git@127.0.0.1:${repo}`;

describe('fetching over SSH with an access key', () => {
  test('a registered key clones its repository and the fetch is recorded as a use of that key', async () => {
    const before = world.directory.used.length;
    const res = await cloneWith(alpha, scpUrl('ws/alpha.git'));
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await git(['-C', res.dir, 'rev-parse', 'HEAD']), alphaHead);
    assert.equal(await readFile(join(res.dir, 'README.md'), 'utf8'), 'alpha\n');
    const used = world.directory.used.slice(before);
    assert.equal(used.length, 1);
    assert.deepEqual({ ...used[0], when: undefined }, { workspace: 'ws', slug: 'alpha', keyId: alphaKeyId, when: undefined });
    assert.ok(used[0]?.when instanceof Date);
  });

  test('the ssh:// form (leading slash), no .git suffix and another slug case all reach the same repository', async () => {
    for (const url of [`ssh://git@127.0.0.1:${host.port}/ws/alpha.git`, scpUrl('ws/alpha'), scpUrl('/WS/Alpha.git')]) {
      const res = await cloneWith(alpha, url);
      assert.equal(res.code, 0, `${url}: ${res.stderr}`);
      assert.equal(await git(['-C', res.dir, 'rev-parse', 'HEAD']), alphaHead);
    }
  });

  test('a key that is an access key nowhere is refused during authentication', async () => {
    const res = await cloneWith(stranger, scpUrl('ws/alpha.git'));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /git@127\.0\.0\.1: Permission denied \(publickey\)\./);
  });

  test('a key of one repository used on another is refused at that repository with Bitbucket\'s words', async () => {
    const res = await cloneWith(alpha, scpUrl('ws/beta.git'));
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.includes(KEY_NOT_ON_REPOSITORY), res.stderr);
    assert.match(res.stderr, /fatal: Could not read from remote repository/);
  });

  test('an unknown repository answers "Repository not found"', async () => {
    const res = await cloneWith(alpha, scpUrl('ws/no-such-repo.git'));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Repository not found: there is no repository ws\/no-such-repo\./);
  });

  test('a push is refused because access keys are read-only, and the repository is unchanged', async () => {
    const cloned = await cloneWith(alpha, scpUrl('ws/alpha.git'));
    assert.equal(cloned.code, 0, cloned.stderr);
    await writeFile(join(cloned.dir, 'new.txt'), 'x\n');
    await git(['-C', cloned.dir, 'add', 'new.txt']);
    await git(['-C', cloned.dir, 'commit', '-q', '-m', 'try to push']);
    const sshCommand = await strictSshCommand(world.root, { port: host.port, knownHostsLine: host.knownHostsLine, keyPath: alpha.privatePath });
    const res = await run('git', ['-C', cloned.dir, 'push', 'origin', 'HEAD:refs/heads/main'], { env: gitEnv({ GIT_SSH_COMMAND: sshCommand }) });
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.includes(ACCESS_KEY_READ_ONLY), res.stderr);
    assert.equal(await git(['--git-dir', world.directory.bareRepoPath('ws', 'alpha') ?? '', 'rev-parse', 'refs/heads/main']), alphaHead);
  });

  test('a key removed from the repository stops working on the next connection', async () => {
    const key = await world.keyPair('short-lived');
    const id = world.directory.addKey('ws', 'beta', key.publicText);
    assert.equal((await cloneWith(key, scpUrl('ws/beta.git'))).code, 0);
    world.directory.removeKey('ws', 'beta', id);
    const res = await cloneWith(key, scpUrl('ws/beta.git'));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Permission denied \(publickey\)/);
  });

  test('a client that checks the host key strictly refuses a host whose key differs from its known_hosts line', async () => {
    const wrongLine = `[127.0.0.1]:${host.port} ${stranger.publicText}`;
    const sshCommand = await strictSshCommand(world.root, { port: host.port, knownHostsLine: wrongLine, keyPath: alpha.privatePath, name: 'wrong' });
    const res = await run('git', ['clone', scpUrl('ws/alpha.git'), join(world.root, 'never')], { env: gitEnv({ GIT_SSH_COMMAND: sshCommand }) });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Host key verification failed/);
  });

  test('the published fingerprint is the one OpenSSH computes for the known_hosts line', async () => {
    const file = join(world.root, 'fingerprint-check');
    await writeFile(file, `${host.knownHostsLine}\n`);
    const res = await run('ssh-keygen', ['-l', '-f', file]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.includes(host.hostKeyFingerprint), res.stdout);
    assert.match(host.knownHostsLine, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${host.port} ssh-ed25519 AAAA`));
    assert.deepEqual(host.endpoint(), { host: '127.0.0.1', port: host.port, knownHostsLine: host.knownHostsLine, aliasHost: 'bitbucket.org' });
  });
});

describe('what else an SSH client may ask', () => {
  const sshArgs = async (key: KeyPair, user = 'git') => {
    const knownHosts = join(world.root, 'known_hosts-shell');
    await writeFile(knownHosts, `${host.knownHostsLine}\n`);
    return [
      '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentityAgent=none', '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-i', key.privatePath,
      '-p', String(host.port), `${user}@127.0.0.1`,
    ];
  };

  test('a shell request is answered with the greeting and no shell', async () => {
    const res = await run('ssh', ['-T', ...(await sshArgs(alpha))]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Shell access is disabled/);
    assert.match(res.stdout, /ws\/alpha/);
    assert.doesNotMatch(res.stdout, /ws\/beta/);
  });

  test('a command other than git is refused', async () => {
    const res = await run('ssh', [...(await sshArgs(alpha)), 'cat /etc/passwd']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /invalid command syntax/);
    assert.doesNotMatch(res.stdout, /root:/);
  });

  test('a user other than git is refused', async () => {
    const res = await run('ssh', [...(await sshArgs(alpha, 'admin')), 'git-upload-pack ws/alpha.git']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Permission denied \(publickey\)/);
  });
});

describe('proof of key possession', () => {
  /** Connects with ssh2's client; resolves 'ready' or the authentication error's message. */
  function tryAuth(key: ParsedKey): Promise<string> {
    return new Promise((resolve) => {
      const client = new Client();
      client.on('ready', () => {
        client.end();
        resolve('ready');
      });
      client.on('error', (err) => resolve(err.message));
      client.connect({
        host: '127.0.0.1',
        port: host.port,
        username: 'git',
        authHandler: [{ type: 'publickey', username: 'git', key } as PublicKeyAuthMethod],
        hostVerifier: (blob: Buffer) => sha256Fingerprint(blob) === host.hostKeyFingerprint,
      });
    });
  }

  test('the holder of the private key gets in', async () => {
    assert.equal(await tryAuth(parseKey(alpha.privateText)), 'ready');
  });

  test('offering a registered public key but signing with another key is refused', async () => {
    const registered = parseKey(alpha.publicText);
    // Claims the registered key on the wire, signs with a key the host has never seen.
    const forged = Object.create(parseKey(stranger.privateText), {
      type: { value: registered.type },
      getPublicSSH: { value: () => registered.getPublicSSH() },
    }) as ParsedKey;
    assert.match(await tryAuth(forged), /All configured authentication methods failed/);
  });
});

describe('the host without a repository list', () => {
  test('lets a proven key past authentication and refuses it at the repository it is not on', async () => {
    const d = world.directory;
    const bare = await startSshGitHost({
      directory: {
        bareRepoPath: (w, s) => d.bareRepoPath(w, s),
        accessKeys: (w, s) => d.accessKeys(w, s),
        markKeyUsed: (w, s, id, when) => d.markKeyUsed(w, s, id, when),
      },
    });
    try {
      const ok = await cloneWith(alpha, scpUrl('ws/alpha.git'), bare);
      assert.equal(ok.code, 0, ok.stderr);
      const refused = await cloneWith(stranger, scpUrl('ws/alpha.git'), bare);
      assert.notEqual(refused.code, 0);
      assert.ok(refused.stderr.includes(KEY_NOT_ON_REPOSITORY), refused.stderr);
    } finally {
      await bare.close();
    }
  });
});

describe('shutting down', () => {
  test('close() ends connections in progress, their git processes and the listening port', async () => {
    const own = await startSshGitHost({ directory: world.directory });
    const client = new Client();
    const ended = new Promise<void>((resolve) => client.on('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        client.on('ready', () => resolve());
        client.on('error', reject);
        client.connect({ host: '127.0.0.1', port: own.port, username: 'git', privateKey: alpha.privateText, hostVerifier: () => true });
      });
    } catch (err) {
      await own.close();
      throw err;
    }
    // upload-pack advertises its refs and then waits for the client: a fetch caught mid-way.
    const advertised = await new Promise<string>((resolve, reject) => {
      client.exec("git-upload-pack 'ws/alpha.git'", (err, stream) => {
        if (err) return reject(err);
        stream.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      });
    });
    assert.match(advertised, /refs\/heads\/main|HEAD/);
    const pids = own.gitProcessIds();
    assert.equal(pids.length, 1);

    await own.close();
    await ended;
    assert.deepEqual(own.gitProcessIds(), []);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(own.port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
  });
});

function parseKey(text: string): ParsedKey {
  const key = utils.parseKey(text);
  if (key instanceof Error) throw key;
  return key;
}
