import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrivateKey, SshPrivateKeyError, type PrivateKeyProblem } from '../../../dev/valohai/index';
import { run } from '../ssh-host/support/git-world';

let dir: string;
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-private-key-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function sshKeygen(args: string[]): Promise<string> {
  const path = join(dir, `k${n++}`);
  const res = await run('ssh-keygen', ['-q', ...args, '-f', path]);
  assert.equal(res.code, 0, res.stderr);
  return readFile(path, 'utf8');
}

/** The fingerprint OpenSSH itself computes for a private key file. */
async function opensshFingerprint(privateKey: string): Promise<string> {
  const path = join(dir, `fp${n++}`);
  await writeFile(path, privateKey, { mode: 0o600 });
  const pub = await run('ssh-keygen', ['-y', '-f', path]);
  assert.equal(pub.code, 0, pub.stderr);
  const fp = await run('ssh-keygen', ['-l', '-f', '-'], { input: pub.stdout });
  assert.equal(fp.code, 0, fp.stderr);
  return fp.stdout.split(' ')[1] ?? '';
}

function problemOf(key: string): PrivateKeyProblem | 'accepted' {
  try {
    checkPrivateKey(key);
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof SshPrivateKeyError);
    const secret = key.trim().split('\n')[1] ?? key.trim();
    if (secret) assert.equal(err.message.includes(secret), false, 'the message never quotes the key');
    return err.problem;
  }
}

describe('accepted private keys, with the fingerprint OpenSSH computes', () => {
  test('OpenSSH ed25519 and PEM RSA (PKCS#1) from ssh-keygen', async () => {
    for (const key of [await sshKeygen(['-t', 'ed25519', '-N', '']), await sshKeygen(['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', ''])]) {
      const checked = checkPrivateKey(key);
      assert.equal(checked.fingerprint, await opensshFingerprint(key));
    }
  });

  test('PKCS#8 (BEGIN PRIVATE KEY) RSA and ECDSA keys, which OpenSSH loads too', async () => {
    const keys = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    ];
    const types: string[] = [];
    for (const key of keys) {
      const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
      const checked = checkPrivateKey(pem);
      types.push(checked.type);
      assert.equal(checked.fingerprint, await opensshFingerprint(pem), checked.type);
    }
    assert.deepEqual(types, ['ssh-rsa', 'ecdsa-sha2-nistp256']);
  });

  test('a key pasted with Windows line ends or without its last newline is stored the way OpenSSH reads it', async () => {
    const key = await sshKeygen(['-t', 'ed25519', '-N', '']);
    const pasted = checkPrivateKey(`  ${key.trim().replace(/\n/g, '\r\n')}`);
    assert.equal(pasted.normalised, key);
    assert.equal(pasted.fingerprint, await opensshFingerprint(pasted.normalised));
  });
});

describe('refused keys', () => {
  test('keys protected with a passphrase, in each format', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    assert.equal(problemOf(await sshKeygen(['-t', 'ed25519', '-N', 'a passphrase'])), 'encrypted');
    assert.equal(problemOf(await sshKeygen(['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', 'a passphrase'])), 'encrypted');
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'a passphrase' }).toString();
    assert.equal(problemOf(pkcs8), 'encrypted');
  });

  test('an Ed25519 key in PKCS#8, which OpenSSH\'s client cannot load', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.equal(problemOf(pem), 'unsupported');
  });

  test('a public key, a truncated key and text that is no key at all', async () => {
    const key = await sshKeygen(['-t', 'ed25519', '-N', '']);
    const pub = await readFile(join(dir, `k${n - 1}.pub`), 'utf8');
    assert.equal(problemOf(pub), 'public-key');
    const lines = key.trim().split('\n');
    assert.equal(problemOf(lines.slice(0, -1).join('\n')), 'not-a-key', 'no END line');
    assert.notEqual(problemOf([lines[0], lines[1], lines[lines.length - 1]].join('\n')), 'accepted');
    assert.equal(problemOf('my-secret-password'), 'not-a-key');
    assert.equal(problemOf(''), 'not-a-key');
  });
});
