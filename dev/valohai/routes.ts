/**
 * The `/api/v0` routes the product calls, answering as Valohai does. The SSH private key goes in
 * through `PATCH` (or `PUT`) `/repositories/{id}/` and never comes out: responses carry
 * `ssh_private_key_set` only. `OPTIONS` on that route and on the fetch route describes them as Django
 * REST Framework does; the field names and whether PATCH is allowed are settings (ValohaiApiSettings).
 */
import { Router, type HttpReply, type HttpRequest } from '../http';
import type { FetchOutcome, GitFetcher } from './git-fetcher';
import {
  authenticate,
  badRequest,
  isReply,
  jsonObject,
  NOT_FOUND,
  paginate,
  stringField,
  type FieldErrors,
} from './drf';
import { checkPrivateKey, SshPrivateKeyError } from './private-key';
import type { CommitRecord, ProjectRecord, RepositoryRecord, UserRecord, ValohaiState } from './state';

export const API_BASE = '/api/v0';

const PROJECT_NAME_MAX = 128;

function projectJson(state: ValohaiState, req: HttpRequest, p: ProjectRecord): Record<string, unknown> {
  const origin = req.url.origin;
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    owner: { id: state.accountId(p.owner) ?? null, username: p.owner },
    team: p.team,
    ctime: p.ctime.toISOString(),
    mtime: p.mtime.toISOString(),
    url: `${origin}${API_BASE}/projects/${p.id}/`,
    urls: { display: `${origin}/p/${p.owner}/${p.name}/` },
    repository: p.repository && { id: p.repository.id, url: p.repository.url, ref: p.repository.ref },
  };
}

/** Which repository setting each name stands for: the URL, the fetch reference, the SSH private key. */
export type RepositorySetting = 'url' | 'ref' | 'key';

/** How this Valohai's API is built, where real installations might differ; tests change it while it runs. */
export interface ValohaiApiSettings {
  /** The repository settings' field names (default url, ref, ssh_private_key). */
  repositoryFields: Record<RepositorySetting, string>;
  /** Settings OPTIONS lists as read-only; writes ignore them, as DRF does. */
  readOnly: RepositorySetting[];
  /** False: `PATCH /repositories/{id}/` answers 405, only PUT takes the settings. */
  patch: boolean;
}

export function defaultApiSettings(overrides: Partial<ValohaiApiSettings> = {}): ValohaiApiSettings {
  return { repositoryFields: { url: 'url', ref: 'ref', key: 'ssh_private_key' }, readOnly: [], patch: true, ...overrides };
}

const RENDERS = ['application/json', 'text/html'];
const PARSES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/** DRF's SimpleMetadata answer to OPTIONS on the repository detail route. */
function repositoryMetadata(api: ValohaiApiSettings): HttpReply {
  const names = api.repositoryFields;
  const setting = (role: RepositorySetting, label: string, required: boolean, extra: Record<string, unknown> = {}) => ({
    type: 'string',
    required,
    read_only: api.readOnly.includes(role),
    label,
    ...extra,
  });
  return {
    status: 200,
    headers: { allow: api.patch ? 'GET, PUT, PATCH, HEAD, OPTIONS' : 'GET, PUT, HEAD, OPTIONS' },
    body: {
      name: 'Repository Instance',
      description: '',
      renders: RENDERS,
      parses: PARSES,
      actions: {
        PUT: {
          id: { type: 'integer', required: false, read_only: true, label: 'ID' },
          [names.url]: setting('url', 'URL', true, { max_length: 1024 }),
          [names.ref]: setting('ref', 'Fetch reference', false, { max_length: 255 }),
          [names.key]: setting('key', 'SSH private key', false),
          ssh_private_key_set: { type: 'boolean', required: false, read_only: true, label: 'SSH private key set' },
          project: { type: 'nested object', required: false, read_only: true, label: 'Project' },
        },
      },
    },
  };
}

function repositoryJson(state: ValohaiState, req: HttpRequest, project: ProjectRecord, r: RepositoryRecord, api: ValohaiApiSettings): Record<string, unknown> {
  return {
    id: r.id,
    [api.repositoryFields.url]: r.url,
    [api.repositoryFields.ref]: r.ref,
    ssh_private_key_set: state.hasKey(r.id),
    project: { id: project.id, name: project.name, url: `${req.url.origin}${API_BASE}/projects/${project.id}/` },
  };
}

function commitJson(req: HttpRequest, c: CommitRecord): Record<string, unknown> {
  return {
    id: c.id,
    identifier: c.identifier,
    ref: c.ref,
    ref_names: c.refNames,
    commit_time: c.commitTime.toISOString(),
    ctime: c.ctime.toISOString(),
    repository: c.repositoryId,
    project: c.projectId,
    adhoc: false,
    url: `${req.url.origin}${API_BASE}/commits/${c.id}/`,
  };
}

const ORDER_FIELDS: Record<string, (c: CommitRecord) => number | string> = {
  commit_time: (c) => c.commitTime.getTime(),
  ctime: (c) => c.ctime.getTime(),
  identifier: (c) => c.identifier,
  ref: (c) => c.ref,
  id: (c) => c.id,
};

