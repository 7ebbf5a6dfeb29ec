import { lazy } from 'react';
import { Text } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import Spinner from '@atlaskit/spinner';
import { call, errorDetail } from '../api';
import { LoadBoundary } from '../components/load-boundary';
import { PageFrame } from '../components/page-frame';
import { usePageData } from '../hooks/use-page-data';

// The page's sections (the tokens, who may connect, how connections look after themselves, the
// repositories with their bulk actions and audit, the keys to look at) are nearly all of its code and
// are shown to everyone who opens it: fetched as soon as the page's own code runs, beside its data,
// not after it.
const sectionsCode = import('./workspace-sections');
const WorkspaceSections = lazy(() => sectionsCode.then((m) => ({ default: m.WorkspaceSections })));

export function WorkspacePage() {
  const { data: settings, setData: setSettings, error, setError, reload: load } = usePageData(() => call('getWorkspaceSettings', {}));

  const clear = async (which: 'valohai' | 'bitbucket') => {
    try {
      setSettings(await call('clearCredentials', { which }));
    } catch (err) {
      setError(errorDetail(err));
    }
  };

  return (
    <PageFrame
      intro={
        <Text as="p" color="color.text.subtle">
          Credentials this workspace&apos;s Valohai connections use. Tokens are stored as Forge secrets and never shown again.
        </Text>
      }
      error={error}
      onRetry={() => void load()}
      loading={!settings}
      loadingLabel="Loading workspace settings"
    >
      {settings && (
        <>
          {!settings.canAdminister && (
            <SectionMessage appearance="information" title="Only workspace admins can change these settings" testId="read-only">
              <Text as="p">Workspace admins store the tokens and choose who may connect repositories. Ask one of them to change what is set up here.</Text>
            </SectionMessage>
          )}
          <LoadBoundary fallback={<Spinner label="Loading workspace settings" size="large" />}>
            <WorkspaceSections settings={settings} onChange={setSettings} onClear={clear} onBatchFinished={() => void load()} />
          </LoadBoundary>
        </>
      )}
    </PageFrame>
  );
}
