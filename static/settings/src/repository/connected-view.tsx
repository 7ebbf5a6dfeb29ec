import { useState } from 'react';
import { createPortal } from 'react-dom';
import Button from '@atlaskit/button/new';
import { SettingsTable, type Columns } from '../components/settings-table';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import {
  KEY_AGE_ALERT_DAYS,
  KEY_AGE_WARNING_DAYS,
  keyAgeLevel,
  type AccessKeyStatus,
  type ConnectionStatus,
  type RepositoryPage,
  type ResolverError,
  type SyncState,
} from '../../../../src/forge/contract';
import { call } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ExternalLink, ProductLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { formatDateTime, keyAge, plural } from '../format';
import { HealthCard } from './health-card';
import { CommitLink } from './commit-link';
import { sameWarning, WarningList } from './warning-list';
import type { Warning } from '../../../../src/connect/types';
import type { StartAction } from './start-action';
import { sectionStyles } from '../styles';
import { PublicKeyField, publicKeyProblem } from './public-key-field';

const factsStyles = xcss({
  display: 'grid',
  gridTemplateColumns: 'max-content 1fr',
  columnGap: 'space.300',
  rowGap: 'space.100',
  alignItems: 'baseline',
  margin: 'space.0',
  padding: 'space.0',
});
const valueStyles = xcss({ margin: 'space.0' });

const keyLook: Record<AccessKeyStatus['state'], { label: string; appearance: ThemeAppearance }> = {
  present: { label: 'Present', appearance: 'success' },
  missing: { label: 'Missing', appearance: 'removed' },
  // Without an API token the keys cannot be listed: say so rather than guess either way.
  unchecked: { label: 'Not checked', appearance: 'default' },
};

// Said in words among the facts: the connection's one verdict is in the page header.
const syncLook: Record<SyncState['state'], { label: string }> = {
  'in-sync': { label: 'In sync' },
  behind: { label: 'Not in sync' },
  failing: { label: 'Valohai cannot fetch' },
  moved: { label: 'Project moved' },
  unknown: { label: 'Not verified' },
};

/** The key's age is said once, in the message at the top: not again as a warning or a finding. */
const KEY_AGE_CODES = new Set<string>(['key-age-warning', 'key-age-alert']);

const ACCESS_KEY_COLUMNS: Columns = [
  { key: 'repo', content: 'Repository', width: 50 },
  { key: 'state', content: 'Access key', width: 20 },
  { key: 'used', content: 'Last used', width: 30 },
];

/** Why Valohai cannot fetch, from its last fetch (or the key missing now), with the way out. */
function SyncProblem({ sync, readOnly }: { sync: SyncState; readOnly: boolean }) {
  if (sync.state === 'behind') {
    return (
      <Text as="p" color="color.text.subtle" testId="sync-behind">
        Bitbucket has commits Valohai has not fetched yet. The next push makes Valohai fetch{readOnly ? '.' : ', or Verify now fetches them.'}
      </Text>
    );
  }
  if (sync.state !== 'failing') return null;
  return (
    <SectionMessage appearance="error" title="Valohai cannot fetch this repository" testId="sync-failing">
      <Stack space="space.100">
        {sync.at && <Text as="p">Its last fetch, {formatDateTime(sync.at)}, failed:</Text>}
        <ul>
          {sync.errors.map((e, i) => (
            <li key={i}>{e}</li>
          ))}
        </ul>
        {!readOnly && <Text as="p">Fix the cause, then Verify now; Rotate puts a new key on every repository.</Text>}
      </Stack>
    </SectionMessage>
  );
}

/** What Disconnect will do, exactly: with each token or without it, the repositories it names are the ones it touches. */
function disconnectQuestion(connection: ConnectionStatus, setup: RepositoryPage['setup']): string {
  const repos = plural(connection.accessKeys.length, 'repository', 'repositories');
  const keys = setup.bitbucket
    ? `This removes the access key from ${repos}`
    : `The app forgets the connection and lists the access key on ${repos} for you to remove by hand (without a Bitbucket API token it cannot remove them)`;
  if (connection.movedAway) return `${keys}. The Valohai project ${connection.project.name} keeps fetching ${connection.movedAway.fetches}.`;
  if (!setup.valohai) return `${keys}. Without a Valohai token the key stays in the Valohai project ${connection.project.name} until you remove it there.`;
  return `${keys} and from the Valohai project ${connection.project.name}. Valohai can no longer fetch this repository until you connect again.`;
}

