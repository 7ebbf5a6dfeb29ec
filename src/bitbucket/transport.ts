/**
 * How requests reach Bitbucket. The client speaks only this port: the CLI plugs in `fetch` with Basic
 * auth, the Forge app its `requestBitbucket`, tests a function of their own.
 */
import { networkErrorCode } from '../http/network';
import { redact } from '../http/redact';
import { networkError } from './errors';

export type BitbucketMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface BitbucketRequest {
  method: BitbucketMethod;
  /** Relative to the API root `/2.0`, starting with `/`, already encoded (may carry a query string). */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

export interface BitbucketResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  text: string;
}

export interface BitbucketTransport {
  /**
   * The API root requests go to, e.g. `https://api.bitbucket.org/2.0` (Bitbucket Cloud's when absent):
   * links in answers are followed only below it.
   */
  readonly baseUrl?: string;
  /**
   * Answers with whatever status Bitbucket gave; throws only when no answer arrived, preferably a
   * `BitbucketNetworkError` (anything else thrown is turned into one by the client).
   */
  request(req: BitbucketRequest): Promise<BitbucketResponse>;
}

export interface FetchTransportOptions {
  /** API root, e.g. `https://api.bitbucket.org/2.0`. */
  baseUrl: string;
  /** The Atlassian account email the API token belongs to. */
  email: string;
  apiToken: string;
  fetch?: typeof fetch;
  /** Per request, body included (default 30 000). */
  timeoutMs?: number;
}

export const DEFAULT_BITBUCKET_TIMEOUT_MS = 30_000;

/** Basic auth `email:apiToken` over `fetch`. Failures without an answer become `BitbucketNetworkError`. */
export function createFetchTransport(opts: FetchTransportOptions): BitbucketTransport {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new TypeError(`The Bitbucket API URL must start with https:// (got ${base.protocol}//${base.host}).`);
  }
  if (base.username || base.password) {
    throw new TypeError('The Bitbucket API URL must not contain credentials: pass the email and API token separately.');
  }
  const root = base.href.replace(/\/+$/, '');
  const origin = base.host;
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BITBUCKET_TIMEOUT_MS;
  // Built once and kept in this closure only: never part of an error, a log line or a returned object.
  const basic = Buffer.from(`${opts.email}:${opts.apiToken}`, 'utf8').toString('base64');
  const authorization = `Basic ${basic}`;
  const credentials = [opts.apiToken, basic];

  return {
    baseUrl: root,
    async request(req) {
      if (!req.path.startsWith('/')) throw new TypeError(`A Bitbucket API path must start with "/" (got "${req.path.slice(0, 40)}").`);
      const headers: Record<string, string> = { authorization };
      let body: string | undefined;
      if (req.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(req.body);
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      try {
        // A redirect is answered as it is (the client reports it): following one would send the
        // credentials, or the request body, somewhere not configured.
        const res = await doFetch(`${root}${req.path}`, { method: req.method, headers, body, signal, redirect: 'manual' });
        const raw = await res.text();
        // An error body that quotes the credentials (a proxy's debug page, a gateway echoing headers)
        // loses them here, before anything reads it.
        const text = res.status >= 200 && res.status < 300 ? raw : redact(raw, credentials);
        const out: Record<string, string> = {};
        res.headers.forEach((value, name) => {
          out[name.toLowerCase()] = value;
        });
        return { status: res.status, headers: out, text };
      } catch (err) {
        // Only the code survives: the cause may quote the request.
        const code = timeout.aborted ? 'ETIMEDOUT' : networkErrorCode(err);
        throw networkError(origin, code);
      }
    },
  };
}
