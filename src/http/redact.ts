/**
 * Scrubbing of text that came from a server before it goes into an error message. A server may echo
 * what it was sent (a rejected private key, a key body in a validation message); whatever it says,
 * the secrets this process holds must not reach a log through an error.
 */

const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const PUBLIC_KEY_BODY = /\b(ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+)\s+[A-Za-z0-9+/]{16,}={0,3}/g;
/** Long base64 runs: a stray line of a key body even without its armour. */
const LONG_BASE64 = /[A-Za-z0-9+/]{60,}={0,3}/g;
/** Runs of key- or token-like characters: the unit checked against the secrets. */
const RUN = /[A-Za-z0-9+/=_-]{16,}/g;
const WINDOW = 16;

/** Every WINDOW-long piece of a secret's body (armour lines and whitespace removed). */
function windowsOf(secret: string, into: Set<string>): void {
  const body = secret
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('-----'))
    .join('')
    .replace(/\s+/g, '');
  for (let i = 0; i + WINDOW <= body.length; i++) into.add(body.slice(i, i + WINDOW));
}

function containsWindow(run: string, windows: Set<string>): boolean {
  for (let i = 0; i + WINDOW <= run.length; i++) if (windows.has(run.slice(i, i + WINDOW))) return true;
  return false;
}

/**
 * `text` with private-key blocks, public-key bodies, long base64 runs and the given secrets replaced by
 * placeholders. A secret is found whole or in pieces: any run of key-like characters sharing 16
 * characters in a row with a secret is removed, so a key echoed cut off or re-wrapped (an error page
 * quoting part of the request) is caught too.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  const windows = new Set<string>();
  for (const secret of secrets) {
    const whole = secret.trim();
    if (whole.length >= 8) out = out.split(whole).join('[redacted]');
    windowsOf(secret, windows);
  }
  if (windows.size) out = out.replace(RUN, (run) => (containsWindow(run, windows) ? '[redacted]' : run));
  return out
    .replace(PRIVATE_KEY_BLOCK, '[private key redacted]')
    .replace(PUBLIC_KEY_BODY, '$1 [key redacted]')
    .replace(LONG_BASE64, '[redacted]');
}

/** Server text shortened for a message: an HTML page to its title, tags dropped, whitespace folded, at most `max` characters. */
export function excerpt(text: string, max = 300): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
  const plain = (title ?? text).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}
