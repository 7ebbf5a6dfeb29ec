import { useCallback, useEffect, useState, type FormEvent } from 'react';
import Button from '@atlaskit/button/new';
import { ErrorMessage, HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import Spinner from '@atlaskit/spinner';
import Textfield from '@atlaskit/textfield';
import {
  ATLASSIAN_API_TOKENS_URL,
  BITBUCKET_TOKEN_SCOPES,
  DEFAULT_VALOHAI_HOST,
  FIELD_NAMES,
  MAX_TOKEN_LIFETIME_DAYS,
  TOKEN_EXPIRY_WARNING_DAYS,
  daysUntil,
  expiryProblem,
  fieldRules,
  normaliseValohaiHost,
  valohaiTokensUrl,
  type BitbucketCredentialSummary,
  type ResolverError,
  type TokenLifetime,
  type ValohaiCredentialSummary,
  type WorkspaceSettings,
} from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ExternalLink, ProductLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { StatusRegion } from '../components/status-region';
import { TrustSection } from './trust-section';
import { HealthPolicySection } from './health-policy-section';
import { KeyNoticeTable } from '../components/key-notices';
import { daysFromToday, formatDateTime, plural, relativeTime } from '../format';
import { pageStyles, sectionStyles } from '../styles';
import { FleetAudit } from './fleet/fleet-audit';
import { FleetBatch } from './fleet/fleet-batch';
import { FleetRepositories } from './fleet/fleet-repositories';

const formStyles = xcss({ maxWidth: '480px' });
const dateStyles = xcss({ maxWidth: '200px' });

const CLEAR_CONSEQUENCE = {
  valohai: 'The token is deleted from this workspace. Connected repositories keep working on Valohai, but nobody can connect, rotate, verify or disconnect until a token is stored again.',
  bitbucket: 'The token is deleted from this workspace. Access keys then are added and removed by hand: the repository pages show the key and a link to each repository.',
} as const;

type Notice = { kind: 'saved'; text: string } | { kind: 'error'; error: ResolverError } | null;

/** The Bitbucket token's state at a glance: what it can do, not merely that it is stored. */
function bitbucketLook(summary: BitbucketCredentialSummary): { label: string; appearance: ThemeAppearance } {
  if (!summary.configured) return { label: 'Not set', appearance: 'default' };
  if (summary.problem) return { label: 'Not working', appearance: 'removed' };
  if (summary.missingScopes.length) return { label: 'Missing scopes', appearance: 'moved' };
  if (summary.workspaceAdmin === false) return { label: 'Stored, not an admin', appearance: 'moved' };
  return { label: 'Stored', appearance: 'success' };
}

function NoticeView({ notice, testId }: { notice: Notice; testId: string }) {
  // Always rendered, so that the live region exists before its content changes.
  return (
    <StatusRegion testId={`${testId}-status`}>
      {notice?.kind === 'saved' && (
        <SectionMessage appearance="success" title={notice.text} testId={`${testId}-saved`}>
          <Text as="p">The token is stored as a Forge secret; this page will not show it again.</Text>
        </SectionMessage>
      )}
      {notice?.kind === 'error' && <ProblemMessage error={notice.error} testId={`${testId}-error`} />}
    </StatusRegion>
  );
}

/**
 * Why a typed expiry date is refused, as the field shows it; null when it is fine or empty. A Valohai
 * token may live longer than a year, so only an Atlassian API token is held to MAX_TOKEN_LIFETIME_DAYS.
 */
function expiryFieldProblem(value: string, kind: 'valohai' | 'bitbucket', today = new Date()): string | null {
  const date = value.trim();
  if (!date) return null;
  if (kind === 'valohai' && /^\d{4}-\d{2}-\d{2}$/.test(date) && daysUntil(date, today) > MAX_TOKEN_LIFETIME_DAYS) return null;
  const problem = expiryProblem(date, today);
  return problem ? `${FIELD_NAMES.expiresOn} ${problem}.` : null;
}

function ExpiryField({
  id,
  value,
  onChange,
  disabled,
  error,
  help,
}: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  disabled: boolean;
  error?: string;
  help: string;
}) {
  return (
    <Stack space="space.050">
      <Label htmlFor={id}>Expiry date</Label>
      <Box xcss={dateStyles}>
        <Textfield
          id={id}
          name="expiresOn"
          value={value}
          onChange={(e) => onChange(e.currentTarget.value)}
          isInvalid={Boolean(error)}
          isDisabled={disabled}
          placeholder="YYYY-MM-DD"
          autoComplete="off"
          aria-describedby={`${id}-help`}
          testId={id}
        />
      </Box>
      {error ? (
        <ErrorMessage testId={`${id}-error`}>{error}</ErrorMessage>
      ) : (
        <HelperMessage>
          <span id={`${id}-help`}>{help}</span>
        </HelperMessage>
      )}
    </Stack>
  );
}

