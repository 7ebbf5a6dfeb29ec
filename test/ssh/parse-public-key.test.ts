import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { InvalidPublicKeyError, parsePublicKey, sameKey, type InvalidPublicKeyReason } from '../../src/ssh/index';
import { authorizedKeyLine, rsaPublicBlob } from '../../src/ssh/public-key-blob';
import { sshMpint, sshString } from '../../src/ssh/wire';
import { makeTempDir, parseFingerprintLine, requireSshKeygen, sshKeygen, sshKeygenOk } from './ssh-keygen';

requireSshKeygen();

let work: Awaited<ReturnType<typeof makeTempDir>>;
/** .pub lines made by ssh-keygen, by name. */
const made = new Map<string, string>();
/** Private key files made by ssh-keygen, by name. */
const privateFiles = new Map<string, string>();

const KEYS: [name: string, args: string[]][] = [
  ['rsa2048', ['-t', 'rsa', '-b', '2048']],
  ['rsa3072', ['-t', 'rsa', '-b', '3072']],
  ['rsa1024', ['-t', 'rsa', '-b', '1024']],
  ['ed25519', ['-t', 'ed25519']],
  ['ecdsa256', ['-t', 'ecdsa', '-b', '256']],
  ['ecdsa384', ['-t', 'ecdsa', '-b', '384']],
  ['ecdsa521', ['-t', 'ecdsa', '-b', '521']],
];

before(async () => {
  work = await makeTempDir('vb-ssh-parse-');
  await Promise.all(
    KEYS.map(async ([name, args]) => {
      const path = join(work.path, name);
      await sshKeygenOk([...args, '-N', '', '-q', '-C', `${name}@test host`, '-f', path]);
      made.set(name, await readFile(`${path}.pub`, 'utf8'));
      privateFiles.set(name, await readFile(path, 'utf8'));
    }),
  );
});
after(async () => {
  await work.remove();
});

function line(name: string): string {
  const value = made.get(name);
  assert.ok(value, `fixture ${name} missing`);
  return value;
}

function blobOf(keyLine: string): Buffer {
  return Buffer.from(keyLine.trim().split(/\s+/)[1] as string, 'base64');
}

/** A syntactically valid ssh-rsa line whose modulus has exactly `bits` bits (not a real key: size checks only). */
function rsaLineWithBits(bits: number): string {
  const modulus = randomBytes(Math.ceil(bits / 8));
  const extra = modulus.length * 8 - bits;
  modulus[0] = ((modulus[0] as number) | 0x80) >> extra;
  modulus[modulus.length - 1] = (modulus[modulus.length - 1] as number) | 1;
  return authorizedKeyLine('ssh-rsa', rsaPublicBlob(Buffer.from([1, 0, 1]), modulus));
}

async function fingerprintBySshKeygen(keyLine: string, name: string): Promise<ReturnType<typeof parseFingerprintLine>> {
  const path = join(work.path, `${name}.check.pub`);
  await writeFile(path, `${keyLine}\n`);
  return parseFingerprintLine(await sshKeygenOk(['-l', '-f', path]));
}

