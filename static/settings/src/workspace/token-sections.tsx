import { useState } from 'react';
import Button from '@atlaskit/button/new';
import type { ThemeAppearance } from '@atlaskit/lozenge';
import { Inline, Stack, Text } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import {
  ATLASSIAN_API_TOKENS_URL,
  BITBUCKET_TOKEN_SCOPES,
  DEFAULT_VALOHAI_HOST,
  FIELD_NAMES,
  TOKEN_EXPIRY_WARNING_DAYS,
  fieldRules,
  normaliseValohaiHost,
  valohaiTokensUrl,
  type BitbucketCredentialSummary,
  type ValohaiCredentialSummary,
} from '../../../../src/forge/contract';
import { call } from '../api';
import { ExternalLink } from '../components/link';
import { plural } from '../format';
import { fieldProblem, TokenSection } from './token-form';

interface SectionProps<Summary> {
  summary: Summary;
  disabled: boolean;
  onSaved: (summary: Summary) => void;
  onCleared: () => Promise<void>;
}

export function ValohaiSection({ summary, disabled, onSaved, onCleared }: SectionProps<ValohaiCredentialSummary>) {
  return (
    <TokenSection
      kind="valohai"
      title="Valohai token"
      look={
        summary.configured
          ? summary.problem
            ? { label: 'Not working', appearance: 'removed' }
            : summary.lifetime?.level === 'expired'
              ? { label: 'Expired', appearance: 'removed' }
              : { label: 'Stored', appearance: 'success' }
          : { label: 'Not set', appearance: 'default' }
      }
      owner={
        summary.configured
          ? `A token of ${summary.username ?? 'an unknown user'} on ${summary.host} is stored. Projects and repository settings change on behalf of this Valohai user.`
          : 'No Valohai token is stored. The Valohai pages of this workspace\u2019s repositories need one to connect.'
      }
      configured={summary.configured}
      lifetime={summary.lifetime}
      problem={summary.problem}
      disabled={disabled}
      formLabel="Store a Valohai token"
      fields={[
        {
          name: 'host',
          label: 'Valohai host',
          autoComplete: 'url',
          help: () => 'Change it only for a self-hosted Valohai installation.',
        },
        {
          name: 'token',
          label: 'Valohai API token',
          type: 'password',
          autoComplete: 'new-password',
          secret: true,
          help: (values) => {
            const tokensUrl = valohaiTokensUrl(normaliseValohaiHost(values.host ?? '') ?? DEFAULT_VALOHAI_HOST);
            return (
              <>
                Create one at <ExternalLink href={tokensUrl} testId="valohai-token-link">{tokensUrl}</ExternalLink>.
                It acts as you on Valohai, so use an account that may edit the projects to connect.
              </>
            );
          },
        },
      ]}
      initial={{ host: summary.host || DEFAULT_VALOHAI_HOST }}
      expiryHelp={`Optional. If the token has an expiry date, give it as YYYY-MM-DD: the app warns ${TOKEN_EXPIRY_WARNING_DAYS} days ahead.`}
      check={(values) => {
        const host = (values.host ?? '').trim() || DEFAULT_VALOHAI_HOST;
        const token = (values.token ?? '').trim();
        const normalised = normaliseValohaiHost(host);
        const hostProblem = fieldRules.host(host);
        const errors = {
          host: hostProblem ? `${FIELD_NAMES.host} ${hostProblem}.` : undefined,
          token: fieldProblem(token, 'Paste a Valohai API token.', fieldRules.valohaiToken, 'token'),
        };
        if (!normalised) return { errors };
        return {
          errors,
          save: async (expiry) => {
            const saved = await call('saveValohaiToken', { host: normalised, token, ...expiry });
            onSaved(saved);
            return saved.username ? `Saved the Valohai token of ${saved.username}.` : 'Saved the Valohai token.';
          },
        };
      }}
      saveLabel="Save Valohai token"
      clearTitle="Remove the Valohai token?"
      clearConsequence="The token is deleted from this workspace. Connected repositories keep working on Valohai, but nobody can connect, rotate, verify or disconnect until a token is stored again."
      onCleared={onCleared}
    />
  );
}