/** When the stored token was stored and until when it works; a warning near the date, an error past it. */
function Lifetime({ lifetime, testId }: { lifetime: TokenLifetime; testId: string }) {
  const stored = `Stored ${relativeTime(lifetime.savedAt)} (${formatDateTime(lifetime.savedAt)})`;
  if (!lifetime.expiresOn || lifetime.expiresInDays === null) {
    return (
      <Text as="p" testId={testId}>
        {stored}; no expiry date was given.
      </Text>
    );
  }
  const when = daysFromToday(lifetime.expiresInDays);
  if (lifetime.level === 'expired') {
    return (
      <SectionMessage appearance="error" title={`The token expired on ${lifetime.expiresOn}, ${when}`} testId={testId}>
        <Text as="p">
          {stored}. Automatic checks, repairs and rotations wait for a new token: make one and save it here.
        </Text>
      </SectionMessage>
    );
  }
  const sentence = `${stored}, expires on ${lifetime.expiresOn}, ${when}.`;
  if (lifetime.level === 'warning') {
    return (
      <SectionMessage appearance="warning" title={`The token expires on ${lifetime.expiresOn}, ${when}`} testId={testId}>
        <Text as="p">
          {sentence} Make a new one and save it here before then: within {TOKEN_EXPIRY_WARNING_DAYS} days of the date every repository page says so too.
        </Text>
      </SectionMessage>
    );
  }
  return (
    <Text as="p" testId={testId}>
      {sentence}
    </Text>
  );
}

/** A Bitbucket token that does all the app needs: its set-up instructions have done their work. */
function bitbucketWorks(summary: BitbucketCredentialSummary): boolean {
  return summary.configured && !summary.problem && summary.missingScopes.length === 0 && summary.workspaceAdmin !== false;
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
          <ul data-testid="required-scopes">
            {BITBUCKET_TOKEN_SCOPES.map((scope) => (
              <li key={scope}>
                <code>{scope}</code>
              </li>
            ))}
          </ul>
        </Stack>
      </div>
    </Stack>
  );
}

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

