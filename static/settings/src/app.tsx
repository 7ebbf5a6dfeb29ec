import { useEffect, useState } from 'react';
import { Box } from '@atlaskit/primitives';
import Spinner from '@atlaskit/spinner';
import { MODULE_KEYS } from '../../../src/forge/contract';
import { ProblemMessage } from './components/problem-message';
import { RepositoryPage } from './repository/repository-page';
import { WorkspacePage } from './workspace/workspace-page';

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

  return (
    <Box as="main" padding="space.300">
      {kind === 'loading' && <Spinner label="Loading" size="large" />}
      {kind === 'workspace' && <WorkspacePage />}
      {kind === 'repository' && <RepositoryPage />}
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
