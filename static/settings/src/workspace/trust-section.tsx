import { useState, type FormEvent } from 'react';
import Button from '@atlaskit/button/new';
import { HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, Text } from '@atlaskit/primitives';
import { RadioGroup } from '@atlaskit/radio';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { MAX_OTHER_WORKSPACES, MAX_PROJECT_OWNERS, type ResolverError, type TrustSettingsView } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { ProblemMessage } from '../components/problem-message';
import { StatusRegion } from '../components/status-region';
import { formStyles, sectionStyles } from '../styles';


/** Workspace slugs from a comma- or space-separated list, lower case, without repeats. */
function parseWorkspaces(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((w) => w.trim().toLowerCase()).filter(Boolean))];
}

/** Valohai owners (`org` or `org:team`) from a comma-separated list, without repeats; case is kept. */
function parseOwners(text: string): string[] {
  return [...new Set(text.split(',').map((o) => o.trim()).filter(Boolean))];
}

/** A labelled text field holding a comma-separated list, with its rule under it. */
function ListField(props: { id: string; label: string; value: string; onChange: (value: string) => void; disabled: boolean; placeholder: string; help: string }) {
  return (
    <Stack space="space.050">
      <Label htmlFor={props.id}>{props.label}</Label>
      <Textfield
        id={props.id}
        name={props.id}
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value)}
        isDisabled={props.disabled}
        placeholder={props.placeholder}
        testId={props.id}
      />
      <HelperMessage>{props.help}</HelperMessage>
    </Stack>
  );
}

/**
 * Who may connect repositories of this workspace, and which other workspaces may receive the key as
 * submodules. The stored API token is a workspace admin's: these say how far others may use it.
 */
export function TrustSection({ trust, disabled, onSaved }: { trust: TrustSettingsView; disabled: boolean; onSaved: (trust: TrustSettingsView) => void }) {
  const [connectors, setConnectors] = useState(trust.connectors);
  const [others, setOthers] = useState(trust.otherWorkspaces.join(', '));
  const [owners, setOwners] = useState(trust.projectOwners.join(', '));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ResolverError | null>(null);
  const [saved, setSaved] = useState(false);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const next = await call('saveTrustSettings', { connectors, otherWorkspaces: parseWorkspaces(others), projectOwners: parseOwners(owners) });
      setOthers(next.otherWorkspaces.join(', '));
      setOwners(next.projectOwners.join(', '));
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
        {disabled ? (
          <Text as="p" testId="trust-summary">
            {trust.connectors === 'repository-admins'
              ? 'Workspace admins and repository admins may connect repositories.'
              : 'Only workspace admins may connect repositories.'}
          </Text>
        ) : (
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
              <ListField
                id="other-workspaces"
                label="Other workspaces whose repositories may be submodules"
                value={others}
                onChange={setOthers}
                disabled={disabled || busy}
                placeholder="none"
                help={`Workspace slugs, separated by commas; at most ${MAX_OTHER_WORKSPACES}.`}
              />
              <ListField
                id="project-owners"
                label="Valohai owners repository admins may create projects under"
                value={owners}
                onChange={setOwners}
                disabled={disabled || busy}
                placeholder="none: they connect existing projects only"
                help={`Organisations, or organisation:team, separated by commas; at most ${MAX_PROJECT_OWNERS}. Workspace admins may use any.`}
              />
              <Inline space="space.100">
                <Button type="submit" appearance="primary" isDisabled={disabled} isLoading={busy} testId="trust-save">
                  Save
                </Button>
              </Inline>
            </Stack>
          </Box>
        </form>
        )}
      </Stack>
      <StatusRegion testId="trust-status">
        {saved && (
          <SectionMessage appearance="success" title="Saved who may connect" testId="trust-saved">
            <Text as="p">The next action on any repository of this workspace follows these settings.</Text>
          </SectionMessage>
        )}
        {error && <ProblemMessage error={error} testId="trust-error" />}
      </StatusRegion>
    </Box>
  );
}
