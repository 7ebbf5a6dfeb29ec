/**
 * The pages around the app in the local preview: a plain imitation of Bitbucket's settings layout
 * (top bar, settings sidebar, content area) with the app's page in a frame where Bitbucket puts it,
 * the repository's access keys page (for the manual mode), and a bar of preview controls.
 * Server-rendered HTML with a few lines of script; everything written into it is escaped.
 */
import { PEOPLE, type ColorMode, type Person } from './people';
import { submodulePathFor, sshUrlFor, type SubmoduleEntry } from './push';

export interface HostView {
  person: Person;
  theme: ColorMode;
  workspace: { slug: string; name: string };
  repositories: { slug: string; name: string }[];
  /** The repository whose settings are shown, with the submodules at its head; absent on the workspace settings page. */
  repository?: { slug: string; name: string; mainBranch: string; submodules?: SubmoduleEntry[] };
  /** A one-line notice (the outcome of the last form), shown above the content. */
  notice?: { text: string; tone: 'ok' | 'error' };
  /** How many days the preview's clock runs ahead of real time (keys age, checks fall due). */
  daysAhead?: number;
}

export interface AccessKeyRow {
  id: number;
  label: string;
  key: string;
  lastUsed: string | null;
  createdOn: string | null;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (value: string): string => value.replace(/[&<>"']/g, (c) => escapes[c] ?? c);

/** Preview addresses mirror Bitbucket's paths; `as` and `theme` ride along in the query string. */
export const paths = {
  repositorySettings: (ws: string, slug: string) => `/${encodeURIComponent(ws)}/${encodeURIComponent(slug)}/admin/valohai`,
  accessKeys: (ws: string, slug: string) => `/${encodeURIComponent(ws)}/${encodeURIComponent(slug)}/admin/access-keys/`,
  workspaceSettings: (ws: string) => `/${encodeURIComponent(ws)}/workspace/settings/valohai`,
};

function withQuery(path: string, view: Pick<HostView, 'person' | 'theme'>, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({ as: view.person, theme: view.theme, ...extra });
  return `${path}?${query.toString()}`;
}

const styles = `
:root { color-scheme: light; --bg: #ffffff; --bg-sunken: #f7f8f9; --bg-nav: #ffffff; --text: #172b4d; --subtle: #44546f;
  --border: #dcdfe4; --accent: #0c66e4; --accent-text: #ffffff; --selected: #e9f2ff; --selected-text: #0c66e4;
  --ok: #216e4e; --ok-bg: #dcfff1; --error: #ae2e24; --error-bg: #ffeceb; --preview-bg: #fff7d6; --preview-border: #f5cd47; }
:root[data-theme="dark"] { color-scheme: dark; --bg: #1d2125; --bg-sunken: #161a1d; --bg-nav: #22272b; --text: #c7d1db;
  --subtle: #9fadbc; --border: #38414a; --accent: #579dff; --accent-text: #1d2125; --selected: #1c2b41; --selected-text: #579dff;
  --ok: #7ee2b8; --ok-bg: #1c3329; --error: #fd9891; --error-bg: #42221f; --preview-bg: #332e1b; --preview-border: #7f5f01; }
* { box-sizing: border-box; }
html, body { margin: 0; min-height: 100%; }
body { font: 14px/20px -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; background: var(--bg);
  color: var(--text); display: flex; flex-direction: column; height: auto; min-height: 100vh; }
a { color: var(--accent); }
header.topbar { display: flex; align-items: center; gap: 16px; padding: 0 16px; height: 48px; background: var(--bg-nav);
  border-bottom: 1px solid var(--border); }
header.topbar .product { font-weight: 600; font-size: 16px; }
header.topbar .workspace { color: var(--subtle); }
.preview-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 8px 16px; background: var(--preview-bg);
  border-bottom: 1px solid var(--preview-border); }
.preview-bar strong { margin-right: 4px; }
.preview-bar label { display: inline-flex; align-items: center; gap: 6px; }
.preview-bar .push-group { display: inline-flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; padding: 4px 8px;
  border: 1px dashed var(--preview-border); border-radius: 3px; }
.preview-bar select { max-width: 24em; }
select, input[type=text], textarea { font: inherit; color: var(--text); background: var(--bg); border: 1px solid var(--border);
  border-radius: 3px; padding: 4px 6px; }
button { font: inherit; border-radius: 3px; border: 1px solid transparent; padding: 4px 12px; cursor: pointer;
  background: var(--accent); color: var(--accent-text); font-weight: 500; }
button.subtle { background: transparent; color: var(--accent); border-color: var(--border); }
button:disabled { opacity: 0.6; cursor: progress; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.layout { flex: 1; display: flex; min-height: 0; }
nav.sidebar { width: 240px; flex: none; padding: 16px 8px; background: var(--bg-sunken); border-right: 1px solid var(--border); overflow: auto; }
nav.sidebar h2 { font-size: 11px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--subtle); margin: 16px 8px 4px; }
nav.sidebar ul { list-style: none; margin: 0; padding: 0; }
nav.sidebar a { display: block; padding: 6px 8px; border-radius: 3px; color: var(--text); text-decoration: none; }
nav.sidebar a:hover { background: var(--selected); }
nav.sidebar a[aria-current="page"] { background: var(--selected); color: var(--selected-text); font-weight: 600; }
main.content { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.breadcrumbs { padding: 16px 24px 0; color: var(--subtle); }
.notice { margin: 12px 24px 0; padding: 8px 12px; border-radius: 3px; }
.notice.ok { background: var(--ok-bg); color: var(--ok); }
.notice.error { background: var(--error-bg); color: var(--error); }
#push-status:empty { display: none; }
iframe.app { flex: 1 0 auto; display: block; width: 100%; border: 0; min-height: 480px; }
.page { padding: 8px 24px 24px; max-width: 960px; }
.page h1 { font-size: 24px; line-height: 28px; font-weight: 500; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 24px; }
th, td { text-align: left; padding: 8px; border-bottom: 1px solid var(--border); vertical-align: top; }
td code { word-break: break-all; font-size: 12px; }
form.add-key { display: grid; gap: 8px; max-width: 640px; }
form.add-key textarea { min-height: 96px; }
`;

function sidebar(view: HostView, active: 'valohai' | 'access-keys' | 'workspace'): string {
  const ws = view.workspace.slug;
  const link = (href: string, text: string, current: boolean) =>
    `<li><a href="${esc(withQuery(href, view))}"${current ? ' aria-current="page"' : ''}>${esc(text)}</a></li>`;
  const repoSection = view.repository
    ? `<h2 id="repo-settings-heading">Repository settings</h2>
       <ul aria-labelledby="repo-settings-heading">
         ${link(paths.accessKeys(ws, view.repository.slug), 'Access keys', active === 'access-keys')}
         ${link(paths.repositorySettings(ws, view.repository.slug), 'Valohai', active === 'valohai')}
       </ul>`
    : '';
  const repos = view.repositories
    .map((r) => link(paths.repositorySettings(ws, r.slug), r.name, active !== 'workspace' && r.slug === view.repository?.slug))
    .join('');
  return `<nav class="sidebar" aria-label="Settings">
    ${repoSection}
    <h2 id="workspace-settings-heading">Workspace settings</h2>
    <ul aria-labelledby="workspace-settings-heading">${link(paths.workspaceSettings(ws), 'Valohai', active === 'workspace')}</ul>
    <h2 id="repositories-heading">Repositories</h2>
    <ul aria-labelledby="repositories-heading">${repos}</ul>
  </nav>`;
}

/**
 * The push controls: who pushes (the person acted as, unless another is chosen) and what the commit does
 * to `.gitmodules`: nothing, add a repository of the workspace as `vendor/<slug>`, or remove a submodule.
 */
function pushGroup(view: HostView, repository: NonNullable<HostView['repository']>): string {
  const pushers = (Object.keys(PEOPLE) as Person[])
    .map((p) => `<option value="${p}"${p === view.person ? ' selected' : ''}>${esc(PEOPLE[p].displayName)}</option>`)
    .join('');
  const current = repository.submodules ?? [];
  const paths = new Set(current.map((s) => s.path));
  const adds = view.repositories
    .filter((r) => r.slug !== repository.slug)
    .map((r) => {
      const path = submodulePathFor(r.slug);
      const taken = paths.has(path) ? ' disabled' : '';
      return `<option value="add:${esc(r.slug)}" data-path="${esc(path)}"${taken}>${esc(`Add ${view.workspace.slug}/${r.slug} at ${path} (${sshUrlFor(view.workspace.slug, r.slug)})`)}</option>`;
    })
    .join('');
  const removes = current.map((s) => `<option value="remove:${esc(s.path)}">${esc(`Remove ${s.path} (${s.url})`)}</option>`).join('');
  return `<span class="push-group" role="group" aria-label="Push a commit">
      <label>Push as <select id="push-as" data-testid="push-as">${pushers}</select></label>
      <label>.gitmodules <select id="push-submodule" data-testid="push-submodule">
        <option value="" selected>No change</option>
        <optgroup label="Add a submodule" data-kind="add">${adds}</optgroup>
        <optgroup label="Remove a submodule" data-kind="remove">${removes}</optgroup>
      </select></label>
      <button type="button" id="push-commit" data-testid="push-commit">Push a commit to ${esc(repository.mainBranch)}</button>
    </span>`;
}

function previewBar(view: HostView): string {
  const people = (Object.keys(PEOPLE) as Person[])
    .map((p) => `<option value="${p}"${p === view.person ? ' selected' : ''}>${esc(`${PEOPLE[p].displayName} (${PEOPLE[p].role})`)}</option>`)
    .join('');
  const themes = (['light', 'dark'] as const)
    .map((t) => `<option value="${t}"${t === view.theme ? ' selected' : ''}>${t === 'light' ? 'Light' : 'Dark'}</option>`)
    .join('');
  const push = view.repository ? pushGroup(view, view.repository) : '';
  const ahead = view.daysAhead ? ` (clock ${view.daysAhead} days ahead)` : '';
  return `<section class="preview-bar" aria-label="Preview controls">
    <strong>Local preview</strong>
    <label>Act as <select id="act-as" data-testid="act-as">${people}</select></label>
    <label>Theme <select id="theme" data-testid="theme">${themes}</select></label>
    ${push}
    <button type="button" id="run-schedule" data-testid="run-schedule">Run the hourly check${esc(ahead)}</button>
    <label>Move the clock on <select id="clock-days" data-testid="clock-days">
      <option value="">…</option><option value="1">1 day</option><option value="30">30 days</option><option value="181">181 days</option><option value="365">365 days</option>
    </select></label>
    <span id="push-status" role="status" data-testid="push-status"></span>
  </section>`;
}

const script = `
const params = new URLSearchParams(location.search);
for (const [id, name] of [['act-as', 'as'], ['theme', 'theme']]) {
  document.getElementById(id).addEventListener('change', (e) => {
    params.set(name, e.target.value);
    params.delete('notice');
    params.delete('tone');
    location.search = params.toString();
  });
}
// Bitbucket sizes an app's frame to its content, so the settings page scrolls as one page; so does the preview.
const appFrame = document.querySelector('iframe.app');
if (appFrame) {
  const fit = () => {
    const doc = appFrame.contentDocument;
    if (!doc || !doc.body) return;
    const bottom = Math.max(0, ...[...doc.body.children].map((el) => el.getBoundingClientRect().bottom + doc.defaultView.scrollY));
    appFrame.style.height = Math.ceil(bottom) + 'px';
  };
  const watched = new WeakSet();
  const watch = () => {
    const win = appFrame.contentWindow;
    const doc = appFrame.contentDocument;
    if (!win || !doc || !doc.body || watched.has(doc)) return;
    watched.add(doc);
    const observer = new win.ResizeObserver(fit);
    for (const el of doc.body.children) observer.observe(el);
    fit();
  };
  // Each load (the push button reloads the frame) is a new document to watch.
  // Only load events call this (the frame's own, and the host page's, which waits for the frame): reading
  // the frame's document before its first load touches the empty page it starts as, and the benchmark's
  // render probe, which watches the app's document from its start, then saw none of its changes.
  appFrame.addEventListener('load', watch);
  window.addEventListener('load', watch);
}
// Each preview control posts JSON, says what happened in the status line and reloads the app's frame.
const control = async (button, path, body, busy) => {
  const status = document.getElementById('push-status');
  button.disabled = true;
  status.textContent = busy;
  try {
    const res = await fetch(path + location.search, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const reply = await res.json();
    status.textContent = reply.message;
    const frame = document.querySelector('iframe.app');
    if (res.ok && frame) frame.contentWindow.location.reload();
    return res.ok;
  } catch {
    status.textContent = 'The preview server did not answer; is npm start still running?';
    return false;
  } finally {
    button.disabled = false;
  }
};
const schedule = document.getElementById('run-schedule');
schedule.addEventListener('click', () => control(schedule, '/preview/schedule', {}, 'Running the hourly check…'));
const clockDays = document.getElementById('clock-days');
clockDays.addEventListener('change', async () => {
  const days = Number(clockDays.value);
  if (!days) return;
  clockDays.disabled = true;
  try {
    const res = await fetch('/preview/clock' + location.search, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ days }) });
    const reply = await res.json();
    // The whole page again: the bar says how far ahead the clock is, and the app reads the new date.
    params.set('notice', reply.message);
    params.set('tone', res.ok ? 'ok' : 'error');
    location.search = params.toString();
  } catch {
    document.getElementById('push-status').textContent = 'The preview server did not answer; is npm start still running?';
    clockDays.disabled = false;
  }
});
const push = document.getElementById('push-commit');
if (push) {
  const status = document.getElementById('push-status');
  const pushAs = document.getElementById('push-as');
  const change = document.getElementById('push-submodule');
  // After a push the choices follow the new .gitmodules: what it names can be removed, not added again.
  const followSubmodules = (submodules) => {
    const paths = new Set(submodules.map((s) => s.path));
    for (const option of change.querySelectorAll('optgroup[data-kind="add"] option')) option.disabled = paths.has(option.dataset.path);
    change.querySelector('optgroup[data-kind="remove"]').replaceChildren(...submodules.map((s) => {
      const option = document.createElement('option');
      option.value = 'remove:' + s.path;
      option.textContent = 'Remove ' + s.path + ' (' + s.url + ')';
      return option;
    }));
    change.value = '';
  };
  push.addEventListener('click', async () => {
    push.disabled = true;
    status.textContent = 'Pushing a commit…';
    const body = { workspace: document.body.dataset.workspace, repository: document.body.dataset.repository, as: pushAs.value };
    const [kind, ...rest] = change.value.split(':');
    if (kind === 'add') body.addSubmodule = rest.join(':');
    if (kind === 'remove') body.removeSubmodule = rest.join(':');
    try {
      const res = await fetch('/preview/push' + location.search, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body) });
      const reply = await res.json();
      status.textContent = reply.message;
      if (res.ok && Array.isArray(reply.submodules)) followSubmodules(reply.submodules);
      const frame = document.querySelector('iframe.app');
      if (res.ok && frame) frame.contentWindow.location.reload();
    } catch {
      status.textContent = 'The preview server did not answer; is npm start still running?';
    } finally {
      push.disabled = false;
    }
  });
}
`;

function layout(view: HostView, title: string, active: 'valohai' | 'access-keys' | 'workspace', crumbs: string, body: string): string {
  const notice = view.notice
    ? `<p class="notice ${view.notice.tone}" role="${view.notice.tone === 'error' ? 'alert' : 'status'}" data-testid="host-notice">${esc(view.notice.text)}</p>`
    : '';
  return `<!doctype html>
<html lang="en" data-theme="${view.theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${styles}</style>
</head>
<body data-workspace="${esc(view.workspace.slug)}" data-repository="${esc(view.repository?.slug ?? '')}">
<header class="topbar">
  <span class="product">Bitbucket</span>
  <span class="workspace">${esc(view.workspace.name)}</span>
</header>
${previewBar(view)}
<div class="layout">
  ${sidebar(view, active)}
  <main class="content">
    <div class="breadcrumbs">${crumbs}</div>
    ${notice}
    ${body}
  </main>
</div>
<script type="module">${script}</script>
</body>
</html>`;
}

function crumbsOf(view: HostView, last: string): string {
  const parts = [esc(view.workspace.name)];
  if (view.repository) parts.push(esc(view.repository.name), 'Repository settings');
  else parts.push('Workspace settings');
  parts.push(esc(last));
  return parts.join(' / ');
}

/** A settings page with the app in its frame. `frameSrc` is the app's page with the preview's query. */
export function appHostPage(view: HostView, frameSrc: string): string {
  const where = view.repository ? `${view.workspace.slug}/${view.repository.slug}` : view.workspace.name;
  const active = view.repository ? 'valohai' : 'workspace';
  return layout(
    view,
    `Valohai · ${view.repository ? 'Repository' : 'Workspace'} settings · ${where}`,
    active,
    crumbsOf(view, 'Valohai'),
    `<iframe class="app" title="Valohai app" src="${esc(frameSrc)}" data-testid="app-frame"></iframe>`,
  );
}

/** Bitbucket's access keys page of one repository, enough to add a key by hand and remove one. */
export function accessKeysPage(view: HostView & { repository: NonNullable<HostView['repository']> }, keys: AccessKeyRow[] | { error: string }): string {
  const ws = view.workspace.slug;
  const action = esc(withQuery(`${paths.accessKeys(ws, view.repository.slug)}`, view));
  const rows = Array.isArray(keys)
    ? keys.length
      ? keys
          .map(
            (k) => `<tr data-testid="access-key-row">
              <td>${esc(k.label)}</td>
              <td><code>${esc(k.key.length > 60 ? `${k.key.slice(0, 40)}…${k.key.slice(-16)}` : k.key)}</code></td>
              <td>${k.lastUsed ? esc(k.lastUsed) : 'Never'}</td>
              <td><form method="post" action="${action}">
                <input type="hidden" name="delete" value="${k.id}">
                <button type="submit" class="subtle" aria-label="${esc(`Delete access key ${k.label}`)}">Delete</button>
              </form></td>
            </tr>`,
          )
          .join('')
      : '<tr><td colspan="4">This repository has no access keys.</td></tr>'
    : `<tr><td colspan="4" role="alert">${esc(keys.error)}</td></tr>`;
  const body = `<div class="page">
    <h1>Access keys</h1>
    <p>Access keys give read-only access to this repository over SSH.</p>
    <table data-testid="access-keys">
      <caption style="text-align:left;color:var(--subtle)">Access keys of ${esc(`${ws}/${view.repository.slug}`)}</caption>
      <thead><tr><th scope="col">Label</th><th scope="col">Key</th><th scope="col">Last used</th><th scope="col"><span style="position:absolute;left:-9999px">Actions</span></th></tr></thead>
      <tbody>${rows}</tbody>
    </table>
    <h2>Add key</h2>
    <form class="add-key" method="post" action="${action}">
      <label for="key-label">Label</label>
      <input type="text" id="key-label" name="label" required data-testid="access-key-label">
      <label for="key-text">Key</label>
      <textarea id="key-text" name="key" required placeholder="ssh-rsa AAAA… or ssh-ed25519 AAAA…" data-testid="access-key-text"></textarea>
      <div><button type="submit" data-testid="access-key-add">Add SSH key</button></div>
    </form>
  </div>`;
  return layout(view, `Access keys · ${ws}/${view.repository.slug}`, 'access-keys', crumbsOf(view, 'Access keys'), body);
}
