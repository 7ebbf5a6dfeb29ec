/**
 * Takes the SSH private key out of a request body before it is kept in the request log: the
 * `ssh_private_key` field of a JSON body, and any private key block in a body that is not JSON.
 */

export const REDACTED = '[redacted]';

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const KEY_FIELD = /("ssh_private_key"\s*:\s*")((?:[^"\\]|\\.)*)("?)/g;

export function redactRequestBody(body: string): string {
  if (body === '') return body;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const copy = { ...(parsed as Record<string, unknown>) };
      if ('ssh_private_key' in copy && copy.ssh_private_key !== '') copy.ssh_private_key = REDACTED;
      return JSON.stringify(copy).replace(PEM_BLOCK, REDACTED);
    }
  } catch {
    // Not JSON: fall through to the text rules.
  }
  return body.replace(KEY_FIELD, (_m, open: string, value: string, close: string) => `${open}${value === '' ? '' : REDACTED}${close}`).replace(PEM_BLOCK, REDACTED);
}
