import { Command, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { generateKeyPair, InvalidKeyOptionsError, resolveKeyOptions, type SshKeyType } from '../../ssh/index';
import { processScreens } from '../screen';

interface KeygenFlags {
  type: SshKeyType;
  bits?: number;
  comment?: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/** A failure to report on stderr with exit status 1 (not a usage error). */
class KeygenError extends Error {
  override readonly name = 'KeygenError';
}

function parseBits(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('Give the key size as a whole number of bits, e.g. 4096.');
  return Number(value);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function explainWriteError(path: string, err: unknown): KeygenError {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
      return new KeygenError(`${path} already exists: pass --force to replace it.`);
    case 'ENOENT':
    case 'ENOTDIR':
      return new KeygenError(`The folder ${dirname(path)} does not exist: create it first, or choose another --out.`);
    case 'EACCES':
    case 'EPERM':
      return new KeygenError(`No permission to write ${path}: choose another --out.`);
    case 'EISDIR':
      return new KeygenError(`${path} is a folder: give --out the path of a file.`);
    default:
      return new KeygenError(`Could not write ${path} (${code ?? 'unknown error'}): choose another --out.`);
  }
}

/**
 * Creates `path` holding `content` with `mode` from the first byte on, so the private key is never
 * readable by others, not even for an instant. Replacing goes through a new file and a rename: an
 * existing file's looser mode is never inherited, and a reader never sees half a key.
 */
async function writeNewFile(path: string, content: string, mode: number, replace: boolean): Promise<void> {
  const target = replace ? `${path}.${randomBytes(6).toString('hex')}.tmp` : path;
  let created = false;
  try {
    const handle = await open(target, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    if (replace) await rename(target, path);
  } catch (err) {
    if (created) await rm(target, { force: true });
    throw explainWriteError(path, err);
  }
}

/** `keygen`: writes a fresh key pair to --out and --out.pub. */
export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('Generate an SSH key pair: PATH gets the private key (mode 600), PATH.pub the public key line.')
    .addOption(new Option('--type <type>', 'key type').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--bits <n>', 'RSA key size, 2048 to 16384 (default 4096); Ed25519 keys are always 256', parseBits)
    .option('--comment <text>', 'text at the end of the public key line')
    .requiredOption('--out <path>', 'file for the private key; the public key goes to PATH.pub')
    .option('--force', 'replace PATH and PATH.pub if they exist')
    .option('--json', 'print only one JSON object: {"type", "bits", "fingerprint", "publicKey"}')
    .action(async function (this: Command) {
      const flags = this.opts<KeygenFlags>();
      const screens = processScreens();
      let options;
      try {
        options = resolveKeyOptions({ type: flags.type, bits: flags.bits, comment: flags.comment });
      } catch (err) {
        if (err instanceof InvalidKeyOptionsError) this.error(`error: ${err.message}`, { exitCode: 2, code: 'keygen.invalidOption' });
        throw err;
      }

      const privatePath = resolve(flags.out);
      const publicPath = `${privatePath}.pub`;
      try {
        if (!flags.force) {
          // Checked before generating, so a refusal costs nothing; the exclusive create below still
          // guards against a file appearing in between.
          for (const path of [privatePath, publicPath]) {
            if (await exists(path)) throw new KeygenError(`${path} already exists: pass --force to replace it.`);
          }
        }
        const pair = await generateKeyPair(options);
        await writeNewFile(privatePath, pair.privateKey, 0o600, flags.force === true);
        try {
          await writeNewFile(publicPath, `${pair.publicKey}\n`, 0o644, flags.force === true);
        } catch (err) {
          // Half a pair is worse than none: the next attempt would stop at the private key.
          if (!flags.force) await rm(privatePath, { force: true });
          throw err;
        }

        if (flags.json) {
          const { type, bits, fingerprint, publicKey } = pair;
          screens.stdout.json({ type, bits, fingerprint, publicKey });
        } else {
          screens.stdout.write(
            `Private key: ${privatePath} (mode 600; keep it secret)\n` +
              `Public key:  ${publicPath}\n` +
              `Fingerprint: ${pair.fingerprint} (${pair.type === 'rsa' ? 'RSA' : 'ED25519'} ${pair.bits})\n`,
          );
        }
      } catch (err) {
        if (!(err instanceof KeygenError)) throw err;
        screens.stderr.write(`valohai-bitbucket keygen: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