/** DRF's OrderingFilter: comma-separated fields, `-` for descending, unknown fields ignored. */
function orderCommits(commits: CommitRecord[], ordering: string | null): CommitRecord[] {
  const keys = (ordering ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => ORDER_FIELDS[f.replace(/^-/, '')] !== undefined);
  if (keys.length === 0) keys.push('-commit_time');
  keys.push('-id');
  return [...commits].sort((a, b) => {
    for (const key of keys) {
      const get = ORDER_FIELDS[key.replace(/^-/, '')] as (c: CommitRecord) => number | string;
      const [x, y] = [get(a), get(b)];
      if (x === y) continue;
      const cmp = x < y ? -1 : 1;
      return key.startsWith('-') ? -cmp : cmp;
    }
    return 0;
  });
}

export interface ValohaiRoutesDeps {
  state: ValohaiState;
  fetcher: GitFetcher;
  /** Lets the emulator wait for fetches still running when it closes. */
  track: <T>(work: Promise<T>) => Promise<T>;
  /** Read on every request. */
  api: ValohaiApiSettings;
}

/**
 * One fetch of a project's repository, as Valohai's fetch runs it (the API's fetch route and the
 * settings page's Fetch button): git over SSH with the key the project holds, the new heads recorded.
 */
export async function fetchProject(
  { state, fetcher, track }: Pick<ValohaiRoutesDeps, 'state' | 'fetcher' | 'track'>,
  project: ProjectRecord,
): Promise<{ added: CommitRecord[]; errors: string[] }> {
  const repository = project.repository;
  let outcome: FetchOutcome;
  if (!repository || repository.url === '') {
    outcome = {
      heads: [],
      fetchBranch: undefined,
      errors: ['No repository URL is set for this project. Set the repository URL (git@bitbucket.org:workspace/repo.git) in the project settings, then fetch again.'],
    };
  } else {
    outcome = await track(fetcher.fetch({ projectId: project.id, url: repository.url, ref: repository.ref, privateKey: state.keyFor(repository.id) }));
  }
  const known = new Set(state.commitsOf(project.id).map((c) => c.identifier));
  const added: CommitRecord[] = [];
  if (repository && outcome.errors.length === 0) {
    for (const head of [...outcome.heads].sort((a, b) => a.commitTime.getTime() - b.commitTime.getTime())) {
      if (known.has(head.identifier)) continue;
      const ref = outcome.fetchBranch && head.refNames.includes(outcome.fetchBranch) ? outcome.fetchBranch : (head.refNames[0] ?? '');
      added.push(state.addCommit({ identifier: head.identifier, ref, refNames: head.refNames, commitTime: head.commitTime, projectId: project.id, repositoryId: repository.id }));
    }
  }
  state.fetchRecords.push({ projectId: project.id, at: state.clock(), newCommits: added.map((c) => c.identifier), errors: [...outcome.errors] });
  return { added, errors: [...outcome.errors] };
}

