/**
 * `--public-key-file`: the public half of a key Valohai made (Settings › Repository › Generate SSH
 * Key), read from a file or, given `-`, from standard input. What is read is checked before anything
 * else happens; a refusal names the file and what is wrong, never what it holds: a private key given
 * by mistake is held back from both screens as well.
 */
import { readFile } from 'node:fs/promises';
import { checkGivenPublicKey, GivenKeyError } from '../connect/index';
import { ConfigError } from './config';
import type { CliIO } from './screen';

/** The largest file read: a public key line is a few hundred bytes, 16 KiB covers any with a comment. */
const MAX_BYTES = 64 * 1024;

export async function readPublicKeyFile(io: CliIO, path: string): Promise<string> {
  const where = path === '-' ? 'standard input' : path;
  let text: string;
  if (path === '-') {
    if (!io.readStdin) throw new ConfigError('--public-key-file - reads standard input, which this run does not have: give a file instead.');
    text = await io.readStdin();
  } else {
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`--public-key-file ${path} could not be read${code ? ` (${code})` : ''}: give the file with the public key Valohai showed.`);
    }
  }
  if (Buffer.byteLength(text) > MAX_BYTES) throw new ConfigError(`--public-key-file: ${where} is far larger than a public key line; nothing was done.`);
  try {
    return checkGivenPublicKey(text).normalized;
  } catch (err) {
    if (!(err instanceof GivenKeyError)) throw err;
    if (err.reason === 'private-key') {
      io.stdout.hold(text.trim());
      io.stderr.hold(text.trim());
    }
    throw new ConfigError(`--public-key-file (${where}): ${err.message} Nothing was done.`);
  }
}
