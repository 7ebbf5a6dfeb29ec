import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliEntry } from '../support/e2e';
import { makeTempDir, parseFingerprintLine, requireSshKeygen, sshKeygenOk } from '../ssh/ssh-keygen';

requireSshKeygen();

const repoRoot = new URL('../..', import.meta.url).pathname;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliEntry(), ...args], { cwd: repoRoot, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** The private key must never reach the terminal. */
function assertNoPrivateKey(result: CliResult): void {
  assert.doesNotMatch(result.stdout + result.stderr, /PRIVATE KEY|b3BlbnNzaC1rZXktdjE|MII[A-Za-z0-9+/]{20}/);
}

let work: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  work = await makeTempDir('vb-cli-keygen-');
});
after(async () => {
  await work.remove();
});

test('keygen --type ed25519 writes a private key ssh-keygen reads (0600) and its .pub (0644)', async () => {
  const out = join(work.path, 'ed');
  const result = await cli(['keygen', '--type', 'ed25519', '--comment', 'valohai ci', '--out', out]);
  assert.equal(result.code, 0, result.stderr);
  assertNoPrivateKey(result);
  assert.equal(await mode(out), 0o600);
  assert.equal(await mode(`${out}.pub`), 0o644);

  const pub = await readFile(`${out}.pub`, 'utf8');
  assert.match(pub, /^ssh-ed25519 AAAA[A-Za-z0-9+/]+=* valohai ci\n$/);
  assert.equal(await sshKeygenOk(['-y', '-f', out]), pub);

  const openssh = parseFingerprintLine(await sshKeygenOk(['-l', '-f', `${out}.pub`]));
  assert.equal(openssh.bits, 256);
  assert.ok(result.stdout.includes(openssh.fingerprint), 'the fingerprint is not printed');
  assert.ok(result.stdout.includes(`${out}.pub`), 'the .pub path is not printed');
});

test('keygen --json prints exactly one JSON object; the default is RSA 4096 in PKCS#1', async () => {
  const out = join(work.path, 'rsa');
  const result = await cli(['keygen', '--out', out, '--json']);
  assert.equal(result.code, 0, result.stderr);
  assertNoPrivateKey(result);
  assert.equal(result.stderr, '');
  assert.equal(result.stdout.trim().split('\n').length, 1);
  const printed = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(printed).sort(), ['bits', 'fingerprint', 'publicKey', 'type']);

  const pub = await readFile(`${out}.pub`, 'utf8');
  const openssh = parseFingerprintLine(await sshKeygenOk(['-l', '-f', `${out}.pub`]));
  assert.deepEqual(printed, { type: 'rsa', bits: 4096, fingerprint: openssh.fingerprint, publicKey: pub.trim() });
  assert.equal(openssh.bits, 4096);
  assert.match(await readFile(out, 'utf8'), /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.equal((await sshKeygenOk(['-y', '-f', out])).trim(), pub.trim());
});

test('keygen refuses to overwrite either file without --force, naming the file', async () => {
  const out = join(work.path, 'taken');
  await writeFile(out, 'precious\n', { mode: 0o600 });
  const first = await cli(['keygen', '--type', 'ed25519', '--out', out]);
  assert.equal(first.code, 1);
  assert.ok(first.stderr.includes(out) && first.stderr.includes('--force'), first.stderr);
  assert.equal(await readFile(out, 'utf8'), 'precious\n');
  assert.equal(await exists(`${out}.pub`), false);

  const onlyPub = join(work.path, 'pub-taken');
  await writeFile(`${onlyPub}.pub`, 'ssh-ed25519 old\n');
  const second = await cli(['keygen', '--type', 'ed25519', '--out', onlyPub, '--json']);
  assert.equal(second.code, 1);
  assert.equal(second.stdout, '');
  assert.ok(second.stderr.includes(`${onlyPub}.pub`) && second.stderr.includes('--force'), second.stderr);
  assert.equal(await exists(onlyPub), false, 'a private key was left behind without its .pub');
  assert.equal(await readFile(`${onlyPub}.pub`, 'utf8'), 'ssh-ed25519 old\n');
});

test('keygen --force replaces both files, and the new private key is 0600 even if the old file was not', async () => {
  const out = join(work.path, 'replace');
  await writeFile(out, 'old private\n', { mode: 0o644 });
  await writeFile(`${out}.pub`, 'old public\n', { mode: 0o644 });
  const result = await cli(['keygen', '--type', 'rsa', '--bits', '2048', '--out', out, '--force', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as { bits: number; publicKey: string };
  assert.equal(printed.bits, 2048);
  assert.equal(await mode(out), 0o600);
  assert.equal(await mode(`${out}.pub`), 0o644);
  const pub = await readFile(`${out}.pub`, 'utf8');
  assert.equal(pub, `${printed.publicKey}\n`);
  assert.equal((await sshKeygenOk(['-y', '-f', out])).trim(), pub.trim());
  assert.equal(parseFingerprintLine(await sshKeygenOk(['-l', '-f', out])).bits, 2048);
});

test('bad flag values are usage errors: exit 2, usage on stderr, nothing written', async () => {
  const out = join(work.path, 'never');
  const cases = [
    ['--type', 'dsa', '--out', out],
    ['--bits', 'abc', '--out', out],
    ['--bits', '1024', '--out', out],
    ['--bits', '16385', '--out', out],
    ['--type', 'ed25519', '--bits', '4096', '--out', out],
    ['--comment', 'two\nlines', '--out', out],
    ['--type', 'ed25519'],
  ];
  const results = await Promise.all(cases.map((args) => cli(['keygen', ...args])));
  results.forEach((result, i) => {
    const args = cases[i]?.join(' ');
    assert.equal(result.code, 2, `${args}: exit ${result.code}, ${result.stderr}`);
    assert.match(result.stderr, /error: /, args);
    assert.match(result.stderr, /Usage: valohai-bitbucket keygen/, args);
    assert.equal(result.stdout, '', args);
  });
  assert.match(results[6]?.stderr ?? '', /--out/);
  assert.equal(await exists(out), false);
  assert.equal(await exists(`${out}.pub`), false);
});

test('keygen --help describes the flags and exits 0', async () => {
  const result = await cli(['keygen', '--help']);
  assert.equal(result.code, 0);
  for (const flag of ['--type', '--bits', '--comment', '--out', '--force', '--json']) assert.ok(result.stdout.includes(flag), flag);
});

test('a missing folder is reported with the fix, exit 1', async () => {
  const out = join(work.path, 'no-such-folder', 'key');
  const result = await cli(['keygen', '--type', 'ed25519', '--out', out]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /does not exist: create it first, or choose another --out/);
  assert.equal(result.stdout, '');
});