function ValohaiSection({
  summary,
  disabled,
  onSaved,
  onCleared,
}: {
  summary: ValohaiCredentialSummary;
  disabled: boolean;
  onSaved: (summary: ValohaiCredentialSummary) => void;
  onCleared: () => Promise<void>;
}) {
  const [host, setHost] = useState(summary.host || DEFAULT_VALOHAI_HOST);
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [confirmClear, setConfirmClear] = useState(false);
  const [expires, setExpires] = useState('');
  const [fieldError, setFieldError] = useState<{ host?: string; token?: string; expiresOn?: string }>({});
  const hostForLink = normaliseValohaiHost(host) ?? DEFAULT_VALOHAI_HOST;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    // A new attempt: what the last one said no longer applies.
    setNotice(null);
    const errors: { host?: string; token?: string; expiresOn?: string } = {};
    const normalised = normaliseValohaiHost(host.trim() || DEFAULT_VALOHAI_HOST);
    const hostProblem = fieldRules.host(host.trim() || DEFAULT_VALOHAI_HOST);
    if (hostProblem) errors.host = `${FIELD_NAMES.host} ${hostProblem}.`;
    if (!token.trim()) errors.token = 'Paste a Valohai API token.';
    else if (fieldRules.valohaiToken(token.trim())) errors.token = `${FIELD_NAMES.token} ${fieldRules.valohaiToken(token.trim())}.`;
    const expiry = expiryFieldProblem(expires, 'valohai');
    if (expiry) errors.expiresOn = expiry;
    setFieldError(errors);
    if (errors.host || errors.token || errors.expiresOn || !normalised) return;
    setBusy(true);
    try {
      const saved = await call('saveValohaiToken', { host: normalised, token: token.trim(), ...(expires.trim() ? { expiresOn: expires.trim() } : {}) });
      setToken('');
      setExpires('');
      setNotice({ kind: 'saved', text: saved.username ? `Saved the Valohai token of ${saved.username}.` : 'Saved the Valohai token.' });
      onSaved(saved);
    } catch (err) {
      const error = errorDetail(err);
      // The server's word on one field goes on that field.
      if (error.field === 'host' || error.field === 'token' || error.field === 'expiresOn') setFieldError({ [error.field]: error.message });
      else setNotice({ kind: 'error', error });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="valohai-heading" testId="valohai-section">
      <Stack space="space.200">
        <Inline space="space.100" alignBlock="center">
          <Heading size="medium" as="h2" id="valohai-heading">
            Valohai token
          </Heading>
          <Lozenge appearance={!summary.configured ? 'default' : summary.problem ? 'removed' : 'success'} testId="valohai-state">
            {summary.configured ? (summary.problem ? 'Not working' : 'Stored') : 'Not set'}
          </Lozenge>
        </Inline>
        <Text as="p" testId="valohai-owner">
          {summary.configured
            ? `A token of ${summary.username ?? 'an unknown user'} on ${summary.host} is stored. Projects and repository settings change on behalf of this Valohai user.`
            : 'No Valohai token is stored. The Valohai pages of this workspace\u2019s repositories need one to connect.'}
        </Text>
        {summary.configured && summary.lifetime && <Lifetime lifetime={summary.lifetime} testId="valohai-lifetime" />}
        {summary.problem && <ProblemMessage error={summary.problem} testId="valohai-problem" />}
        {/* Someone who cannot store a token is told who can (above), not handed a form that cannot work. */}
        {!disabled && (
        <form onSubmit={onSubmit} noValidate aria-label="Store a Valohai token">
          <Box xcss={formStyles}>
            <Stack space="space.150">
              <Stack space="space.050">
                <Label htmlFor="valohai-host">Valohai host</Label>
                <Textfield
                  id="valohai-host"
                  name="host"
                  value={host}
                  onChange={(e) => setHost(e.currentTarget.value)}
                  isInvalid={Boolean(fieldError.host)}
                  isDisabled={disabled || busy}
                  autoComplete="url"
                  aria-describedby="valohai-host-help"
                  testId="valohai-host"
                />
                {fieldError.host ? (
                  <ErrorMessage testId="valohai-host-error">{fieldError.host}</ErrorMessage>
                ) : (
                  <HelperMessage>
                    <span id="valohai-host-help">Change it only for a self-hosted Valohai installation.</span>
                  </HelperMessage>
                )}
              </Stack>
              <Stack space="space.050">
                <Label htmlFor="valohai-token">Valohai API token</Label>
                <Textfield
                  id="valohai-token"
                  name="token"
                  type="password"
                  value={token}
                  onChange={(e) => setToken(e.currentTarget.value)}
                  isInvalid={Boolean(fieldError.token)}
                  isDisabled={disabled || busy}
                  autoComplete="new-password"
                  aria-describedby="valohai-token-help"
                  testId="valohai-token"
                />
                {fieldError.token ? (
                  <ErrorMessage testId="valohai-token-error">{fieldError.token}</ErrorMessage>
                ) : (
                  <HelperMessage>
                    <span id="valohai-token-help">
                      Create one at <ExternalLink href={valohaiTokensUrl(hostForLink)} testId="valohai-token-link">{valohaiTokensUrl(hostForLink)}</ExternalLink>.
                      It acts as you on Valohai, so use an account that may edit the projects to connect.
                    </span>
                  </HelperMessage>
                )}
              </Stack>
              <ExpiryField
                id="valohai-expires"
                value={expires}
                onChange={setExpires}
                disabled={disabled || busy}
                error={fieldError.expiresOn}
                help={`Optional. If the token has an expiry date, give it as YYYY-MM-DD: the app warns ${TOKEN_EXPIRY_WARNING_DAYS} days ahead.`}
              />
              <Inline space="space.100">
                <Button type="submit" appearance="primary" isDisabled={disabled} isLoading={busy} testId="valohai-save">
                  Save Valohai token
                </Button>
                {summary.configured && (
                  <Button isDisabled={disabled || busy} onClick={() => setConfirmClear(true)} testId="valohai-clear">
                    Remove token
                  </Button>
                )}
                <ConfirmDialog
                  open={confirmClear}
                  title="Remove the Valohai token?"
                  confirmLabel="Remove token"
                  onCancel={() => setConfirmClear(false)}
                  onConfirm={() => {
                    setConfirmClear(false);
                    void onCleared();
                  }}
                  testId="valohai-clear-confirm"
                >
                  {CLEAR_CONSEQUENCE.valohai}
                </ConfirmDialog>
              </Inline>
            </Stack>
          </Box>
        </form>
        )}
      </Stack>
      <NoticeView notice={notice} testId="valohai" />
    </Box>
  );
}

