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

export const router = {
  async open(url: string): Promise<void> {
    window.open(url, '_blank', 'noopener,noreferrer');
  },
  async navigate(url: string): Promise<void> {
    window.location.assign(url);
  },
};