function Fact({ term, children, testId }: { term: string; children: React.ReactNode; testId?: string }) {
  return (
    <>
      <dt>
        <Text weight="medium" color="color.text.subtle">
          {term}
        </Text>
      </dt>
      <Box as="dd" xcss={valueStyles} testId={testId}>
        {children}
      </Box>
    </>
  );
}

export function ConnectedView({
  connection,
  repository,
  shownWarnings = [],
  readOnly,
  start,
  setup,
  actionsSlot,
}: {
  connection: ConnectionStatus;
  /** `workspace/slug`, for links to its commits. */
  repository: string;
  /** Warnings the job's result above already shows: not repeated here. */
  shownWarnings?: Warning[];
  readOnly: boolean;
  start: StartAction;
  setup: RepositoryPage['setup'];
  /** Where the page header keeps its actions: the buttons go there, seen without scrolling. */
  actionsSlot?: HTMLElement | null;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState<'verify' | 'rotate' | 'disconnect' | null>(null);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const level = keyAgeLevel(connection.keyAgeDays);
  const fromValohai = connection.keySource === 'valohai';
  // A key made in Valohai is rotated with a new one made there: its public half is asked for first.
  const [askingKey, setAskingKey] = useState(false);
  const [newKey, setNewKey] = useState('');
  const [newKeyError, setNewKeyError] = useState<string | undefined>();

  const run = async (which: 'verify' | 'rotate' | 'disconnect') => {
    if (which === 'rotate' && fromValohai && !askingKey) {
      setAskingKey(true);
      return;
    }
    if (which === 'rotate' && fromValohai) {
      const bad = publicKeyProblem(newKey);
      setNewKeyError(bad ?? undefined);
      if (bad) return;
    }
    setBusy(which);
    setProblem(null);
    const failure =
      which === 'verify'
        ? await start('verify', () => call('startVerify', {}))
        : which === 'rotate'
          ? await start('rotate', () => call('startRotate', fromValohai ? { publicKey: newKey.trim() } : {}))
          : await start('disconnect', () => call('startDisconnect', {}));
    setBusy(null);
    if (failure?.field === 'publicKey') setNewKeyError(failure.message);
    else if (failure) setProblem(failure);
  };

  const accessKeyRows = connection.accessKeys.map((k) => ({
    key: k.repository,
    cells: [
      { key: 'repo', content: <ExternalLink href={k.accessKeysUrl}>{k.repository}</ExternalLink> },
      {
        key: 'state',
        content: <Lozenge appearance={keyLook[k.state].appearance}>{keyLook[k.state].label}</Lozenge>,
      },
      { key: 'used', content: k.state === 'unchecked' ? 'Unknown' : formatDateTime(k.lastUsed) },
    ],
  }));

  // The page's actions, in the page header; red is kept for the dialog's button that confirms.
  const actions = (
    <Box testId="page-actions">
      <Inline space="space.100">
        {!connection.movedAway && setup.valohai && (
          <>
            <Button onClick={() => void run('verify')} isDisabled={readOnly || busy !== null} isLoading={busy === 'verify'} testId="verify-button">
              Verify now
            </Button>
            {setup.bitbucket && (
              <Button onClick={() => void run('rotate')} isDisabled={readOnly || busy !== null} isLoading={busy === 'rotate'} testId="rotate-button">
                {askingKey ? 'Rotate with this key' : 'Rotate key'}
              </Button>
            )}
          </>
        )}
        <Button appearance="default" onClick={() => setConfirming(true)} isDisabled={readOnly || busy !== null} testId="disconnect-button">
          Disconnect
        </Button>
      </Inline>
    </Box>
  );

  return (
    <Stack space="space.300" testId="connected-view">
      {level !== 'ok' && (
        <SectionMessage
          appearance={level === 'alert' ? 'error' : 'warning'}
          title={level === 'alert' ? `The access key is over ${KEY_AGE_ALERT_DAYS} days old` : `The access key is over ${KEY_AGE_WARNING_DAYS} days old`}
          testId="key-age-message"
        >
          <Text as="p">Rotate it: a new key replaces the old one on every repository and on Valohai, with no moment of broken access.</Text>
        </SectionMessage>
      )}

      {!setup.valohai && (
        <SectionMessage appearance="warning" title="No Valohai token is stored" testId="valohai-token-missing">
          <Stack space="space.100">
            <Text as="p">
              The connection is as it was, but the app cannot check it with Valohai, verify it or rotate its key until a workspace admin stores a
              Valohai token again{setup.workspaceSettingsUrl ? '' : ' on Workspace settings › Valohai'}.
              {setup.bitbucket
                ? ' Disconnect still removes the access key from every repository; then remove the key in the Valohai project settings by hand.'
                : ' Disconnect still forgets the connection and lists the access keys to remove by hand.'}
            </Text>
            {setup.workspaceSettingsUrl && (
              <Text as="p">
                <ProductLink href={setup.workspaceSettingsUrl}>Open Workspace settings › Valohai</ProductLink>
              </Text>
            )}
          </Stack>
        </SectionMessage>
      )}

      <Box as="section" xcss={sectionStyles} aria-labelledby="connection-heading">
        <Stack space="space.200">
          <Heading size="medium" as="h2" id="connection-heading">
            Connection
          </Heading>
          <Box as="dl" xcss={factsStyles}>
              <Fact term="Valohai project" testId="fact-project">
                {connection.project.url ? <ExternalLink href={connection.project.url}>{connection.project.name}</ExternalLink> : connection.project.name}
              </Fact>
              <Fact term="Fetch reference" testId="fact-ref">
                <code>{connection.ref}</code>
              </Fact>
              <Fact term="Key" testId="fact-fingerprint">
                {connection.keyType === 'rsa' ? 'RSA' : connection.keyType === 'ed25519' ? 'Ed25519' : 'ECDSA'} <code>{connection.fingerprint}</code>{' '}
                <span data-testid="key-source">{fromValohai ? '(made in Valohai; the app never held its private key)' : '(made by the app)'}</span>
              </Fact>
              <Fact term="Key age" testId="fact-key-age">
                {keyAge(connection.keyAgeDays)}
              </Fact>
              <Fact term="Valohai and Bitbucket" testId="sync-state">
                {connection.movedAway ? `Project moved to ${connection.movedAway.fetches}` : syncLook[connection.sync.state].label}
              </Fact>
              <Fact term={`Valohai's last fetch of ${connection.ref}`} testId="fact-valohai-commit">
                <CommitLink repository={repository} sha={connection.valohaiCommit?.identifier} />
                {connection.valohaiCommit?.fetchedAt ? ` (fetched ${formatDateTime(connection.valohaiCommit.fetchedAt)})` : ''}
              </Fact>
              <Fact term="Bitbucket head" testId="fact-bitbucket-head">
                <CommitLink repository={repository} sha={connection.bitbucketHead} />
              </Fact>
              <Fact term="Last verified" testId="fact-verified">
                {formatDateTime(connection.verifiedAt)}
              </Fact>
              <Fact term="Last push fetch" testId="fact-push-fetch">
                {connection.lastPushFetch
                  ? `${formatDateTime(connection.lastPushFetch.at)}: ${plural(connection.lastPushFetch.commits, 'new commit')}${
                      connection.lastPushFetch.errors.length ? `, ${plural(connection.lastPushFetch.errors.length, 'error')}` : ''
                    }`
                  : 'no push since connecting'}
              </Fact>
          </Box>
          <SyncProblem sync={connection.sync} readOnly={readOnly} />
          {connection.sync.state !== 'failing' && connection.lastPushFetch && connection.lastPushFetch.errors.length > 0 && (
            <SectionMessage appearance="warning" title="The last push-triggered fetch reported errors" testId="push-fetch-errors">
              <ul>
                {connection.lastPushFetch.errors.map((e, i) => (
                  <li key={i}>{e}</li>
                ))}
              </ul>
            </SectionMessage>
          )}
          <WarningList
            warnings={connection.warnings.filter((w) => !shownWarnings.some((s) => sameWarning(s, w)) && !(level !== 'ok' && KEY_AGE_CODES.has(w.code)))}
            testId="connection-warnings"
          />
        </Stack>
      </Box>

      <HealthCard
        health={connection.health}
        keyAgeShown={level !== 'ok'}
        readOnly={readOnly}
        setup={setup}
        {...(setup.bitbucket && !connection.movedAway && busy === null ? { onRotate: () => void run('rotate') } : {})}
      />

      <Box as="section" xcss={sectionStyles} aria-labelledby="keys-heading">
        <Stack space="space.200">
          <Heading size="medium" as="h2" id="keys-heading">
            Repositories holding the key
          </Heading>
          <SettingsTable
            label="Access key per repository"
            columns={ACCESS_KEY_COLUMNS}
            rows={accessKeyRows}
            testId="access-keys"
          />
          {connection.keysSeenAt && (
            <Text as="p" color="color.text.subtle" testId="keys-seen-at">
              As Bitbucket listed them on {formatDateTime(connection.keysSeenAt)}, at the last connect, rotate, check or Verify. Verify now lists them
              again.
            </Text>
          )}
          {connection.accessKeys.some((k) => k.state === 'unchecked') && setup.bitbucket && (
            <Text as="p" color="color.text.subtle" testId="keys-not-listed">
              The app has not listed the keys of the repositories marked Not checked yet: Verify now lists them with the stored API token.
            </Text>
          )}
          {connection.accessKeys.some((k) => k.state === 'unchecked') && !setup.bitbucket && (
            <Text as="p" color="color.text.subtle" testId="keys-unchecked">
              Without a Bitbucket API token the app cannot list access keys, so it cannot see them or when they were last used. Verify now
              checks that Valohai can still fetch with the key.
            </Text>
          )}
        </Stack>
      </Box>

      {!setup.bitbucket && setup.valohai && !connection.movedAway && (
        <Text as="p" color="color.text.subtle" testId="rotate-needs-token">
          Rotating puts a new key on every repository, which needs a Bitbucket API token stored on the workspace settings page. Without one,
          disconnect and connect again by hand to change the key.
        </Text>
      )}
      {problem && <ProblemMessage error={problem} testId="action-error" />}
      {askingKey && (
        <Box as="section" xcss={sectionStyles} aria-labelledby="rotate-valohai-heading" testId="rotate-valohai-key">
          <Stack space="space.150">
            <Heading size="small" as="h3" id="rotate-valohai-heading">
              Rotate with a new key made in Valohai
            </Heading>
            <SectionMessage appearance="warning" title="Valohai's fetches fail until the new key is on Bitbucket">
              <Text as="p">
                Generating a new key in Valohai replaces the one it fetches with, and Bitbucket knows only the old one until this rotation puts the
                new key on every repository. Rotate right after generating it. The old key leaves Bitbucket once Valohai fetches with the new one.
              </Text>
            </SectionMessage>
            <PublicKeyField
              id="rotate-public-key"
              label="New public key"
              help="Generate a new key in Valohai, then paste its public half here."
              value={newKey}
              error={newKeyError}
              disabled={readOnly || busy !== null}
              onChange={(v) => {
                setNewKey(v);
                setNewKeyError(undefined);
              }}
              testId="rotate-public-key"
            />
          </Stack>
        </Box>
      )}
      {actionsSlot ? createPortal(actions, actionsSlot) : actions}
      <ConfirmDialog
        open={confirming}
        title="Disconnect this repository from Valohai?"
        confirmLabel="Disconnect"
        onCancel={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          void run('disconnect');
        }}
        testId="disconnect-confirm"
      >
        {disconnectQuestion(connection, setup)}
      </ConfirmDialog>
    </Stack>
  );
}
