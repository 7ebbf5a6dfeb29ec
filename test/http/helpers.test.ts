import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { networkErrorCode } from '../../src/http/network';
import { encodeFilePath, encodePathSegment, encodeRefSegment, InvalidPathSegmentError } from '../../src/http/path';
import { excerpt, redact } from '../../src/http/redact';
import { echoes, secretsIn } from '../support/secret-scan';

/** A fresh Ed25519 key in OpenSSH's own format, as the product writes them. */
function openSshEd25519(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vb-redact-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
    return readFileSync(join(dir, 'k'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('path segments', () => {
  it('encodes slugs and {uuid}s', () => {
    assert.equal(encodePathSegment('my-repo', 'repository'), 'my-repo');
    assert.equal(encodePathSegment('{85d67b4e-571d-44e9-a507-fa476935aa98}', 'workspace'), '%7B85d67b4e-571d-44e9-a507-fa476935aa98%7D');
    assert.equal(encodePathSegment('a b+c', 'repository'), 'a%20b%2Bc');
  });

  it('refuses values that would change the path, naming what was wrong', () => {
    for (const bad of ['acme/repo', 'repo?x=1', 'repo#x', '..', 'a..b', 'a\\b', '', 'a\nb']) {
      assert.throws(() => encodePathSegment(bad, 'repository'), (err: unknown) => {
        assert.ok(err instanceof InvalidPathSegmentError);
        assert.equal(err.what, 'repository');
        assert.match(err.message, /repository/);
        return true;
      }, JSON.stringify(bad));
    }
  });

  it('encodes branch names with slashes as one segment and refuses broken ones', () => {
    assert.equal(encodeRefSegment('feature/new-model'), 'feature%2Fnew-model');
    assert.equal(encodeRefSegment('release#2'), 'release%232');
    for (const bad of ['', 'a..b', '/main', 'main/', 'a//b']) assert.throws(() => encodeRefSegment(bad), InvalidPathSegmentError);
  });

  it('encodes file paths part by part and refuses escapes', () => {
    assert.equal(encodeFilePath('.gitmodules'), '.gitmodules');
    assert.equal(encodeFilePath('dir with space/f.txt'), 'dir%20with%20space/f.txt');
    for (const bad of ['', '/etc/passwd', '../x', 'a/./b', 'a//b', 'a/']) assert.throws(() => encodeFilePath(bad), InvalidPathSegmentError);
  });
});

describe('redact', () => {
  const pem = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEAx1v2Qh3kQ0aR2r8s9Y1m5k0mZ3p2Lq', 'Zk8bq7v3nY5rQm3W8u9x2Lp0aQ4ZrT9k2Jv', '-----END RSA PRIVATE KEY-----'].join('\n');

  it('removes private key blocks, even cut off', () => {
    assert.equal(redact(`bad key: ${pem} !`), 'bad key: [private key redacted] !');
    assert.doesNotMatch(redact(`got ${pem.slice(0, 60)}`), /MIIE/);
  });

  it('removes given secrets, whole or line by line, and public key bodies', () => {
    const out = redact('line Zk8bq7v3nY5rQm3W8u9x2Lp0aQ4ZrT9k2Jv echoed; token tok_abcdefgh123', [pem, 'tok_abcdefgh123']);
    assert.equal(out, 'line [redacted] echoed; token [redacted]');
    assert.equal(redact('key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFaKe is bad'), 'key ssh-ed25519 [key redacted] is bad');
  });

  it('removes a secret echoed in pieces: cut off mid-line or re-wrapped', () => {
    const body = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk';
    const secret = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.slice(0, 40)}\n${body.slice(40)}\n-----END OPENSSH PRIVATE KEY-----`;
    const out = redact(`title: KeyError ${body.slice(10, 35)}; page ${body.slice(30, 70)} end`, [secret]);
    assert.equal(out, 'title: KeyError [redacted]; page [redacted] end');
    assert.equal(redact('nothing secret here: abcdefghijklmnopqrstuvwxyz', [secret]), 'nothing secret here: abcdefghijklmnopqrstuvwxyz');
  });

  describe('a private key echoed in an encoding or cut into short lines', () => {
    const keys = {
      'an RSA PEM key': generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey,
      'an OpenSSH Ed25519 key': openSshEd25519(),
    };
    for (const [kind, key] of Object.entries(keys)) {
      for (const { how, text } of echoes(key)) {
        it(`${kind}, ${how}: removed, with the key given and without`, () => {
          const message = `Valohai said: could not load ${text} (line 1)`;
          for (const secrets of [[key], []]) {
            const out = redact(message, secrets);
            assert.deepEqual(secretsIn(out, [{ name: 'the key', value: key, key: true }]), [], `${secrets.length ? 'given' : 'not given'}: ${out.slice(0, 300)}`);
            assert.match(out, /^Valohai said: could not load .*\(line 1\)$/s);
          }
        });
      }
    }
  });

  it('leaves ordinary text alone: git output, names, hashes, fingerprints', () => {
    const texts = [
      'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.',
      'main\ndevelop\nfeature/new-model\nrelease-2024-10',
      `commit ${'a1b2c3d4e5'.repeat(4)} on main; key SHA256:ybgmFkzwOSotHTHLJgHO0QN8L0xErw6vd0VhFA9m3SM`,
      'Reading https://example.com/a%20b?x=1&amp;y=2 and \\server\\share',
    ];
    for (const text of texts) assert.equal(redact(text, ['tok_abcdefgh123']), text);
  });

  it('shortens HTML pages to their title', () => {
    assert.equal(excerpt('<html><head><title>502 Bad Gateway</title></head><body><h1>x</h1></body></html>'), '502 Bad Gateway');
    assert.equal(excerpt('x'.repeat(400), 10).length, 10);
  });
});

describe('networkErrorCode', () => {
  it('finds the code on the error or its causes', () => {
    assert.equal(networkErrorCode(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })), 'ECONNREFUSED');
    assert.equal(networkErrorCode(Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } })), 'ECONNRESET');
    assert.equal(networkErrorCode(new TypeError('fetch failed')), 'FETCH_FAILED');
    assert.equal(networkErrorCode(new Error('socket hang up')), 'ECONNRESET');
    assert.equal(networkErrorCode(new DOMException('x', 'TimeoutError')), 'ETIMEDOUT');
    assert.equal(networkErrorCode(Object.assign(new Error('timeout of 5ms exceeded'), { code: 'ECONNABORTED' })), 'ETIMEDOUT');
    assert.equal(networkErrorCode('weird'), 'NETWORK');
  });
});
