/** Runs the real OpenSSH ssh-keygen for the tests that hold our keys against it. */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Fails the calling test loudly when ssh-keygen is absent, instead of letting the checks pass vacuously. */
export function requireSshKeygen(): void {
  const probe = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(
      `ssh-keygen could not be run (${(probe.error as NodeJS.ErrnoException).code}): install the OpenSSH client ` +
        '(e.g. apt-get install openssh-client); these tests check every key against it.',
    );
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function sshKeygen(args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('ssh-keygen', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    // ssh-keygen may exit without reading its input; that is its answer, not a test failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/** Like sshKeygen, but a non-zero exit is an error carrying ssh-keygen's own complaint. */
export async function sshKeygenOk(args: string[], input?: string): Promise<string> {
  const result = await sshKeygen(args, input);
  if (result.code !== 0) throw new Error(`ssh-keygen ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

export interface FingerprintLine {
  bits: number;
  fingerprint: string;
  comment: string;
  /** RSA, ED25519, ECDSA, DSA. */
  kind: string;
}

/** Reads `ssh-keygen -l` output: `4096 SHA256:... comment (RSA)`. */
export function parseFingerprintLine(output: string): FingerprintLine {
  const match = /^(\d+) (SHA256:[A-Za-z0-9+/]+) (.*) \(([A-Z0-9-]+)\)$/.exec(output.trim());
  if (!match) throw new Error(`unexpected ssh-keygen -l output: ${output}`);
  return { bits: Number(match[1]), fingerprint: match[2] as string, comment: match[3] as string, kind: match[4] as string };
}

/** `type base64` of a key line, dropping the comment. */
export function typeAndBase64(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

export async function makeTempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Writes a private key the way ssh-keygen insists on: readable by the owner only. */
export function writePrivateKey(path: string, pem: string): Promise<void> {
  return writeFile(path, pem, { mode: 0o600, flag: 'wx' });
}
