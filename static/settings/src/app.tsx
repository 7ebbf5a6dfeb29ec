import { lazy, useEffect, useState } from 'react';
import { Box } from '@atlaskit/primitives';
import Spinner from '@atlaskit/spinner';
import { MODULE_KEYS } from '../../../src/forge/contract';
import { LoadBoundary } from './components/load-boundary';
import { ProblemMessage } from './components/problem-message';

// Each page is a chunk of its own, fetched once the context says which page this frame is: neither
// page's visitors load the other's code.
const RepositoryPage = lazy(() => import('./repository/repository-page').then((m) => ({ default: m.RepositoryPage })));
const WorkspacePage = lazy(() => import('./workspace/workspace-page').then((m) => ({ default: m.WorkspacePage })));

export type PageKind = 'workspace' | 'repository';

interface ModuleContext {
  moduleKey?: string;
  extension?: { type?: unknown };
}

/** The module key decides; the extension type is the fallback if keys are ever renamed. */
export function pageKindOf(context: ModuleContext): PageKind | null {
  if (context.moduleKey === MODULE_KEYS.workspace) return 'workspace';
  if (context.moduleKey === MODULE_KEYS.repository) return 'repository';
  const type = context.extension?.type;
  if (type === 'bitbucket:workspaceSettingsMenuPage') return 'workspace';
  if (type === 'bitbucket:repoSettingsMenuPage') return 'repository';
  return null;
}

export function App({ loadContext }: { loadContext: () => Promise<ModuleContext> }) {
  const [kind, setKind] = useState<PageKind | null | 'loading' | 'failed'>('loading');

  useEffect(() => {
    let live = true;
    loadContext().then(
      (context) => live && setKind(pageKindOf(context)),
      () => live && setKind('failed'),
    );
    return () => {
      live = false;
    };
  }, [loadContext]);

  const loading = <Spinner label="Loading" size="large" />;
  return (
    <Box as="main" padding="space.300">
      {kind === 'loading' && loading}
      <LoadBoundary fallback={loading}>
        {kind === 'workspace' && <WorkspacePage />}
        {kind === 'repository' && <RepositoryPage />}
      </LoadBoundary>
      {(kind === null || kind === 'failed') && (
        <ProblemMessage
          error={{
            code: 'internal',
            message: kind === 'failed' ? 'This page could not read where it is shown.' : 'This page was opened from an unknown place.',
            fix: 'Open it from Repository settings > Valohai or Workspace settings > Valohai, and reload.',
          }}
        />
      )}
    </Box>
  );
}