export function createValohaiRouter({ state, fetcher, track, api }: ValohaiRoutesDeps): Router {
  const router = new Router(API_BASE);

  const withUser = (handler: (req: HttpRequest, user: UserRecord) => HttpReply | Promise<HttpReply>) => (req: HttpRequest) => {
    const user = authenticate(state, req);
    return isReply(user) ? user : handler(req, user);
  };
  const visibleProject = (user: UserRecord, id: string | undefined) => {
    const project = id === undefined ? undefined : state.findProject(id);
    return project && state.canSee(user, project) ? project : undefined;
  };

  const visibleRepository = (user: UserRecord, id: string | undefined) => {
    const found = /^\d+$/.test(id ?? '') ? state.findRepository(Number(id)) : undefined;
    return found && state.canSee(user, found.project) ? found : undefined;
  };

  /** PATCH (`partial`) or PUT of the repository settings, by the names and rules `api` gives. */
  function writeRepository(req: HttpRequest, user: UserRecord, partial: boolean): HttpReply {
    if (partial && !api.patch) {
      return { status: 405, headers: { allow: 'GET, PUT, HEAD, OPTIONS' }, body: { detail: 'Method "PATCH" not allowed.' } };
    }
    const found = visibleRepository(user, req.params.id);
    if (!found) return NOT_FOUND;
    const body = jsonObject(req);
    if (isReply(body)) return body;
    const names = api.repositoryFields;
    // Read-only and unknown fields are ignored, as DRF ignores them: the preflight exists for this.
    const writable = (role: RepositorySetting) => (api.readOnly.includes(role) ? {} : body);
    const errors: FieldErrors = {};
    const url = stringField(writable('url'), names.url, errors, { required: !partial && !api.readOnly.includes('url') });
    const ref = stringField(writable('ref'), names.ref, errors, { allowBlank: true });
    const key = stringField(writable('key'), names.key, errors, { allowBlank: true });
    if (key !== undefined && key !== '' && !errors[names.key]) {
      // Checked before anything is stored, so a refused key leaves every setting as it was.
      try {
        checkPrivateKey(key);
      } catch (err) {
        if (!(err instanceof SshPrivateKeyError)) throw err;
        errors[names.key] = [err.message];
      }
    }
    if (Object.keys(errors).length) return badRequest(errors);
    const { project, repository } = found;
    if (url !== undefined) repository.url = url.trim();
    if (ref !== undefined) repository.ref = ref.trim();
    // As DRF's update: a field left out of a PUT that is not required keeps its value.
    if (key !== undefined) state.setKey(repository.id, key);
    project.mtime = state.clock();
    return { status: 200, body: repositoryJson(state, req, project, repository, api) };
  }

  async function runFetch(req: HttpRequest, project: ProjectRecord): Promise<HttpReply> {
    const { added, errors } = await fetchProject({ state, fetcher, track }, project);
    return { status: 201, body: { commits: orderCommits(added, '-commit_time').map((c) => commitJson(req, c)), errors } };
  }

  router
    .on(
      'GET',
      '/users/me/',
      withUser((_req, user) => ({ status: 200, body: { id: user.id, username: user.username, email: user.email } })),
    )
    .on(
      'GET',
      '/projects/ownership_options/',
      withUser((_req, user) => ({ status: 200, body: state.ownershipOptions(user) })),
    )
    .on(
      'GET',
      '/projects/',
      withUser((req, user) =>
        paginate(
          req,
          state.projects.filter((p) => state.canSee(user, p)),
          (p) => projectJson(state, req, p),
        ),
      ),
    )
    .on(
      'POST',
      '/projects/',
      withUser((req, user) => {
        const body = jsonObject(req);
        if (isReply(body)) return body;
        const errors: FieldErrors = {};
        const name = stringField(body, 'name', errors, { required: true, maxLength: PROJECT_NAME_MAX });
        const description = stringField(body, 'description', errors, { allowBlank: true }) ?? '';
        const ownerChoice = stringField(body, 'owner', errors) ?? user.username;
        const options = state.ownershipOptions(user);
        if (!errors.owner && !options.includes(ownerChoice)) errors.owner = [`"${ownerChoice}" is not a valid choice.`];
        if (Object.keys(errors).length || name === undefined) return badRequest(errors);
        const [owner = '', team] = ownerChoice.split(':');
        if (state.projects.some((p) => p.owner.toLowerCase() === owner.toLowerCase() && p.name.toLowerCase() === name.toLowerCase())) {
          return badRequest({ non_field_errors: ['The fields owner, name must make a unique set.'] });
        }
        const project = state.addProject({ name, description, owner, team: team ?? null });
        return { status: 201, body: projectJson(state, req, project) };
      }),
    )
    .on(
      'GET',
      '/projects/{id}/',
      withUser((req, user) => {
        const project = visibleProject(user, req.params.id);
        return project ? { status: 200, body: projectJson(state, req, project) } : NOT_FOUND;
      }),
    )
    .on(
      'POST',
      '/projects/{id}/fetch/',
      withUser((req, user) => {
        const project = visibleProject(user, req.params.id);
        return project ? runFetch(req, project) : NOT_FOUND;
      }),
    )
    .on(
      'GET',
      '/projects/{id}/commits/',
      withUser((req, user) => {
        const project = visibleProject(user, req.params.id);
        if (!project) return NOT_FOUND;
        return paginate(req, orderCommits(state.commitsOf(project.id), req.query.get('ordering')), (c) => commitJson(req, c));
      }),
    )
    .on(
      'GET',
      '/repositories/{id}/',
      withUser((req, user) => {
        const found = visibleRepository(user, req.params.id);
        return found ? { status: 200, body: repositoryJson(state, req, found.project, found.repository, api) } : NOT_FOUND;
      }),
    )
    .on(
      'OPTIONS',
      '/repositories/{id}/',
      withUser((req, user) => (visibleRepository(user, req.params.id) ? repositoryMetadata(api) : NOT_FOUND)),
    )
    .on('PATCH', '/repositories/{id}/', withUser((req, user) => writeRepository(req, user, true)))
    .on('PUT', '/repositories/{id}/', withUser((req, user) => writeRepository(req, user, false)))
    .on(
      'OPTIONS',
      '/projects/{id}/fetch/',
      withUser((req, user) =>
        visibleProject(user, req.params.id)
          ? { status: 200, headers: { allow: 'POST, OPTIONS' }, body: { name: 'Fetch', description: '', renders: RENDERS, parses: PARSES } }
          : NOT_FOUND,
      ),
    )
    .on(
      'GET',
      '/commits/',
      withUser((req, user) => {
        const projectId = req.query.get('project');
        const commits = state.commitRecords.filter((c) => {
          const project = state.findProject(c.projectId);
          return project !== undefined && state.canSee(user, project) && (projectId === null || c.projectId.toLowerCase() === projectId.toLowerCase());
        });
        return paginate(req, orderCommits(commits, req.query.get('ordering')), (c) => commitJson(req, c));
      }),
    );
  return router;
}