function BitbucketSection({
  summary,
  disabled,
  onSaved,
  onCleared,
}: {
  summary: BitbucketCredentialSummary;
  disabled: boolean;
  onSaved: (summary: BitbucketCredentialSummary) => void;
  onCleared: () => Promise<void>;
}) {
  const [email, setEmail] = useState(summary.email ?? '');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [confirmClear, setConfirmClear] = useState(false);
  const [expires, setExpires] = useState('');
  const [fieldError, setFieldError] = useState<{ email?: string; token?: string; expiresOn?: string }>({});

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setNotice(null);
    const errors: { email?: string; token?: string; expiresOn?: string } = {};
    if (!email.trim()) errors.email = 'Enter the email address of your Atlassian account.';
    else if (fieldRules.email(email.trim())) errors.email = `${FIELD_NAMES.email} ${fieldRules.email(email.trim())}.`;
    if (!token.trim()) errors.token = 'Paste an Atlassian API token.';
    else if (fieldRules.bitbucketToken(token.trim())) errors.token = `${FIELD_NAMES.token} ${fieldRules.bitbucketToken(token.trim())}.`;
    const expiry = expiryFieldProblem(expires, 'bitbucket');
    if (expiry) errors.expiresOn = expiry;
    setFieldError(errors);
    if (errors.email || errors.token || errors.expiresOn) return;
    setBusy(true);
    try {
      const saved = await call('saveBitbucketToken', { email: email.trim(), token: token.trim(), ...(expires.trim() ? { expiresOn: expires.trim() } : {}) });
      setToken('');
      setExpires('');
      setNotice({ kind: 'saved', text: `Saved the Bitbucket API token of ${saved.accountName ?? saved.email ?? email.trim()}.` });
      onSaved(saved);
    } catch (err) {
      const error = errorDetail(err);
      if (error.field === 'email' || error.field === 'token' || error.field === 'expiresOn') setFieldError({ [error.field]: error.message });
      else setNotice({ kind: 'error', error });
    } finally {
      setBusy(false);
    }
  };

  const who = summary.accountName ? `${summary.accountName} (${summary.email ?? 'no email'})` : (summary.email ?? 'an unknown account');
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="bitbucket-heading" testId="bitbucket-section">
      <Stack space="space.200">
        <Inline space="space.100" alignBlock="center">
          <Heading size="medium" as="h2" id="bitbucket-heading">
            Bitbucket API token
          </Heading>
          <Lozenge appearance={bitbucketLook(summary).appearance} testId="bitbucket-state">
            {bitbucketLook(summary).label}
          </Lozenge>
        </Inline>
        <Text as="p" testId="bitbucket-owner">
          {summary.configured
            ? `A token of ${who} is stored. Access keys are added and removed with it; Bitbucket emails the repository admins about each added key.`
            : 'No Bitbucket API token is stored. Repositories can still be connected: the page then gives you the public key to add by hand on each repository.'}
        </Text>
        {summary.configured && summary.lifetime && <Lifetime lifetime={summary.lifetime} testId="bitbucket-lifetime" />}
        {summary.problem && <ProblemMessage error={summary.problem} testId="bitbucket-problem" />}
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
              <ul>
                {summary.missingScopes.map((scope) => (
                  <li key={scope}>
                    <code>{scope}</code>
                  </li>
                ))}
              </ul>
            </Stack>
          </SectionMessage>
        )}
        {!disabled && (
        <>
        <TokenInstructions key={String(bitbucketWorks(summary))} folded={bitbucketWorks(summary)} />
        <form onSubmit={onSubmit} noValidate aria-label="Store a Bitbucket API token">
          <Box xcss={formStyles}>
            <Stack space="space.150">
              <Stack space="space.050">
                <Label htmlFor="bitbucket-email">Atlassian account email</Label>
                <Textfield
                  id="bitbucket-email"
                  name="email"
                  type="email"
                  value={email}
                  onChange={(e) => setEmail(e.currentTarget.value)}
                  isInvalid={Boolean(fieldError.email)}
                  isDisabled={disabled || busy}
                  autoComplete="email"
                  testId="bitbucket-email"
                />
                {fieldError.email && <ErrorMessage testId="bitbucket-email-error">{fieldError.email}</ErrorMessage>}
              </Stack>
              <Stack space="space.050">
                <Label htmlFor="bitbucket-token">Atlassian API token</Label>
                <Textfield
                  id="bitbucket-token"
                  name="token"
                  type="password"
                  value={token}
                  onChange={(e) => setToken(e.currentTarget.value)}
                  isInvalid={Boolean(fieldError.token)}
                  isDisabled={disabled || busy}
                  autoComplete="new-password"
                  testId="bitbucket-token"
                />
                {fieldError.token && <ErrorMessage testId="bitbucket-token-error">{fieldError.token}</ErrorMessage>}
              </Stack>
              <ExpiryField
                id="bitbucket-expires"
                value={expires}
                onChange={setExpires}
                disabled={disabled || busy}
                error={fieldError.expiresOn}
                help={`Atlassian API tokens expire within a year: give the date chosen when the token was made, as YYYY-MM-DD, and the app warns ${TOKEN_EXPIRY_WARNING_DAYS} days ahead on every page.`}
              />
              <Inline space="space.100">
                <Button type="submit" appearance="primary" isDisabled={disabled} isLoading={busy} testId="bitbucket-save">
                  Save Bitbucket token
                </Button>
                {summary.configured && (
                  <Button isDisabled={disabled || busy} onClick={() => setConfirmClear(true)} testId="bitbucket-clear">
                    Remove token
                  </Button>
                )}
                <ConfirmDialog
                  open={confirmClear}
                  title="Remove the Bitbucket API token?"
                  confirmLabel="Remove token"
                  onCancel={() => setConfirmClear(false)}
                  onConfirm={() => {
                    setConfirmClear(false);
                    void onCleared();
                  }}
                  testId="bitbucket-clear-confirm"
                >
                  {CLEAR_CONSEQUENCE.bitbucket}
                </ConfirmDialog>
              </Inline>
            </Stack>
          </Box>
        </form>
        </>
        )}
      </Stack>
      <NoticeView notice={notice} testId="bitbucket" />
    </Box>
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
  const [settings, setSettings] = useState<WorkspaceSettings | null>(null);
  const [error, setError] = useState<ResolverError | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);

  const load = useCallback(async () => {
    try {
      setSettings(await call('getWorkspaceSettings', {}));
      setError(null);
    } catch (err) {
      setError(errorDetail(err));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const clear = async (which: 'valohai' | 'bitbucket') => {
    try {
      setSettings(await call('clearCredentials', { which }));
    } catch (err) {
      setError(errorDetail(err));
    }
  };

  return (
    <Box xcss={pageStyles}>
      <Stack space="space.300">
        <Stack space="space.100">
          <Heading size="large" as="h1">
            Valohai
          </Heading>
          <Text as="p" color="color.text.subtle">
            Credentials this workspace&apos;s Valohai connections use. Tokens are stored as Forge secrets and never shown again.
          </Text>
        </Stack>
        {error && (
          <ProblemMessage error={error} testId="load-error">
            {error.temporary && (
              <Inline>
                <Button onClick={() => void load()}>Try again</Button>
              </Inline>
            )}
          </ProblemMessage>
        )}
        {!settings && !error && <Spinner label="Loading workspace settings" size="large" />}
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
      </Stack>
    </Box>
  );
}
