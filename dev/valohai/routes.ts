/**
 * The `/api/v0` routes the product calls, answering as Valohai does. The SSH private key goes in
 * through `PATCH /repositories/{id}/` and never comes out: responses carry `ssh_private_key_set` only.
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

function repositoryJson(state: ValohaiState, req: HttpRequest, project: ProjectRecord, r: RepositoryRecord): Record<string, unknown> {
  return {
    id: r.id,
    url: r.url,
    ref: r.ref,
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
}

export function createValohaiRouter({ state, fetcher, track }: ValohaiRoutesDeps): Router {
  const router = new Router(API_BASE);

  const withUser = (handler: (req: HttpRequest, user: UserRecord) => HttpReply | Promise<HttpReply>) => (req: HttpRequest) => {
    const user = authenticate(state, req);
    return isReply(user) ? user : handler(req, user);
  };
  const visibleProject = (user: UserRecord, id: string | undefined) => {
    const project = id === undefined ? undefined : state.findProject(id);
    return project && state.canSee(user, project) ? project : undefined;
  };

  async function runFetch(req: HttpRequest, project: ProjectRecord): Promise<HttpReply> {
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
    return { status: 201, body: { commits: orderCommits(added, '-commit_time').map((c) => commitJson(req, c)), errors: outcome.errors } };
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
        const found = /^\d+$/.test(req.params.id ?? '') ? state.findRepository(Number(req.params.id)) : undefined;
        if (!found || !state.canSee(user, found.project)) return NOT_FOUND;
        return { status: 200, body: repositoryJson(state, req, found.project, found.repository) };
      }),
    )
    .on(
      'PATCH',
      '/repositories/{id}/',
      withUser((req, user) => {
        const found = /^\d+$/.test(req.params.id ?? '') ? state.findRepository(Number(req.params.id)) : undefined;
        if (!found || !state.canSee(user, found.project)) return NOT_FOUND;
        const body = jsonObject(req);
        if (isReply(body)) return body;
        const errors: FieldErrors = {};
        const url = stringField(body, 'url', errors);
        const ref = stringField(body, 'ref', errors);
        const key = stringField(body, 'ssh_private_key', errors, { allowBlank: true });
        if (key !== undefined && key !== '' && !errors.ssh_private_key) {
          // Checked before anything is stored, so a refused key leaves every setting as it was.
          try {
            checkPrivateKey(key);
          } catch (err) {
            if (!(err instanceof SshPrivateKeyError)) throw err;
            errors.ssh_private_key = [err.message];
          }
        }
        if (Object.keys(errors).length) return badRequest(errors);
        const { project, repository } = found;
        if (url !== undefined) repository.url = url.trim();
        if (ref !== undefined) repository.ref = ref.trim();
        if (key !== undefined) state.setKey(repository.id, key);
        project.mtime = state.clock();
        return { status: 200, body: repositoryJson(state, req, project, repository) };
      }),
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
