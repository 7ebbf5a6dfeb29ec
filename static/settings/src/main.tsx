// Entry: enable the host's theme, learn which settings module this frame is, render that page.
import '@atlaskit/css-reset';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { view } from '@forge/bridge';
import { App } from './app';

const loadContext = () => view.getContext();
const root = document.getElementById('root');
if (root) {
  // Theming is cosmetic: a failure must not keep the page from rendering.
  void view.theme.enable().catch(() => undefined);
  createRoot(root).render(
    <StrictMode>
      <App loadContext={loadContext} />
    </StrictMode>,
  );
}
