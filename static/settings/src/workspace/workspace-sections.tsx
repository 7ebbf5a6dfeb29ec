import { useState } from 'react';
import SectionMessage from '@atlaskit/section-message';
import { Stack, Text } from '@atlaskit/primitives';
import type { WorkspaceSettings } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { ProductLink } from '../components/link';
import { Fleet } from './fleet/fleet';
import { FleetAudit } from './fleet/fleet-audit';
import { Tabs, type Tab } from '../components/tabs';
import { HealthPolicySection } from './health-policy-section';
import { KeyNoticesSection } from './key-notices-section';
import { SetupCheckSection } from './setup-check-section';
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
          Connect each repository from its own settings: open the repository, then Repository settings &rsaquo; Valohai, or choose it on the
          Repositories tab.
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

/** The workspace page's sections: a chunk of its own (workspace-page.tsx). */
export function WorkspaceSections({
  settings,
  onChange,
  onClear,
  onBatchFinished,
}: {
  settings: WorkspaceSettings;
  /** A section saved: the page shows what it now holds. */
  onChange: (settings: WorkspaceSettings) => void;
  /** Removes a stored token; the page shows the settings without it, or why it could not. */
  onClear: (which: 'valohai' | 'bitbucket') => Promise<void>;
  onBatchFinished: () => void;
}) {
  const [chosen, setChosen] = useState<string[]>([]);
  const admin = settings.canAdminister;
  const refreshRepositories = async () => {
    try {
      onChange(await call('getWorkspaceSettings', { refreshRepositories: true }));
      return null;
    } catch (err) {
      return errorDetail(err);
    }
  };
  // Four tabs where there was one long stack: what a workspace sets up once, its repositories (with the
  // bulk actions over the chosen ones), the audit of their keys, and the policies connections follow.
  const tabs: Tab[] = [
    {
      id: 'setup',
      label: 'Setup',
      panel: (
        <Stack space="space.300">
          <ValohaiSection
            summary={settings.valohai}
            disabled={!admin}
            onSaved={(valohai) => onChange({ ...settings, valohai })}
            onCleared={() => onClear('valohai')}
          />
          <BitbucketSection
            summary={settings.bitbucket}
            disabled={!admin}
            onSaved={(bitbucket) => onChange({ ...settings, bitbucket })}
            onCleared={() => onClear('bitbucket')}
          />
          {admin && settings.valohai.configured && settings.bitbucket.configured && <SetupCheckSection />}
        </Stack>
      ),
    },
    {
      id: 'repositories',
      label: 'Repositories',
      panel: (
        <Stack space="space.300">
          <Fleet settings={settings} chosen={chosen} onChoose={setChosen} onFinished={onBatchFinished} onRefresh={refreshRepositories} />
        </Stack>
      ),
    },
    {
      id: 'audit',
      label: 'Audit',
      panel: (
        <Stack space="space.300">
          <KeyNoticesSection settings={settings} />
          {admin && <FleetAudit />}
        </Stack>
      ),
    },
    {
      id: 'policies',
      label: 'Policies',
      panel: (
        <Stack space="space.300">
          <TrustSection trust={settings.trust} disabled={!admin} onSaved={(trust) => onChange({ ...settings, trust })} />
          <HealthPolicySection
            policy={settings.policy}
            automation={settings.automation}
            disabled={!admin}
            onSaved={(policy) => onChange({ ...settings, policy })}
          />
        </Stack>
      ),
    },
  ];
  return (
    <>
      {/* Said above the tabs: it is about the whole page, and names the tab to go to next. */}
      {admin && settings.valohai.configured && !settings.valohai.problem && <SetUpDone settings={settings} />}
      <Tabs tabs={tabs} label="Workspace settings" idPrefix="workspace" />
    </>
  );
}
