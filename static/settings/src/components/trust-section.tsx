import { useState, type FormEvent } from 'react';
import Button from '@atlaskit/button/new';
import { HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import { RadioGroup } from '@atlaskit/radio';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { MAX_OTHER_WORKSPACES, type ResolverError, type TrustSettingsView } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { ProblemMessage } from './problem-message';
import { sectionStyles } from '../styles';

const formStyles = xcss({ maxWidth: '480px' });

/** Workspace slugs from a comma- or space-separated list, lower case, without repeats. */
function parseWorkspaces(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((w) => w.trim().toLowerCase()).filter(Boolean))];
}

/**
 * Who may connect repositories of this workspace, and which other workspaces may receive the key as
 * submodules. The stored API token is a workspace admin's: these say how far others may use it.
 */
export function TrustSection({ trust, disabled, onSaved }: { trust: TrustSettingsView; disabled: boolean; onSaved: (trust: TrustSettingsView) => void }) {
  const [connectors, setConnectors] = useState(trust.connectors);
  const [others, setOthers] = useState(trust.otherWorkspaces.join(', '));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ResolverError | null>(null);
  const [saved, setSaved] = useState(false);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const next = await call('saveTrustSettings', { connectors, otherWorkspaces: parseWorkspaces(others) });
      setOthers(next.otherWorkspaces.join(', '));
      setSaved(true);
      onSaved(next);
    } catch (err) {
      setError(errorDetail(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="trust-heading" testId="trust-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="trust-heading">
          Who may connect
        </Heading>
        <Text as="p">
          Connecting puts an access key on the repository and on every repository its submodules name. Whoever connects must
          administer each of them; repositories in other workspaces get the key only from the workspaces listed here.
        </Text>
        <form onSubmit={onSubmit} noValidate aria-label="Who may connect">
          <Box xcss={formStyles}>
            <Stack space="space.150">
              <RadioGroup
                name="connectors"
                value={connectors}
                isDisabled={disabled || busy}
                onChange={(e) => setConnectors(e.currentTarget.value as TrustSettingsView['connectors'])}
                options={[
                  { name: 'connectors', value: 'workspace-admins', label: 'Workspace admins only', testId: 'connectors-workspace-admins' },
                  { name: 'connectors', value: 'repository-admins', label: 'Repository admins too', testId: 'connectors-repository-admins' },
                ]}
              />
              <Stack space="space.050">
                <Label htmlFor="other-workspaces">Other workspaces whose repositories may be submodules</Label>
                <Textfield
                  id="other-workspaces"
                  name="otherWorkspaces"
                  value={others}
                  onChange={(e) => setOthers(e.currentTarget.value)}
                  isDisabled={disabled || busy}
                  placeholder="none"
                  testId="other-workspaces"
                />
                <HelperMessage>Workspace slugs, separated by commas; at most {MAX_OTHER_WORKSPACES}.</HelperMessage>
              </Stack>
              <Inline space="space.100">
                <Button type="submit" appearance="primary" isDisabled={disabled} isLoading={busy} testId="trust-save">
                  Save
                </Button>
              </Inline>
            </Stack>
          </Box>
        </form>
        <div role="status" data-testid="trust-status">
          {saved && (
            <SectionMessage appearance="success" title="Saved who may connect" testId="trust-saved">
              <Text as="p">The next action on any repository of this workspace follows these settings.</Text>
            </SectionMessage>
          )}
          {error && <ProblemMessage error={error} testId="trust-error" />}
        </div>
      </Stack>
    </Box>
  );
}
