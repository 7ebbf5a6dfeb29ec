/**
 * What a Valohai host may be: the one rule for the client, the CLI's configuration and the workspace
 * page (which bundles this file through the contract, so it imports nothing).
 *
 * An origin only, `https://host[:port]`, its host in lower case and without a trailing slash: the API is
 * `<host>/api/v0/` and the token page `<host>/auth/tokens/`, so a path would only misplace them. HTTPS,
 * because every request carries the API token (and one carries a private key); plain HTTP only to this
 * machine, where the local stand-ins run.
 */

/** Valohai's own installation. */
export const DEFAULT_VALOHAI_HOST = 'https://app.valohai.com';

const LOCAL_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `raw` as the host the app uses, or why it cannot be one (a sentence that says how to write it). */
export function parseValohaiHost(raw: string): { host: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { problem: `The Valohai host "${raw.slice(0, 100)}" is not a URL: give it like ${DEFAULT_VALOHAI_HOST}.` };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTNAMES.has(url.hostname))) {
    const plain = url.protocol === 'http:' ? ', not http:// (plain http only to this machine)' : '';
    return { problem: `The Valohai host must start with https://${plain} (got ${url.protocol}//${url.host}).` };
  }
  if (url.username || url.password) return { problem: 'The Valohai host must not contain credentials: pass the API token separately.' };
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { problem: `The Valohai host is an address without a path, query or fragment: give it like ${DEFAULT_VALOHAI_HOST}.` };
  }
  return { host: url.origin };
}

/** `raw` as the host the app uses, or null when it cannot be one. */
export function normaliseValohaiHost(raw: string): string | null {
  const parsed = parseValohaiHost(raw);
  return 'host' in parsed ? parsed.host : null;
}
