import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeOpenSshEd25519PrivateKey } from '../../src/ssh/index';
import { SshReader } from '../../src/ssh/wire';
import { makeTempDir, requireSshKeygen, sshKeygenOk } from './ssh-keygen';

requireSshKeygen();

let work: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  work = await makeTempDir('vb-ssh-okv1-');
});
after(async () => {
  await work.remove();
});

/** Takes apart an unencrypted openssh-key-v1 Ed25519 file, checking each field on the way. */
function decode(pem: string): { seed: Buffer; publicKey: Buffer; comment: string; checkInt: number; padding: Buffer } {
  const body = pem.replace('-----BEGIN OPENSSH PRIVATE KEY-----\n', '').replace('-----END OPENSSH PRIVATE KEY-----\n', '');
  const outer = new SshReader(Buffer.from(body.replace(/\n/g, ''), 'base64'));
  assert.equal(outer.bytes(15).toString('latin1'), 'openssh-key-v1\0');
  assert.equal(outer.string().toString(), 'none');
  assert.equal(outer.string().toString(), 'none');
  assert.equal(outer.string().length, 0);
  assert.equal(outer.uint32(), 1);
  const publicBlob = outer.string();
  const inner = new SshReader(outer.string());
  assert.equal(outer.remaining, 0);

  const checkInt = inner.uint32();
  assert.equal(inner.uint32(), checkInt);
  assert.equal(inner.string().toString(), 'ssh-ed25519');
  const publicKey = inner.string();
  const secret = inner.string();
  assert.equal(secret.length, 64);
  assert.deepEqual(secret.subarray(32), publicKey);
  const comment = inner.string().toString('utf8');
  const padding = inner.bytes(inner.remaining);
  const blob = new SshReader(publicBlob);
  assert.equal(blob.string().toString(), 'ssh-ed25519');
  assert.deepEqual(blob.string(), publicKey);
  return { seed: secret.subarray(0, 32), publicKey, comment, checkInt, padding };
}

// Comment lengths 0..8 give every padding length 0..7; the long ones move the line breaks about.
const comments = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh', 'user@host', 'ключ ✓', 'w'.repeat(75), 'z'.repeat(211)];

test('encodes byte for byte what ssh-keygen writes for the same key, comment and check value', async () => {
  const paddings = new Set<number>();
  await Promise.all(
    comments.map(async (comment, i) => {
      const path = join(work.path, `k${i}`);
      await sshKeygenOk(['-t', 'ed25519', '-N', '', '-q', '-C', comment, '-f', path]);
      const theirs = await readFile(path, 'utf8');
      const parts = decode(theirs);
      assert.equal(parts.comment, comment);
      assert.deepEqual([...parts.padding], Array.from({ length: parts.padding.length }, (_, j) => j + 1));
      paddings.add(parts.padding.length);
      const ours = encodeOpenSshEd25519PrivateKey({ seed: parts.seed, publicKey: parts.publicKey, comment, checkInt: parts.checkInt });
      assert.equal(ours, theirs, `differs from ssh-keygen for a comment of ${comment.length} characters`);
    }),
  );
  assert.equal(paddings.size, 8, 'not every padding length was exercised');
});

test('the check value is random per key and written twice', () => {
  const seed = Buffer.alloc(32, 1);
  const publicKey = Buffer.alloc(32, 2);
  const checks = new Set<number>();
  for (let i = 0; i < 20; i++) checks.add(decode(encodeOpenSshEd25519PrivateKey({ seed, publicKey })).checkInt);
  assert.equal(checks.size, 20, 'check values repeat: they are not random');
});

test('refuses seeds and public keys of the wrong size', () => {
  assert.throws(() => encodeOpenSshEd25519PrivateKey({ seed: Buffer.alloc(31), publicKey: Buffer.alloc(32) }), RangeError);
  assert.throws(() => encodeOpenSshEd25519PrivateKey({ seed: Buffer.alloc(32), publicKey: Buffer.alloc(64) }), RangeError);
});
