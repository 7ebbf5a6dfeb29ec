/**
 * The private-key scrubber: any run of 8 base64 characters (or 12 hex digits) of a held key's secret
 * part goes, however the server wrote it, and nothing public goes with it: the public key line, the
 * fingerprint, the headers every key of a kind shares, ordinary words, commit ids.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { redact, scrubPrivateKeys } from '../../src/http/redact';
import { rsaPublicBlob } from '../../src/ssh/public-key-blob';
import { generateKeyPair, type KeyPair } from '../../src/ssh/index';
import { ECHO_KINDS, keyEcho } from '../support/key-echo';
import { keyBody, secretsIn } from '../support/secret-scan';

const leaks = (text: string, key: string) => secretsIn(text, [{ name: 'the key', value: key, key: true }]);

/**
 * The key's private scalar: an Ed25519 seed (the first half of the private field, at a fixed place in an
 * unencrypted one-key OpenSSH file), an RSA key's private exponent d.
 */
function secretScalar(pair: KeyPair): Buffer {
  if (pair.type === 'ed25519') {
    const bytes = Buffer.from(keyBody(pair.privateKey), 'base64');
    assert.equal(bytes.readUInt32BE(157), 64, 'the private field of an Ed25519 key is 64 bytes');
    return bytes.subarray(161, 193);
  }
  const d = createPrivateKey(pair.privateKey).export({ format: 'jwk' }).d;
  assert.ok(d);
  return Buffer.from(d, 'base64url');
}

const kinds: Record<string, () => Promise<KeyPair>> = {
  'Ed25519 (OpenSSH)': () => generateKeyPair({ type: 'ed25519', comment: 'valohai-models' }),
  'RSA 4096 (PEM)': () => generateKeyPair({ type: 'rsa', comment: 'valohai-models' }),
};

for (const [kind, make] of Object.entries(kinds)) {
  describe(`a held ${kind} key`, () => {
    let pair: KeyPair;
    before(async () => {
      pair = await make();
    });

    for (const how of ECHO_KINDS) {
      it(`quoted as ${how}: every piece of its secret part goes, the rest of the message stays`, () => {
        // Ends on a character outside both alphabets: a word right after the pieces may go with them,
        // when its first letters happen to continue the key (a chance of 1 in 64, or 16 for hex).
        const message = `Valohai said: ${keyEcho(pair.privateKey, how)} ¶`;
        assert.notDeepEqual(leaks(message, pair.privateKey), [], 'the echo gives pieces of the key away');
        for (const out of [scrubPrivateKeys(message, [pair.privateKey]), redact(message, [pair.privateKey])]) {
          assert.deepEqual(leaks(out, pair.privateKey), [], out);
          assert.match(out, /^Valohai said: .* ¶$/s);
          assert.match(out, /\[redacted\]/);
        }
      });
    }

    it('quoted whole, or any 8 characters of a line over its secret bytes, it goes', () => {
      assert.deepEqual(leaks(scrubPrivateKeys(`got ${pair.privateKey}`, [pair.privateKey]), pair.privateKey), []);
      for (const line of keyBody(pair.privateKey).match(/.{1,64}/g) ?? []) {
        for (let at = 0; at + 8 <= line.length; at += 5) {
          const text = `>> ${line.slice(at, at + 8)} <<`;
          if (leaks(text, pair.privateKey).length > 0) assert.equal(scrubPrivateKeys(text, [pair.privateKey]), '>> [redacted] <<');
        }
      }
    });

    it('its private scalar quoted on its own, re-encoded as base64 or hex, goes', () => {
      const scalar = secretScalar(pair);
      const colons = scalar.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
      // 15 base64 characters or hex digits, and 7 bytes written as colon-separated hex.
      for (const [encoded, size, gap] of [[scalar.toString('base64'), 15, 6], [scalar.toString('hex'), 15, 6], [colons, 20, 4]] as const) {
        const quoted = [encoded.slice(0, size), encoded.slice(size + gap, 2 * size + gap)];
        const out = scrubPrivateKeys(`private scalar ${quoted[0]} … ${quoted[1]}`, [pair.privateKey]);
        for (const q of quoted) assert.ok(!out.includes(q), `${q} in ${out}`);
        assert.match(out, /^private scalar \[redacted\]/, `${quoted.join(' … ')}`);
      }
    });

    it('leaves its public parts alone: the public key line, the fingerprint, the key type and comment', () => {
      const texts = [
        pair.publicKey,
        `Key: ${pair.type} ${pair.fingerprint}`,
        JSON.stringify({ publicKey: pair.publicKey, fingerprint: pair.fingerprint }),
        `Add this access key: ${encodeURIComponent(pair.publicKey)}`,
      ];
      for (const text of texts) {
        assert.equal(scrubPrivateKeys(text, [pair.privateKey]), text);
        assert.equal(redact(text, [pair.privateKey]), redact(text, []), 'the key changes nothing redact does anyway');
      }
    });

    it('leaves alone what only looks like a key: the headers every key of its kind starts with, another key', async () => {
      const other = await make();
      const texts = [
        // The same fixed header as this key's, then another key's bytes.
        `the key must start ${keyBody(pair.privateKey).slice(0, 16)}`,
        kind.startsWith('RSA') ? 'PEM keys of 4096 bits begin MIIJKAIBAAKCAgEA or MIIJJwIBAAKCAgEA' : 'OpenSSH keys begin b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACA',
        other.publicKey,
        other.fingerprint,
      ];
      for (const text of texts) assert.equal(scrubPrivateKeys(text, [pair.privateKey]), text);
    });
  });
}

