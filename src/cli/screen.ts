/**
 * Everything the CLI prints goes through a Screen. Text for people is scrubbed of the credentials this
 * process holds (a server may quote them back in an error) and made inert: control and bidi characters
 * from repository content or a server's words are written out visibly, never acted on. `--json` is
 * exact JSON in which only those credentials, and any piece of a private key the run made, are replaced.
 */
import { inert } from '../http/inert';
import { redact, scrubPrivateKeys } from '../http/redact';

export interface RawOutput {
  isTTY: boolean;
  write(text: string): void;
}

export interface Screen {
  readonly isTTY: boolean;
  /** Text for people. */
  write(text: string): void;
  /** Text for people inside one of our own SGR styles (e.g. `\x1b[32m`), reset after it: the only escapes printed. */
  styled(style: string, text: string): void;
  /** One value as JSON, on a line of its own; `indent` as JSON.stringify takes it. */
  json(value: unknown, indent?: number): void;
  /** A private key this run made: from now on no piece of it is written, whatever a server quoted of it. */
  hold(privateKey: string): void;
}

const RESET = '\x1b[0m';
/** Select Graphic Rendition (colours, dim) and nothing else. */
const isSgr = (style: string) => style.startsWith('\x1b[') && /^[0-9;]*m$/.test(style.slice(2));

/** The credentials the CLI holds, from its environment: tokens, and the Basic auth value made of one. */
export function credentialsOf(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  const bitbucket = env.BITBUCKET_API_TOKEN?.trim();
  if (bitbucket) {
    out.push(bitbucket);
    const email = env.BITBUCKET_EMAIL?.trim();
    if (email) out.push(Buffer.from(`${email}:${bitbucket}`, 'utf8').toString('base64'));
  }
  const valohai = env.VALOHAI_TOKEN?.trim();
  if (valohai) out.push(valohai);
  return out.filter((s) => s.length >= 8);
}

function withoutSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

export function screenOf(raw: RawOutput, secrets: readonly string[]): Screen {
  const keys: string[] = [];
  // One list for the screen's life: the scrubber takes each key apart once per list.
  let all: readonly string[] = secrets;
  const clean = (text: string) => inert(all.length ? redact(text, all) : text, { keepLines: true });
  const exact = (text: string) => scrubPrivateKeys(withoutSecrets(text, secrets), keys);
  return {
    isTTY: raw.isTTY,
    write: (text) => raw.write(clean(text)),
    styled: (style, text) => raw.write(isSgr(style) ? `${style}${clean(text)}${RESET}` : clean(text)),
    json: (value, indent) => {
      const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? exact(v) : v), indent);
      raw.write(`${text}\n`);
    },
    hold: (privateKey) => {
      if (keys.includes(privateKey)) return;
      keys.push(privateKey);
      all = [...secrets, ...keys];
    },
  };
}

/** Where a command writes, what it reads of the environment, and how it says it failed. */
export interface CliIO {
  stdout: Screen;
  stderr: Screen;
  env: Record<string, string | undefined>;
  setExitCode(code: number): void;
  /** All of standard input, for an option given `-` (absent: there is none to read). */
  readStdin?(): Promise<string>;
  /** The time now (default the system clock); tests that run commands in this process give their own. */
  now?: () => Date;
  /** Waits `ms` (default a timer); tests that run commands in this process give their own, with `now`. */
  sleep?: (ms: number) => Promise<void>;
}

/** Screens over this process's stdout and stderr. */
export function processScreens(env: Record<string, string | undefined> = process.env): { stdout: Screen; stderr: Screen } {
  const secrets = credentialsOf(env);
  return {
    stdout: screenOf({ isTTY: Boolean(process.stdout.isTTY), write: (t) => void process.stdout.write(t) }, secrets),
    stderr: screenOf({ isTTY: Boolean(process.stderr.isTTY), write: (t) => void process.stderr.write(t) }, secrets),
  };
}
