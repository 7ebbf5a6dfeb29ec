import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, InvalidKeyOptionsError, type KeyPair, type KeyPairOptions } from '../../src/ssh/index';
import {
  makeTempDir,
  parseFingerprintLine,
  requireSshKeygen,
  sshKeygen,
  sshKeygenOk,
  typeAndBase64,
  writePrivateKey,
} from './ssh-keygen';

requireSshKeygen();

let work: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  work = await makeTempDir('vb-ssh-gen-');
});
after(async () => {
  await work.remove();
});

/** Runs fn over items, `limit` at a time; the first failure stops new work and is thrown once all running work ends. */
async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failure) throw failure.error;
}

/**
 * Holds one generated pair against ssh-keygen: it must load the private key, derive our public key
 * from it, print our fingerprint and size for both files, and sign with the private key so that the
 * signature verifies against our public line.
 */
async function checkAgainstSshKeygen(pair: KeyPair, name: string, kind: 'RSA' | 'ED25519'): Promise<void> {
  const dir = join(work.path, name);
  await mkdir(join(dir, 'pub'), { recursive: true });
  // No .pub beside the private key, so ssh-keygen has to read the private file itself.
  const privatePath = join(dir, 'id');
  const publicPath = join(dir, 'pub', 'id.pub');
  await writePrivateKey(privatePath, pair.privateKey);
  await writeFile(publicPath, `${pair.publicKey}\n`);

  const derived = await sshKeygenOk(['-y', '-f', privatePath]);
  assert.equal(typeAndBase64(derived), typeAndBase64(pair.publicKey), `${name}: ssh-keygen -y derives another public key`);

  const fromPrivate = parseFingerprintLine(await sshKeygenOk(['-l', '-f', privatePath]));
  assert.equal(fromPrivate.fingerprint, pair.fingerprint, `${name}: fingerprint of the private file`);
  assert.equal(fromPrivate.bits, pair.bits);
  assert.equal(fromPrivate.kind, kind);

  const fromPublic = parseFingerprintLine(await sshKeygenOk(['-l', '-f', publicPath]));
  assert.deepEqual(fromPublic, {
    bits: pair.bits,
    fingerprint: pair.fingerprint,
    comment: pair.publicKey.split(' ').slice(2).join(' ') || 'no comment',
    kind,
  });

  const dataPath = join(dir, 'data');
  const data = `signed by ${name}\n`;
  await writeFile(dataPath, data);
  // ssh-keygen -Y sign wants the .pub beside the private key.
  const signingPath = join(dir, 'sign', 'id');
  await mkdir(join(dir, 'sign'));
  await writePrivateKey(signingPath, pair.privateKey);
  await writeFile(`${signingPath}.pub`, `${pair.publicKey}\n`);
  await sshKeygenOk(['-Y', 'sign', '-f', signingPath, '-n', 'file', dataPath]);
  const signersPath = join(dir, 'allowed_signers');
  await writeFile(signersPath, `signer@example.com ${typeAndBase64(pair.publicKey)}\n`);
  const verify = await sshKeygen(['-Y', 'verify', '-f', signersPath, '-I', 'signer@example.com', '-n', 'file', '-s', `${dataPath}.sig`], data);
  assert.equal(verify.code, 0, `${name}: signature made with the private key does not verify: ${verify.stderr}`);
}

describe('RSA key pairs', () => {
  // A handful at the default 4096 bits, the rest at 2048 to keep the run short on a small machine.
  const requests: (KeyPairOptions | undefined)[] = [
    undefined,
    undefined,
    undefined,
    { comment: 'valohai deploy key' },
    { type: 'rsa', bits: 4096, comment: 'ключ ✓' },
    ...Array.from({ length: 15 }, (_, i): KeyPairOptions => ({ type: 'rsa', bits: 2048, comment: i % 2 ? `rsa-${i}` : '' })),
  ];
  let ticks = 0;
  let pairs: Promise<KeyPair[]>;
  before(() => {
    const timer = setInterval(() => ticks++, 1);
    pairs = Promise.all(requests.map((options) => generateKeyPair(options))).finally(() => clearInterval(timer));
  });

  test('the event loop keeps running while RSA keys are generated', async () => {
    await pairs;
    // Generation done on the event loop's own thread would leave no chance for a single tick.
    assert.ok(ticks >= 2, `the interval ticked only ${ticks} times during RSA-4096 generation`);
  });

  test('the default is RSA 4096 with a PKCS#1 private key and no comment', async () => {
    const [first] = await pairs;
    assert.ok(first);
    assert.equal(first.type, 'rsa');
    assert.equal(first.bits, 4096);
    assert.match(first.privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END RSA PRIVATE KEY-----\n$/);
    assert.match(first.publicKey, /^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/]+=*$/);
  });

  test('20 keys: ssh-keygen reads each private key, derives the same public key, fingerprint and size', async () => {
    const made = await pairs;
    assert.equal(made.length, 20);
    assert.deepEqual(
      made.map((p) => p.bits),
      requests.map((r) => r?.bits ?? 4096),
    );
    assert.equal(new Set(made.map((p) => p.fingerprint)).size, 20, 'two generated keys are the same');
    await forEachLimit(made, 4, (pair, i) => checkAgainstSshKeygen(pair, `rsa-${i}`, 'RSA'));
  });
});

