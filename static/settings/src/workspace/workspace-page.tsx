import { useState } from 'react';
import Heading from '@atlaskit/heading';
import { Box, Stack, Text } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import type { WorkspaceSettings } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { KeyNoticeTable } from '../components/key-notices';
import { ProductLink } from '../components/link';
import { PageFrame } from '../components/page-frame';
import { usePageData } from '../hooks/use-page-data';
import { sectionStyles } from '../styles';
import { FleetAudit } from './fleet/fleet-audit';
import { FleetBatch } from './fleet/fleet-batch';
import { FleetRepositories } from './fleet/fleet-repositories';
import { HealthPolicySection } from './health-policy-section';
import { bitbucketWorks, BitbucketSection, ValohaiSection } from './token-sections';
import { TrustSection } from './trust-section';

/**
 * Once the Valohai token works the workspace is set up: what comes next happens on each repository's
 * own page, so the page says where that is.
 */
function SetUpDone({ settings }: { settings: WorkspaceSettings }) {
  const manual = !bitbucketWorks(settings.bitbucket);
  const first = settings.repositories.find((r) => r.settingsUrl);
  return (
    <SectionMessage appearance="success" title="Valohai is set up for this workspace: now open a repository" testId="setup-done">
      <Stack space="space.100">
        <Text as="p">
          Connect each repository from its own settings: open the repository, then Repository settings &rsaquo; Valohai, or choose it in the
          Repositories list below.
          {manual ? ' Without a working Bitbucket API token its page gives you the access key to add by hand.' : ''}
        </Text>
        {first?.settingsUrl && (
          <Text as="p">
            <ProductLink href={first.settingsUrl} testId="setup-done-link">
              Open {first.fullName} &rsaquo; Repository settings &rsaquo; Valohai
            </ProductLink>
          </Text>
        )}
      </Stack>
    </SectionMessage>
  );
}

function KeyNoticesSection({ settings }: { settings: WorkspaceSettings }) {
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="key-notices-heading" testId="key-notices-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="key-notices-heading">
          Keys to look at
        </Heading>
        <Text as="p">
          Keys the latest checks found unused, no longer needed by their connection, or labelled like this app&apos;s but made by no
          connection. Only a key a connection made and no longer needs can be removed here.
        </Text>
        <KeyNoticeTable notices={settings.keyNotices} showConnection readOnly={!settings.canAdminister} testId="key-notices" />
      </Stack>
    </Box>
  );
}

export function WorkspacePage() {
  const { data: settings, setData: setSettings, error, setError, reload: load } = usePageData(() => call('getWorkspaceSettings', {}));
  const [chosen, setChosen] = useState<string[]>([]);

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
          {settings.canAdminister && settings.valohai.configured && !settings.valohai.problem && <SetUpDone settings={settings} />}
          <ValohaiSection
            summary={settings.valohai}
            disabled={!settings.canAdminister}
            onSaved={(valohai) => setSettings({ ...settings, valohai })}
            onCleared={() => clear('valohai')}
          />
          <BitbucketSection
            summary={settings.bitbucket}
            disabled={!settings.canAdminister}
            onSaved={(bitbucket) => setSettings({ ...settings, bitbucket })}
            onCleared={() => clear('bitbucket')}
          />
          <TrustSection trust={settings.trust} disabled={!settings.canAdminister} onSaved={(trust) => setSettings({ ...settings, trust })} />
          <HealthPolicySection
            policy={settings.policy}
            automation={settings.automation}
            disabled={!settings.canAdminister}
            onSaved={(policy) => setSettings({ ...settings, policy })}
          />
          {/* The fleet is workspace admins' work: members see the list, not the means to act on it. */}
          <FleetRepositories settings={settings} selected={settings.canAdminister ? chosen : null} onSelect={setChosen} />
          {settings.canAdminister && <FleetBatch settings={settings} selected={chosen} onFinished={() => void load()} />}
          {settings.canAdminister && <FleetAudit />}
          <KeyNoticesSection settings={settings} />
        </>
      )}
    </PageFrame>
  );
}
