/**
 * The project's repository settings as Valohai's web UI shows them (Settings › Repository): URL, Fetch
 * reference, "Generate SSH Key" and a Fetch button, as small server-rendered HTML pages. Generating
 * keeps the private half inside the emulator's state, where the fetch uses it; the page shows only the
 * public half, to be put on Bitbucket.
 *
 * The pages stand in for a signed-in Valohai user's session: they answer on the emulator's loopback
 * address only, and a POST whose browser names another origin is refused. Tests may generate through
 * the same form: `POST .../generate-key/` with `Accept: application/json` answers
 * `{public_key, fingerprint}` instead of redirecting to the page.
 */
import { Router, type HttpReply, type HttpRequest } from '../http';
import { fetchProject, type ValohaiRoutesDeps } from './routes';
import type { ProjectRecord } from './state';

export const settingsPagePath = (owner: string, name: string): string =>
  `/p/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/settings/repository/`;

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (value: string): string => value.replace(/[&<>"']/g, (c) => escapes[c] ?? c);

const html = (body: string, status = 200): HttpReply => ({ status, headers: { 'content-type': 'text/html; charset=utf-8' }, body });

function wantsJson(req: HttpRequest): boolean {
  return String(req.headers.accept ?? '').includes('application/json');
}

/** Loopback Host only; a change only from this origin when the browser says where it comes from. */
function refused(req: HttpRequest): HttpReply | undefined {
  const port = req.url.port;
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  if (!hosts.includes(String(req.headers.host ?? '').toLowerCase())) return html('<p>Open this page on the emulator\'s own address.</p>', 421);
  const origin = req.headers.origin;
  if (req.method !== 'GET' && origin !== undefined && !hosts.some((h) => origin.toLowerCase() === `http://${h}`)) {
    return html('<p>Changes are taken only from this page.</p>', 403);
  }
  return undefined;
}

interface Notice {
  text: string;
  tone: 'ok' | 'error';
}

function page(project: ProjectRecord, publicKey: string | undefined, keySet: boolean, notice: Notice | undefined): string {
  const action = settingsPagePath(project.owner, project.name);
  const repository = project.repository;
  const key = publicKey
    ? `<p>Valohai generated this key pair. Add the public key below to the repository (and its submodule repositories) as an access key:</p>
       <textarea readonly rows="3" cols="90" data-testid="valohai-public-key">${esc(publicKey)}</textarea>`
    : keySet
      ? '<p data-testid="valohai-key-state">An SSH private key is set.</p>'
      : '<p data-testid="valohai-key-state">No SSH key is set.</p>';
  const message = notice
    ? `<p role="${notice.tone === 'error' ? 'alert' : 'status'}" data-testid="valohai-notice" class="${notice.tone}">${esc(notice.text)}</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Repository · ${esc(project.owner)}/${esc(project.name)} · Valohai</title>
<style>body{font-family:sans-serif;margin:2rem;max-width:60rem}label{display:block;margin-top:.75rem}input{width:30rem}.error{color:#ae2a19}.ok{color:#216e4e}form{margin:1rem 0}</style></head>
<body>
<h1>${esc(project.owner)}/${esc(project.name)}: Repository</h1>
${message}
${
  repository
    ? `<form method="post" action="${esc(action)}">
  <label for="repository-url">URL</label>
  <input id="repository-url" name="url" value="${esc(repository.url)}" placeholder="git@bitbucket.org:workspace/repo.git" data-testid="valohai-url">
  <label for="repository-ref">Fetch reference</label>
  <input id="repository-ref" name="ref" value="${esc(repository.ref)}" placeholder="master" data-testid="valohai-ref">
  <div><button type="submit" data-testid="valohai-save">Save</button></div>
</form>
<h2>SSH key</h2>
${key}
<form method="post" action="${esc(`${action}generate-key/`)}">
  <button type="submit" data-testid="valohai-generate-key">Generate SSH Key</button>
</form>
<form method="post" action="${esc(`${action}fetch/`)}">
  <button type="submit" data-testid="valohai-fetch">Fetch repository</button>
</form>`
    : '<p>This project has no repository settings.</p>'
}
</body>
</html>`;
}

export function createValohaiPagesRouter(deps: Pick<ValohaiRoutesDeps, 'state' | 'fetcher' | 'track'>): Router {
  const { state } = deps;
  const projectOf = (req: HttpRequest): ProjectRecord | undefined =>
    state.projects.find(
      (p) => p.owner.toLowerCase() === (req.params.owner ?? '').toLowerCase() && p.name.toLowerCase() === (req.params.name ?? '').toLowerCase(),
    );
  const notFound = html('<p>No such project.</p>', 404);
  const back = (project: ProjectRecord, notice: Notice): HttpReply => ({
    status: 303,
    headers: { location: `${settingsPagePath(project.owner, project.name)}?${new URLSearchParams({ notice: notice.text, tone: notice.tone }).toString()}` },
  });

  return new Router('/p')
    .on('GET', '/{owner}/{name}/settings/repository', (req) => {
      const no = refused(req);
      if (no) return no;
      const project = projectOf(req);
      if (!project) return notFound;
      const text = req.query.get('notice');
      const notice: Notice | undefined = text ? { text, tone: req.query.get('tone') === 'error' ? 'error' : 'ok' } : undefined;
      const id = project.repository?.id;
      return html(page(project, id === undefined ? undefined : state.generatedPublicKey(id), id !== undefined && state.hasKey(id), notice));
    })
    .on('POST', '/{owner}/{name}/settings/repository', (req) => {
      const no = refused(req);
      if (no) return no;
      const project = projectOf(req);
      if (!project?.repository) return notFound;
      const form = new URLSearchParams(req.body);
      project.repository.url = (form.get('url') ?? project.repository.url).trim();
      project.repository.ref = (form.get('ref') ?? project.repository.ref).trim();
      project.mtime = state.clock();
      return back(project, { text: 'Repository settings saved.', tone: 'ok' });
    })
    .on('POST', '/{owner}/{name}/settings/repository/generate-key', async (req) => {
      const no = refused(req);
      if (no) return no;
      const project = projectOf(req);
      if (!project?.repository) return notFound;
      const type = new URLSearchParams(req.body).get('type') === 'rsa' ? 'rsa' : 'ed25519';
      const made = await state.generateKey(project.repository.id, type);
      if (wantsJson(req)) return { status: 201, body: { public_key: made.publicKey, fingerprint: made.fingerprint } };
      return back(project, { text: `A new SSH key was generated (${made.fingerprint}). Add its public key to Bitbucket.`, tone: 'ok' });
    })
    .on('POST', '/{owner}/{name}/settings/repository/fetch', async (req) => {
      const no = refused(req);
      if (no) return no;
      const project = projectOf(req);
      if (!project) return notFound;
      const { added, errors } = await fetchProject(deps, project);
      if (wantsJson(req)) return { status: 201, body: { commits: added.map((c) => c.identifier), errors } };
      return back(
        project,
        errors.length ? { text: `Fetch failed: ${errors.join(' ')}`, tone: 'error' } : { text: `Fetched: ${added.length} new commit(s).`, tone: 'ok' },
      );
    });
}
