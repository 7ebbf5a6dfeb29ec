/**
 * Network failures (no HTTP answer at all) reduced to a code and a sentence. Only the code is read from
 * the underlying error: its message, config or cause may carry request headers or bodies (axios errors
 * hold `config.data`), so nothing else of it is ever kept.
 */

/** Codes that mean "try again": the request may not have arrived, or its answer was lost. */
export const RETRIED_NETWORK_CODES: readonly string[] = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'FETCH_FAILED',
];

export function isRetryableNetworkCode(code: string): boolean {
  return RETRIED_NETWORK_CODES.includes(code);
}

const UNDICI_CODES: Record<string, string> = {
  UND_ERR_SOCKET: 'ECONNRESET',
  UND_ERR_CLOSED: 'ECONNRESET',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_BODY_TIMEOUT: 'ETIMEDOUT',
  // axios names its own timeout this way unless told otherwise
  ECONNABORTED: 'ETIMEDOUT',
};

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/**
 * The most specific network error code found on `err` or its causes: `ECONNRESET`, `ETIMEDOUT`,
 * `ECONNREFUSED`, ..., `FETCH_FAILED` for a bare "fetch failed", `ABORTED` when the caller cancelled,
 * `NETWORK` when nothing more is known.
 */
export function networkErrorCode(err: unknown): string {
  let fallback = 'NETWORK';
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const name = field(current, 'name');
    if (name === 'TimeoutError') return 'ETIMEDOUT';
    if (name === 'AbortError') return 'ABORTED';
    const code = field(current, 'code');
    if (typeof code === 'string' && code !== 'ERR_NETWORK' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
      return UNDICI_CODES[code] ?? code;
    }
    const message = field(current, 'message');
    if (typeof message === 'string') {
      if (/socket hang up/i.test(message)) fallback = 'ECONNRESET';
      else if (/timeout/i.test(message) && fallback === 'NETWORK') fallback = 'ETIMEDOUT';
      else if (/fetch failed/i.test(message) && fallback === 'NETWORK') fallback = 'FETCH_FAILED';
    }
    current = field(current, 'cause');
  }
  return fallback;
}

/** A short human phrase for a network error code. */
export function describeNetworkCode(code: string): string {
  switch (code) {
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ETIMEDOUT':
      return 'no answer came in time';
    case 'ENOTFOUND':
      return 'the host name does not resolve';
    case 'EAI_AGAIN':
      return 'the host name could not be resolved just now';
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return 'the network cannot reach the host';
    case 'ABORTED':
      return 'the request was cancelled';
    case 'FETCH_FAILED':
      return 'the request failed before an answer arrived';
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'the server\'s TLS certificate was not accepted';
    default:
      return `network error ${code}`;
  }
}