describe('ordinary text with keys held', () => {
  const keys = [
    generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey,
    generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey,
  ];

  it('is left as it is: English, git output, commit ids, UUIDs, random base64 and hex', () => {
    const shas = Array.from({ length: 2000 }, () => createHash('sha1').update(randomBytes(16)).digest('hex'));
    const texts = [
      'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.',
      'The automatic rotation failed, and the old key still works: Valohai rejected the request while saving the repository settings.',
      `Valohai sees: ${shas.slice(0, 40).join(' ')}`,
      shas.join('\n'),
      Array.from({ length: 200 }, () => crypto.randomUUID()).join(', '),
      randomBytes(30_000).toString('base64'),
      randomBytes(20_000).toString('hex'),
      'MIIJKAIBAAKCAgEA MIIEowIBAAKCAQEA MIIEvQIBADANBgkqhkiG9w0BAQEFAASC b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ',
    ];
    for (const text of texts) assert.equal(scrubPrivateKeys(text, keys), text, text.slice(0, 80));
  });

  it('PKCS#8 keys are scrubbed too, their shared header left alone', () => {
    const [, pkcs8 = ''] = keys;
    const heads = (keyBody(pkcs8).match(/.{1,64}/g) ?? []).map((line) => line.slice(0, 15));
    const out = scrubPrivateKeys(`bad: ${heads.join(', ')}`, keys);
    const [header, ...rest] = heads;
    assert.ok(header && out.startsWith(`bad: ${header}, `), `the header every such key starts with is not a piece of this one: ${out}`);
    // PKCS#8 holds the modulus where the public key line has it: those heads are the public key's own text.
    const { n, e } = createPublicKey(pkcs8).export({ format: 'jwk' });
    const publicLine = rsaPublicBlob(Buffer.from(e ?? '', 'base64url'), Buffer.from(n ?? '', 'base64url')).toString('base64');
    for (const head of rest) assert.ok(!out.includes(head) || publicLine.includes(head), head);
    assert.ok(rest.some((head) => !publicLine.includes(head)), 'some heads lie over the private values');
  });

  it('scrubs a key echoed at the end of a long text, and leaves the rest of it', () => {
    const words = 'word '.repeat(40_000);
    const out = scrubPrivateKeys(`${words}${keyEcho(keys[0] as string, 'line heads')}`, keys);
    assert.deepEqual(leaks(out, keys[0] as string), []);
    assert.ok(out.startsWith(words), 'the text before the echo is untouched');
  });
});