describe('keys made by ssh-keygen', () => {
  for (const [name] of KEYS.filter(([n]) => n !== 'rsa1024')) {
    test(`${name}: type, data, comment, size and fingerprint agree with ssh-keygen -l`, async () => {
      const text = line(name);
      const parsed = parsePublicKey(text);
      const openssh = parseFingerprintLine(await sshKeygenOk(['-l', '-f', join(work.path, `${name}.pub`)]));
      const [type, base64] = text.trim().split(' ');
      assert.deepEqual(parsed, {
        type,
        base64,
        normalized: `${type} ${base64}`,
        comment: `${name}@test host`,
        bits: openssh.bits,
        fingerprint: openssh.fingerprint,
      });
      assert.equal(openssh.comment, `${name}@test host`);
    });
  }

  test('surrounding whitespace, tabs between fields and CRLF endings are fine', () => {
    const [type, base64] = line('ed25519').trim().split(' ');
    const parsed = parsePublicKey(`\r\n \t${type}\t${base64}  my  laptop \r\n`);
    assert.equal(parsed.normalized, `${type} ${base64}`);
    assert.equal(parsed.comment, 'my  laptop');
  });

  test('a line without a comment has no comment', () => {
    const parsed = parsePublicKey(line('ecdsa256').trim().split(' ').slice(0, 2).join(' '));
    assert.equal(parsed.comment, undefined);
    assert.equal('comment' in parsed, false);
  });

  test('RSA at exactly 2048 bits passes and its fingerprint and size match ssh-keygen', async () => {
    const text = rsaLineWithBits(2048);
    const parsed = parsePublicKey(text);
    const openssh = await fingerprintBySshKeygen(text, 'rsa-2048-built');
    assert.equal(parsed.bits, 2048);
    assert.equal(openssh.bits, 2048);
    assert.equal(parsed.fingerprint, openssh.fingerprint);
  });
});

/** Every refusal: the reason code, a pattern the message must match, and the text given. */
interface Refusal {
  name: string;
  reason: InvalidPublicKeyReason;
  message: RegExp;
  input: () => string | Promise<string>;
}

const ed = (): string => line('ed25519');
const edBase64 = (): string => ed().split(' ')[1] as string;

