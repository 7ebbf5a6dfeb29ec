/**
 * Repository access keys (`/deploy-keys`): list, add, read, relabel, delete. Admin permission on the
 * repository is required for all of them; refused keys get Bitbucket's own 400 texts as field errors:
 * an add in the bare form known from Bitbucket (`{"key": [{"message": "..."}]}`, the spec declares no
 * body there), a relabel in the `error` envelope the spec declares for that 400, with `error.fields`.
 */
import type { HttpReply, Router } from '../../http';
import { isReply, jsonBody, loadRepo, mountRoute, type ApiCall, type ApiDeps } from '../api-route';
import { AccessKeyFormatError } from '../access-key-format';
import { bbError, fieldError } from '../errors';
import { paginate } from '../pagination';
import { accessKeyJson, fullName } from '../serializers';
import { AccessKeyConflictError, type AccessKeyEntry, type RepoRecord } from '../state';

const KEYS = '/repositories/{workspace}/{repo_slug}/deploy-keys';

function refused(err: unknown, form: 'bare' | 'envelope'): HttpReply {
  if (err instanceof AccessKeyFormatError) return fieldError(err.field, err.message, form);
  if (err instanceof AccessKeyConflictError) return fieldError('key', err.message, form);
  throw err;
}

function loadKey(call: ApiCall): { repo: RepoRecord; entry: AccessKeyEntry } | HttpReply {
  const repo = loadRepo(call, 'admin');
  if (isReply(repo)) return repo;
  const raw = call.req.params.key_id ?? '';
  const entry = /^\d+$/.test(raw) ? call.state.getAccessKey(repo, Number(raw)) : undefined;
  if (!entry) return bbError(404, `Access key ${raw} not found on ${fullName(repo)}`);
  return { repo, entry };
}

export function mountAccessKeyRoutes(router: Router, deps: ApiDeps): void {
  mountRoute(router, deps, 'GET', KEYS, (call) => {
    const repo = loadRepo(call, 'admin');
    if (isReply(repo)) return repo;
    const page = paginate(call.req, call.state.listAccessKeys(repo).map((k) => accessKeyJson(k, call.urls)));
    return isReply(page) ? page : { status: 200, body: page };
  });

  mountRoute(router, deps, 'POST', KEYS, (call) => {
    const repo = loadRepo(call, 'admin');
    if (isReply(repo)) return repo;
    const body = jsonBody(call.req);
    if (isReply(body)) return body;
    try {
      return { status: 200, body: accessKeyJson(call.state.addAccessKey(repo, { key: body.key, label: body.label }), call.urls) };
    } catch (err) {
      return refused(err, 'bare');
    }
  });

  mountRoute(router, deps, 'GET', `${KEYS}/{key_id}`, (call) => {
    const found = loadKey(call);
    return isReply(found) ? found : { status: 200, body: accessKeyJson(found.entry, call.urls) };
  });

  mountRoute(router, deps, 'PUT', `${KEYS}/{key_id}`, (call) => {
    const found = loadKey(call);
    if (isReply(found)) return found;
    const body = jsonBody(call.req);
    if (isReply(body)) return body;
    try {
      const entry = call.state.updateAccessKey(found.entry, { key: body.key, label: body.label, comment: body.comment });
      return { status: 200, body: accessKeyJson(entry, call.urls) };
    } catch (err) {
      return refused(err, 'envelope');
    }
  });

  mountRoute(router, deps, 'DELETE', `${KEYS}/{key_id}`, (call) => {
    const found = loadKey(call);
    if (isReply(found)) return found;
    call.state.deleteAccessKey(found.entry);
    return { status: 204 };
  });
}