/** The Bitbucket token's state at a glance: what it can do, not merely that it is stored. */
function bitbucketLook(summary: BitbucketCredentialSummary): { label: string; appearance: ThemeAppearance } {
  if (!summary.configured) return { label: 'Not set', appearance: 'default' };
  if (summary.problem) return { label: 'Not working', appearance: 'removed' };
  if (summary.lifetime?.level === 'expired') return { label: 'Expired', appearance: 'removed' };
  if (summary.missingScopes.length) return { label: 'Missing scopes', appearance: 'moved' };
  if (summary.workspaceAdmin === false) return { label: 'Stored, not an admin', appearance: 'moved' };
  return { label: 'Stored', appearance: 'success' };
}

/** A Bitbucket token that does all the app needs: its set-up instructions have done their work. */
export function bitbucketWorks(summary: BitbucketCredentialSummary): boolean {
  return summary.configured && !summary.problem && summary.lifetime?.level !== 'expired' && summary.missingScopes.length === 0 && summary.workspaceAdmin !== false;
}

/** How to make a Bitbucket API token: shown until one works, then folded behind a button. */
function TokenInstructions({ folded }: { folded: boolean }) {
  const [open, setOpen] = useState(!folded);
  const shown = open || !folded;
  return (
    <Stack space="space.100">
      {folded && (
        <Inline>
          <Button appearance="subtle" onClick={() => setOpen(!open)} aria-expanded={shown} aria-controls="token-instructions" testId="token-instructions-toggle">
            {shown ? 'Hide how to create a token' : 'How to create a token (to replace this one)'}
          </Button>
        </Inline>
      )}
      <div id="token-instructions" hidden={!shown} data-testid="token-instructions">
        <Stack space="space.100">
          <Text as="p">
            Bitbucket lets only a user&apos;s API token manage access keys. At{' '}
            <ExternalLink href={ATLASSIAN_API_TOKENS_URL} testId="atlassian-token-link">
              id.atlassian.com &rsaquo; API tokens
            </ExternalLink>
            , choose <Text weight="bold">Create API token with scopes</Text>, pick the app <Text weight="bold">Bitbucket</Text> and tick exactly:
          </Text>
          <ScopeList scopes={BITBUCKET_TOKEN_SCOPES} testId="required-scopes" />
        </Stack>
      </div>
    </Stack>
  );
}

function ScopeList({ scopes, testId }: { scopes: readonly string[]; testId?: string }) {
  return (
    <ul data-testid={testId}>
      {scopes.map((scope) => (
        <li key={scope}>
          <code>{scope}</code>
        </li>
      ))}
    </ul>
  );
}

const hhmm = (iso: string) => `${iso.slice(11, 16)} UTC`;

/** The token's hour by the app's own count: Bitbucket tells an API token nothing of it. */
function TokenHourLine({ hour, who }: { hour: NonNullable<BitbucketCredentialSummary['hour']>; who: string }) {
  return (
    <Stack space="space.100">
      <Text as="p" color="color.text.subtle" testId="token-hour">
        In the last hour the app sent {hour.spent} of the about {hour.limit} requests Bitbucket allows {who} ({hour.unattended} of them by checks,
        push handling and bulk work, which may use {Math.floor(hour.limit * 0.6)}).
      </Text>
      {hour.resumesAt && (
        <SectionMessage appearance="warning" title="The token's hour is spent" testId="token-hour-spent">
          <Text as="p">
            By the app&apos;s count, {who} has used the about {hour.limit} requests Bitbucket allows in an hour. Actions that need the token can
            start again at about {hhmm(hour.resumesAt)}. Pages show what the app stored until then, and a token of another account can be saved
            now.
          </Text>
        </SectionMessage>
      )}
      {!hour.resumesAt && hour.automaticWorkWaitsUntil && (
        <SectionMessage appearance="information" title="Bitbucket answered “too many requests”" testId="token-hour-waiting">
          <Text as="p">
            Checks, push handling and bulk work wait until about {hhmm(hour.automaticWorkWaitsUntil)}; what you start yourself is tried now.
          </Text>
        </SectionMessage>
      )}
    </Stack>
  );
}

