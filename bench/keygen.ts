import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../src/ssh/index';
import { median, row, sample, type BenchSection } from './lib';

const RSA_RUNS = 15;
const ED25519_RUNS = 200;
const ED25519_TARGET_MS = 5;

function runSshKeygen(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ssh-keygen', args, (err, _stdout, stderr) => (err ? reject(new Error(`ssh-keygen failed: ${stderr.trim() || err.message}`)) : resolve()));
  });
}

/**
 * Alternates the two contenders run by run, so that load from other processes on a shared machine
 * falls on both alike instead of on whichever happened to run second.
 */
async function interleaved(a: () => Promise<unknown>, b: () => Promise<unknown>, runs: number, warmup: number): Promise<[number[], number[]]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const aTimes: number[] = [];
  const bTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    aTimes.push(...(await sample(a, 1, 0)));
    bTimes.push(...(await sample(b, 1, 0)));
  }
  return [aTimes, bTimes];
}

function ratio(ours: number[], theirs: number[]): string {
  return (median(ours) / median(theirs)).toFixed(2);
}

/** Our generateKeyPair against `ssh-keygen` making the same keys, in the same run and on the same machine. */
export async function benchKeygen(): Promise<BenchSection> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-bench-keygen-'));
  let n = 0;
  // ssh-keygen refuses to overwrite, so each run gets a fresh file name.
  const sshKeygen = (type: string, extra: string[]) => () =>
    runSshKeygen(['-t', type, ...extra, '-N', '', '-q', '-f', join(dir, `key-${n++}`)]);
  try {
    const [oursRsa, theirsRsa] = await interleaved(
      () => generateKeyPair({ type: 'rsa', bits: 4096 }),
      sshKeygen('rsa', ['-b', '4096']),
      RSA_RUNS,
      1,
    );
    const [oursEd, theirsEd] = await interleaved(() => generateKeyPair({ type: 'ed25519' }), sshKeygen('ed25519', []), ED25519_RUNS, 5);

    const rsaHolds = median(oursRsa) <= median(theirsRsa);
    const edHolds = median(oursEd) < ED25519_TARGET_MS;
    return {
      title: 'SSH key generation',
      rows: [
        row('RSA 4096: generateKeyPair', oursRsa, { 'ours/ssh-keygen': ratio(oursRsa, theirsRsa) }),
        row('RSA 4096: ssh-keygen -t rsa -b 4096', theirsRsa),
        row('Ed25519: generateKeyPair', oursEd, { 'ours/ssh-keygen': ratio(oursEd, theirsEd) }),
        row('Ed25519: ssh-keygen -t ed25519', theirsEd),
      ],
      notes: [
        `RSA 4096 ${rsaHolds ? 'holds' : 'misses'} the target (median no slower than ssh-keygen's): ` +
          `${median(oursRsa).toFixed(0)} ms against ${median(theirsRsa).toFixed(0)} ms (ratio ${ratio(oursRsa, theirsRsa)}). ` +
          `Both run OpenSSL's RSA prime search, whose time varies several-fold from key to key, so over ${RSA_RUNS} runs ` +
          `a difference of a few tens of percent either way is noise; ssh-keygen's time also includes starting a process.`,
        `Ed25519 ${edHolds ? 'holds' : 'misses'} the target (median under ${ED25519_TARGET_MS} ms): ${median(oursEd).toFixed(2)} ms.`,
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
