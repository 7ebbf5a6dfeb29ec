import { useState } from 'react';
import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import type { ManualDetails, ManualKeyState, ResolverError } from '../../../../src/forge/contract';
import { call } from '../api';
import { CopyField } from '../components/copy-field';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ExternalLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { formatDateTime } from '../format';
import { WarningList } from './connect-form';
import type { StartAction } from '../use-job';
import { sectionStyles } from '../styles';

const stepsStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.300' });

const keyLook: Record<ManualKeyState, { label: string; appearance: ThemeAppearance }> = {
  present: { label: 'Key works', appearance: 'success' },
  missing: { label: 'Key missing', appearance: 'removed' },
  'not-reached': { label: 'Not reached yet', appearance: 'default' },
};

export function ManualView({ manual, readOnly, start }: { manual: ManualDetails; readOnly: boolean; start: StartAction }) {
  const [busy, setBusy] = useState<'verify' | 'cancel' | null>(null);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const [confirming, setConfirming] = useState(false);
  const checked = new Map((manual.checked?.targets ?? []).map((t) => [t.repository.toLowerCase(), t.state]));

  const run = async (which: 'verify' | 'cancel') => {
    setBusy(which);
    setProblem(null);
    const failure =
      which === 'verify'
        ? await start('manual-verify', () => call('verifyManual', {}))
        : await start('manual-discard', () => call('startDisconnect', {}));
    setBusy(null);
    if (failure) setProblem(failure);
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="manual-heading" testId="manual-view">
      <Stack space="space.250">
        <Heading size="medium" as="h2" id="manual-heading">
          Add the access key by hand
        </Heading>
        <Text as="p">
          Valohai project {manual.project.name} will fetch at <code>{manual.ref}</code> with this key. Add it as an access key on every
          repository below, then verify.
        </Text>
        <CopyField id="public-key" label="Public key" value={manual.publicKey} testId="public-key" />
        <CopyField id="key-label" label="Key label" value={manual.label} testId="key-label" />
        <Text as="p" color="color.text.subtle">
          Fingerprint <code>{manual.fingerprint}</code>: Bitbucket shows it once the key is added.
        </Text>
        <Stack space="space.100">
          <Heading size="small" as="h3">
            On each repository: Repository settings &rsaquo; Access keys &rsaquo; Add key
          </Heading>
          <Box as="ol" xcss={stepsStyles} testId="manual-targets">
            {manual.targets.map((t) => {
              const state = checked.get(`${t.workspace}/${t.slug}`.toLowerCase());
              return (
                <li key={t.key} data-testid={`manual-target-${t.key}`}>
                  <Inline space="space.100" alignBlock="center" shouldWrap>
                    <ExternalLink href={t.accessKeysUrl} testId={`access-keys-link-${t.key}`}>
                      Access keys of {t.workspace}/{t.slug}
                    </ExternalLink>
                    {t.via !== 'superproject' && <Text color="color.text.subtle">{`(submodule ${t.via})`}</Text>}
                    {state && (
                      <Lozenge appearance={keyLook[state].appearance} testId={`manual-key-state-${t.key}`}>
                        {keyLook[state].label}
                      </Lozenge>
                    )}
                  </Inline>
                </li>
              );
            })}
          </Box>
          {manual.checked && (
            <Text as="p" color="color.text.subtle" testId="manual-checked">
              As Valohai&apos;s fetch found them at the last Verify, {formatDateTime(manual.checked.at)}. Add the key where it is missing, then verify again.
            </Text>
          )}
        </Stack>
        <WarningList warnings={manual.warnings} testId="manual-warnings" />
        {problem && <ProblemMessage error={problem} testId="action-error" />}
        <Inline space="space.100">
          <Button appearance="primary" onClick={() => void run('verify')} isDisabled={readOnly || busy !== null} isLoading={busy === 'verify'} testId="verify-manual-button">
            Verify
          </Button>
          <Button appearance="subtle" onClick={() => setConfirming(true)} isDisabled={readOnly || busy !== null} isLoading={busy === 'cancel'} testId="manual-cancel">
            Cancel and discard the key
          </Button>
        </Inline>
        <ConfirmDialog
          open={confirming}
          title="Discard this key?"
          confirmLabel="Discard the key"
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            void run('cancel');
          }}
          testId="manual-cancel-confirm"
        >
          Valohai project {manual.project.name} no longer gets this key, and the page forgets it. If you already added it to a repository,
          remove it there too: the result lists each repository&apos;s Access keys page. Connecting again makes a new key.
        </ConfirmDialog>
      </Stack>
    </Box>
  );
}