/** What the stored token lacks to do all the app needs: an admin's account, every scope. */
function BitbucketNotices({ summary, who }: { summary: BitbucketCredentialSummary; who: string }) {
  return (
    <>
      {summary.configured && summary.hour && <TokenHourLine hour={summary.hour} who={who} />}
      {summary.configured && !summary.problem && summary.workspaceAdmin === false && (
        <SectionMessage appearance="warning" title={`${who} is not an admin of this workspace`} testId="token-not-admin">
          <Text as="p">
            Bitbucket lets a token add access keys only on the repositories its account administers, so connecting any other
            repository of this workspace will fail. Save a token of a workspace admin instead, or make {who} an admin of each
            repository to connect.
          </Text>
        </SectionMessage>
      )}
      {summary.configured && summary.missingScopes.length > 0 && (
        <SectionMessage appearance="warning" title={`The stored token lacks ${plural(summary.missingScopes.length, 'scope')}`} testId="missing-scopes">
          <Stack space="space.100">
            <Text as="p">Create a new token with every scope listed below, then save it here. Missing:</Text>
            <ScopeList scopes={summary.missingScopes} />
          </Stack>
        </SectionMessage>
      )}
    </>
  );
}

export function BitbucketSection({ summary, disabled, onSaved, onCleared }: SectionProps<BitbucketCredentialSummary>) {
  const who = summary.accountName ? `${summary.accountName} (${summary.email ?? 'no email'})` : (summary.email ?? 'an unknown account');
  const works = bitbucketWorks(summary);
  return (
    <TokenSection
      kind="bitbucket"
      title="Bitbucket API token"
      look={bitbucketLook(summary)}
      owner={
        summary.configured
          ? `A token of ${who} is stored. Access keys are added and removed with it; Bitbucket emails the repository admins about each added key.`
          : 'No Bitbucket API token is stored. Repositories can still be connected: the page then gives you the public key to add by hand on each repository.'
      }
      configured={summary.configured}
      lifetime={summary.lifetime}
      problem={summary.problem}
      notices={<BitbucketNotices summary={summary} who={who} />}
      instructions={<TokenInstructions key={String(works)} folded={works} />}
      instructionsAlways={!works}
      disabled={disabled}
      formLabel="Store a Bitbucket API token"
      fields={[
        { name: 'email', label: 'Atlassian account email', type: 'email', autoComplete: 'email' },
        { name: 'token', label: 'Atlassian API token', type: 'password', autoComplete: 'new-password', secret: true },
      ]}
      initial={{ email: summary.email ?? '' }}
      expiryHelp={`Atlassian API tokens expire within a year: give the date chosen when the token was made, as YYYY-MM-DD, and the app warns ${TOKEN_EXPIRY_WARNING_DAYS} days ahead on every page.`}
      check={(values) => {
        const email = (values.email ?? '').trim();
        const token = (values.token ?? '').trim();
        return {
          errors: {
            email: fieldProblem(email, 'Enter the email address of your Atlassian account.', fieldRules.email, 'email'),
            token: fieldProblem(token, 'Paste an Atlassian API token.', fieldRules.bitbucketToken, 'token'),
          },
          save: async (expiry, confirmWorse) => {
            const saved = await call('saveBitbucketToken', { email, token, ...expiry, ...(confirmWorse ? { confirmWorse } : {}) });
            onSaved(saved);
            return `Saved the Bitbucket API token of ${saved.accountName ?? saved.email ?? email}.`;
          },
        };
      }}
      saveLabel="Save Bitbucket token"
      clearTitle="Remove the Bitbucket API token?"
      clearConsequence="The token is deleted from this workspace. Access keys then are added and removed by hand: the repository pages show the key and a link to each repository."
      onCleared={onCleared}
    />
  );
}