const refusals: Refusal[] = [
  {
    name: 'a DSA key made by ssh-keygen (if it still makes them)',
    reason: 'dsa',
    message: /^ssh-dss keys are not accepted: generate an Ed25519 or RSA key/,
    input: async () => {
      const path = join(work.path, 'dsa');
      const result = await sshKeygen(['-t', 'dsa', '-N', '', '-q', '-C', 'dsa-XSECRETX-comment', '-f', path]);
      // Newer OpenSSH builds no longer make DSA keys: fall back to a hand-built blob.
      if (result.code !== 0) return handBuiltDsa();
      return readFile(`${path}.pub`, 'utf8');
    },
  },
  { name: 'a hand-built ssh-dss blob', reason: 'dsa', message: /^ssh-dss keys are not accepted/, input: () => handBuiltDsa() },
  {
    name: 'RSA 1024 made by ssh-keygen',
    reason: 'rsa-too-small',
    message: /has 1024 bits; at least 2048 are needed/,
    input: () => line('rsa1024'),
  },
  { name: 'RSA at 2047 bits', reason: 'rsa-too-small', message: /has 2047 bits; at least 2048/, input: () => rsaLineWithBits(2047) },
  { name: 'RSA above 16384 bits', reason: 'rsa-too-large', message: /has 16392 bits; OpenSSH handles at most 16384/, input: () => rsaLineWithBits(16392) },
  { name: 'an OpenSSH private key (Ed25519)', reason: 'private-key', message: /this is a private key; paste the \.pub file/i, input: () => privateFiles.get('ed25519') ?? '' },
  { name: 'an OpenSSH private key (RSA)', reason: 'private-key', message: /this is a private key; paste the \.pub file/i, input: () => privateFiles.get('rsa2048') ?? '' },
  {
    name: 'a PKCS#1 RSA private key',
    reason: 'private-key',
    message: /this is a private key; paste the \.pub file/i,
    input: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  },
  {
    name: 'a PKCS#8 private key',
    reason: 'private-key',
    message: /this is a private key/i,
    input: () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  },
  {
    name: 'an encrypted PKCS#8 private key',
    reason: 'private-key',
    message: /this is a private key/i,
    input: () =>
      generateKeyPairSync('ed25519')
        .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass phrase' })
        .toString(),
  },
  {
    name: 'the body of an OpenSSH private key without its armour',
    reason: 'private-key',
    message: /this is a private key/i,
    input: () => (privateFiles.get('ed25519') ?? '').split('\n').slice(1, -2).join('\n'),
  },
  {
    name: 'a private key after a key type',
    reason: 'private-key',
    message: /this is a private key/i,
    input: () => `ssh-ed25519 ${(privateFiles.get('ed25519') ?? '').replace(/\n/g, ' ')}`,
  },
  {
    name: 'a PuTTY private key file',
    reason: 'private-key',
    message: /this is a private key/i,
    input: () => `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: hunter2-comment\nPublic-Lines: 2\n${edBase64()}\n`,
  },
  {
    name: 'an RFC 4716 public key',
    reason: 'wrong-format',
    message: /RFC 4716.*ssh-keygen -i -f key\.pub/,
    input: () => sshKeygenOk(['-e', '-f', join(work.path, 'ed25519.pub')]),
  },
  {
    name: 'a PKCS#8 PEM public key',
    reason: 'wrong-format',
    message: /ssh-keygen -i -m PKCS8/,
    input: () => sshKeygenOk(['-e', '-m', 'PKCS8', '-f', join(work.path, 'rsa2048.pub')]),
  },
  {
    name: 'a PKCS#1 PEM public key',
    reason: 'wrong-format',
    message: /ssh-keygen -i -m PEM/,
    input: () => sshKeygenOk(['-e', '-m', 'PEM', '-f', join(work.path, 'rsa2048.pub')]),
  },
  {
    name: 'an OpenSSH certificate',
    reason: 'certificate',
    message: /certificate.*not the -cert\.pub file/,
    input: async () => {
      const ca = join(work.path, 'ca');
      await sshKeygenOk(['-t', 'ed25519', '-N', '', '-q', '-f', ca]);
      await sshKeygenOk(['-q', '-s', ca, '-I', 'cert-identity-XSECRETX', join(work.path, 'ecdsa256.pub')]);
      return readFile(join(work.path, 'ecdsa256-cert.pub'), 'utf8');
    },
  },
  {
    name: 'a FIDO security key',
    reason: 'unsupported-type',
    message: /Security-key \(FIDO\) keys.*not accepted/,
    input: () =>
      authorizedKeyLine(
        'sk-ssh-ed25519@openssh.com',
        Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(randomBytes(32)), sshString('ssh:')]),
        'yubikey-XSECRETX-comment',
      ),
  },
  { name: 'an unknown key type', reason: 'unsupported-type', message: /This key type is not accepted: use ssh-ed25519/, input: () => `ssh-foo123 ${edBase64()}` },
  { name: 'an empty string', reason: 'empty', message: /No public key was given/, input: () => '' },
  { name: 'only whitespace and line breaks', reason: 'empty', message: /No public key was given/, input: () => ' \r\n\t\n ' },
  { name: 'prose', reason: 'not-a-key', message: /This is not an OpenSSH public key/, input: () => 'my password is correct-horse-battery-staple' },
  { name: 'a bare base64 blob', reason: 'not-a-key', message: /This is not an OpenSSH public key/, input: () => edBase64() },
  { name: 'a GitHub token', reason: 'not-a-key', message: /This is not an OpenSSH public key/, input: () => 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' },
  { name: 'a type with nothing after it', reason: 'missing-key-data', message: /key data after it is missing/, input: () => 'ssh-ed25519' },
  {
    name: 'base64 cut off mid-quantum',
    reason: 'bad-base64',
    message: /not valid base64.*lost or altered/,
    input: () => `ssh-ed25519 ${edBase64().slice(0, 50)} cut-XSECRETX-comment`,
  },
  {
    name: 'base64 cut off at a quantum boundary',
    reason: 'truncated',
    message: /ends too early.*cut off/,
    input: () => `ssh-ed25519 ${edBase64().slice(0, 48)} cut-XSECRETX-comment`,
  },
  {
    name: 'a character that is not base64',
    reason: 'bad-base64',
    message: /not valid base64/,
    input: () => `ssh-ed25519 ${edBase64().slice(0, 30)}!${edBase64().slice(31)}`,
  },
  {
    name: 'non-canonical base64 (altered final character)',
    reason: 'bad-base64',
    message: /not valid base64/,
    input: () => {
      // 51 bytes encode to 68 characters with no padding; use a 53-byte blob instead, whose last
      // character carries 4 unused bits that a faithful copy leaves at zero.
      const blob = Buffer.concat([blobOf(ed()), Buffer.alloc(2)]);
      const text = blob.toString('base64');
      return `ssh-ed25519 ${text.slice(0, -2)}B=`;
    },
  },
  {
    name: 'ssh-rsa on the line, Ed25519 in the data',
    reason: 'type-mismatch',
    message: /says ssh-rsa but its key data holds an ssh-ed25519 key/,
    input: () => `ssh-rsa ${edBase64()}`,
  },
  {
    name: 'nistp256 on the line, nistp384 in the data',
    reason: 'type-mismatch',
    message: /says ecdsa-sha2-nistp256 but its key data holds an ecdsa-sha2-nistp384 key/,
    input: () => `ecdsa-sha2-nistp256 ${line('ecdsa384').split(' ')[1]}`,
  },
  {
    name: 'an unknown type inside the data',
    reason: 'type-mismatch',
    message: /holds a different kind of key/,
    input: () => authorizedKeyLine('ssh-ed25519', Buffer.concat([sshString('XSECRETX-type-name'), sshString(randomBytes(32))])),
  },
  {
    name: 'random bytes as key data',
    reason: 'corrupt',
    message: /does not hold an SSH public key/,
    input: () => `ssh-ed25519 ${Buffer.concat([Buffer.from([0xff]), randomBytes(50)]).toString('base64')}`,
  },
  {
    name: 'extra bytes after the key',
    reason: 'corrupt',
    message: /extra bytes after the key/,
    input: () => authorizedKeyLine('ssh-ed25519', Buffer.concat([blobOf(ed()), Buffer.from([0])])),
  },
  {
    name: 'an Ed25519 key of 31 bytes',
    reason: 'corrupt',
    message: /32-byte key/,
    input: () => authorizedKeyLine('ssh-ed25519', Buffer.concat([sshString('ssh-ed25519'), sshString(randomBytes(31))])),
  },
  {
    name: 'an ECDSA point off the curve',
    reason: 'corrupt',
    message: /not on the nistp256 curve/,
    input: () => {
      const blob = blobOf(line('ecdsa256'));
      blob[blob.length - 1] = (blob[blob.length - 1] as number) ^ 1;
      return authorizedKeyLine('ecdsa-sha2-nistp256', blob);
    },
  },
  {
    name: 'a compressed ECDSA point',
    reason: 'corrupt',
    message: /not hold a valid ecdsa-sha2-nistp256 point/,
    input: () => {
      const point = Buffer.concat([Buffer.from([0x02]), randomBytes(32)]);
      return authorizedKeyLine('ecdsa-sha2-nistp256', Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(point)]));
    },
  },
  {
    name: 'a negative RSA modulus',
    reason: 'corrupt',
    message: /negative number/,
    input: () => {
      const modulus = Buffer.concat([Buffer.from([0x80]), randomBytes(255)]);
      return authorizedKeyLine('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), sshMpint(Buffer.from([1, 0, 1])), sshString(modulus)]));
    },
  },
  {
    name: 'authorized_keys options: from="..."',
    reason: 'options',
    message: /authorized_keys options.*delete everything before the key type/,
    input: () => `from="10.1.2.3,xsecretx-host.example" ${ed()}`,
  },
  {
    name: 'authorized_keys options with spaces in quotes',
    reason: 'options',
    message: /authorized_keys options/,
    input: () => `command="deploy --token hunter2hunter2",no-pty ${ed()}`,
  },
  { name: 'authorized_keys option restrict', reason: 'options', message: /authorized_keys options/, input: () => `restrict ${line('rsa2048')}` },
  {
    name: 'two keys on two lines',
    reason: 'multiple-lines',
    message: /more than one line: paste exactly one key/,
    input: () => `${ed()}\n${line('rsa2048')}`,
  },
  {
    name: 'a key wrapped across lines',
    reason: 'multiple-lines',
    message: /more than one line/,
    input: () => `ssh-ed25519 ${edBase64().slice(0, 40)}\r\n${edBase64().slice(40)}`,
  },
  { name: 'an enormous line', reason: 'too-long', message: /longer than any accepted public key/, input: () => `ssh-rsa ${'QUFB'.repeat(5000)}` },
];

