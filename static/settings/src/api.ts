// The pages' only door to the backend: typed by the resolver contract, and turns every failure
// (a refused call, a bridge error, a malformed reply) into one error type that carries a fix.
import { invoke } from '@forge/bridge';
import type { PayloadOf, Reply, ResolverError, ResolverName, ValueOf } from '../../../src/forge/contract';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly detail: ResolverError) {
    super(detail.message);
  }
}

function isReply(value: unknown): value is Reply<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { ok?: unknown; value?: unknown; error?: unknown };
  return (v.ok === true && 'value' in v) || (v.ok === false && typeof v.error === 'object' && v.error !== null);
}

export async function call<K extends ResolverName>(name: K, payload: PayloadOf<K>): Promise<ValueOf<K>> {
  let raw: unknown;
  try {
    raw = await invoke(name, payload as Record<string, unknown>);
  } catch {
    // The bridge's own message is about the platform, not something the user can act on.
    throw new ApiError({
      code: 'internal',
      message: 'The app did not answer.',
      fix: 'Reload the page. If it keeps happening, check the app is installed and deployed (forge deploy) and see its logs (forge logs).',
      temporary: true,
    });
  }
  if (!isReply(raw)) {
    throw new ApiError({
      code: 'internal',
      message: 'The app answered with something this page does not understand.',
      fix: 'Reload the page; the page and the app may be from different versions. Redeploy the app if it persists.',
    });
  }
  if (!raw.ok) throw new ApiError(raw.error);
  return raw.value as ValueOf<K>;
}

export function errorDetail(error: unknown): ResolverError {
  if (error instanceof ApiError) return error.detail;
  return { code: 'internal', message: 'Something went wrong on this page.', fix: 'Reload the page and try again.' };
}