describe('Ed25519 key pairs', () => {
  const comments = ['', 'laptop', 'a b  c', 'ключ ✓', 'x'.repeat(100), ...Array.from({ length: 15 }, (_, i) => 'c'.repeat(i))];

  test('20 keys: ssh-keygen reads each OpenSSH private key, derives the same public key, fingerprint and size', async () => {
    const made = await Promise.all(comments.map((comment) => generateKeyPair({ type: 'ed25519', comment })));
    assert.equal(new Set(made.map((p) => p.fingerprint)).size, 20, 'two generated keys are the same');
    for (const pair of made) {
      assert.equal(pair.type, 'ed25519');
      assert.equal(pair.bits, 256);
      const lines = pair.privateKey.split('\n');
      assert.equal(lines[0], '-----BEGIN OPENSSH PRIVATE KEY-----');
      assert.equal(lines.at(-2), '-----END OPENSSH PRIVATE KEY-----');
      assert.equal(lines.at(-1), '');
      const body = lines.slice(1, -2);
      assert.ok(body.slice(0, -1).every((l) => l.length === 70) && (body.at(-1)?.length ?? 0) <= 70, 'not wrapped at 70 columns');
    }
    await forEachLimit(made, 4, async (pair, i) => {
      await checkAgainstSshKeygen(pair, `ed25519-${i}`, 'ED25519');
      // ssh-keygen -y prints the comment stored inside the OpenSSH private key.
      const derived = await sshKeygenOk(['-y', '-f', join(work.path, `ed25519-${i}`, 'id')]);
      assert.equal(derived.trim(), pair.publicKey);
    });
  });

  test('the comment is left off the public line when empty, and outer spaces are trimmed', async () => {
    const bare = await generateKeyPair({ type: 'ed25519' });
    assert.match(bare.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=*$/);
    const padded = await generateKeyPair({ type: 'ed25519', comment: '  ci key  ' });
    assert.match(padded.publicKey, / ci key$/);
  });
});

describe('options generateKeyPair refuses', () => {
  const refused: [string, KeyPairOptions, InvalidKeyOptionsError['option']][] = [
    ['RSA below 2048 bits', { type: 'rsa', bits: 1024 }, 'bits'],
    ['RSA at 2047 bits', { bits: 2047 }, 'bits'],
    ['RSA above 16384 bits', { bits: 16385 }, 'bits'],
    ['a fractional bit count', { bits: 3072.5 }, 'bits'],
    ['NaN bits', { bits: Number.NaN }, 'bits'],
    ['Ed25519 with a bit count other than 256', { type: 'ed25519', bits: 4096 }, 'bits'],
    ['DSA', { type: 'dsa' as 'rsa' }, 'type'],
    ['a comment with a newline', { type: 'ed25519', comment: 'one\nssh-rsa AAAA injected' }, 'comment'],
    ['a comment with a carriage return', { type: 'ed25519', comment: 'one\rtwo' }, 'comment'],
    ['a comment with a NUL', { type: 'ed25519', comment: 'one\u0000two' }, 'comment'],
  ];
  for (const [name, options, option] of refused) {
    test(name, async () => {
      await assert.rejects(generateKeyPair(options), (err: unknown) => {
        assert.ok(err instanceof InvalidKeyOptionsError);
        assert.equal(err.option, option);
        assert.match(err.message, /must|always/);
        return true;
      });
    });
  }

  test('Ed25519 with bits 256 is fine', async () => {
    const pair = await generateKeyPair({ type: 'ed25519', bits: 256 });
    assert.equal(pair.bits, 256);
  });
});