function handBuiltDsa(): string {
  const blob = Buffer.concat([
    sshString('ssh-dss'),
    sshMpint(randomBytes(128)),
    sshMpint(randomBytes(20)),
    sshMpint(randomBytes(128)),
    sshMpint(randomBytes(128)),
  ]);
  return authorizedKeyLine('ssh-dss', blob, 'dsa-XSECRETX-comment');
}

/** Key type names are the messages' own vocabulary, not something they quote. */
const TYPE_NAMES = /^(?:sk-)?(?:ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521))(?:@openssh\.com|-cert-v01@openssh\.com)?$/;

/** Long enough to be telling, short enough to catch a quoted fragment of the input. */
function fragments(input: string): string[] {
  const out: string[] = [];
  for (const token of input.split(/[\s"=,]+/)) {
    if (token.length >= 12 && !TYPE_NAMES.test(token)) for (let i = 0; i + 12 <= token.length; i += 6) out.push(token.slice(i, i + 12));
  }
  return out;
}

describe('refusals', () => {
  for (const refusal of refusals) {
    test(`${refusal.name}: refused as ${refusal.reason} without quoting the input`, async () => {
      const input = await refusal.input();
      assert.throws(
        () => parsePublicKey(input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidPublicKeyError, `expected InvalidPublicKeyError, got ${String(err)}`);
          assert.equal(err.reason, refusal.reason);
          assert.match(err.message, refusal.message);
          // Everything a log line could show of the error, fields included.
          const shown = `${err.message}\n${inspect(err)}\n${JSON.stringify(err)}`;
          for (const fragment of fragments(input)) {
            assert.ok(!shown.includes(fragment), `the error quotes the input (${refusal.name})`);
          }
          for (const secret of ['XSECRETX', 'xsecretx', 'hunter2', 'correct-horse', 'ghp_', '@test host', 'pass phrase']) {
            assert.ok(!shown.includes(secret), `the error repeats "${secret}" from the input`);
          }
          return true;
        },
      );
    });
  }
});

describe('sameKey', () => {
  test('ignores comments, spacing and line endings', () => {
    const [type, base64] = line('ed25519').trim().split(' ');
    assert.equal(sameKey(line('ed25519'), `${type} ${base64}`), true);
    assert.equal(sameKey(`  ${type}\t${base64} other comment\r\n`, `${type} ${base64}`), true);
  });

  test('tells different keys apart', () => {
    assert.equal(sameKey(line('ed25519'), line('rsa2048')), false);
    assert.equal(sameKey(line('ecdsa256'), line('ecdsa384')), false);
  });

  test('the same data under another type is not the same key', () => {
    assert.equal(sameKey(line('ed25519'), `ssh-rsa ${edBase64()}`), false);
  });

  test('recognises keys this project would not add (found on a repository, say)', () => {
    const dsa = handBuiltDsa();
    assert.equal(sameKey(dsa, dsa.split(' ').slice(0, 2).join(' ')), true);
    assert.equal(sameKey(line('rsa1024'), `${line('rsa1024').trim()} extra`), true);
  });

  test('text that is not a key equals nothing, not even itself', () => {
    assert.equal(sameKey('', ''), false);
    assert.equal(sameKey('not a key', 'not a key'), false);
    assert.equal(sameKey('ssh-ed25519', 'ssh-ed25519'), false);
  });
});
