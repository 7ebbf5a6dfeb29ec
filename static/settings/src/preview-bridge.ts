// Stands in for @forge/bridge when the pages run outside Bitbucket (the local preview and the
// browser tests): the build aliases '@forge/bridge' to this file when PREVIEW_BRIDGE=1.
// Only what the pages use is here. The page's query string is passed on to the preview server, so
// one server can answer several scenarios side by side (e.g. `?module=repo&state=connected`).
import { setGlobalTheme } from '@atlaskit/tokens/set-global-theme';

interface PreviewContext {
  moduleKey: string;
  theme?: { colorMode?: string } | null;
  [key: string]: unknown;
}

function apiUrl(path: string): string {
  return `${path}${window.location.search}`;
}

async function readJson(res: Response, what: string): Promise<unknown> {
  if (!res.ok) throw new Error(`Preview server: ${what} answered ${res.status}.`);
  return res.json();
}

export async function invoke(functionKey: string, payload?: Record<string, unknown>): Promise<unknown> {
  const res = await fetch(apiUrl('/api/invoke'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ functionKey, payload: payload ?? {} }),
  });
  return readJson(res, `/api/invoke ${functionKey}`);
}

let contextPromise: Promise<PreviewContext> | null = null;

function getContext(): Promise<PreviewContext> {
  contextPromise ??= fetch(apiUrl('/api/context')).then((res) => readJson(res, '/api/context') as Promise<PreviewContext>);
  return contextPromise;
}

/**
 * Bitbucket applies its own theme to the frame; here the context's colour mode (or the system
 * setting) picks the token theme, which also sets `data-color-mode` on <html>.
 */
async function enableTheme(): Promise<void> {
  const context = await getContext().catch(() => null);
  const mode = context?.theme?.colorMode;
  const colorMode = mode === 'dark' || mode === 'light' ? mode : 'auto';
  await setGlobalTheme({ colorMode, light: 'light', dark: 'dark' });
}

export const view = {
  getContext,
  theme: { enable: enableTheme },
};

/**
 * In the local preview, Bitbucket's own pages (settings, access keys) are served by the preview at the
 * same paths: a link to bitbucket.org goes there, keeping who the preview acts as and its theme.
 */
function previewAddress(url: string): string {
  const target = new URL(url, window.location.href);
  if (target.origin !== 'https://bitbucket.org') return target.href;
  const local = new URL(`${target.pathname}${target.search}${target.hash}`, window.location.origin);
  const here = new URLSearchParams(window.location.search);
  for (const name of ['as', 'theme']) {
    const value = here.get(name);
    if (value !== null && !local.searchParams.has(name)) local.searchParams.set(name, value);
  }
  return local.href;
}

export const router = {
  async open(url: string): Promise<void> {
    window.open(previewAddress(url), '_blank', 'noopener,noreferrer');
  },
  /** Navigates the whole window, as Bitbucket does, not the app's frame. */
  async navigate(url: string): Promise<void> {
    (window.top ?? window).location.assign(previewAddress(url));
  },
};
