import { useState } from 'react';
import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import Lozenge from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import {
  accessKeysUrl,
  type JobView,
  type OtherConnection,
  type OtherConnectionKey,
  type ReadyDetails,
  type RepositoryPage,
  type ResolverError,
} from '../../../../src/forge/contract';
import type { KeyType } from '../../../../src/connect/types';
import { call, errorDetail } from '../api';
import { ExternalLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { SettingsTable, type Columns } from '../components/settings-table';
import { formatDateTime, relativeTime } from '../format';
import { sectionStyles } from '../styles';
import { ConnectForm, KEY_TYPE_CHOICES, RadioFieldset } from './connect-form';
import type { StartAction } from './start-action';

const KEY_COLUMNS: Columns = [
  { key: 'key', content: 'Access key', width: 40 },
  { key: 'used', content: 'Last used', width: 22 },
  { key: 'on', content: 'On', width: 38 },
];

/** `SHA256:` and the first 12 characters: enough to tell keys apart, the whole in its title. */
function shortFingerprint(fingerprint: string): string {
  const [kind, body = ''] = fingerprint.split(':');
  return body.length > 12 ? `${kind}:${body.slice(0, 12)}…` : fingerprint;
}

function repositoryLink(fullName: string) {
  const [workspace = '', slug = ''] = fullName.split('/');
  return <ExternalLink href={accessKeysUrl(workspace, slug)}>{fullName}</ExternalLink>;
}

function KeysTable({ keys }: { keys: OtherConnectionKey[] }) {
  return (
    <SettingsTable
      label="Its access keys"
      columns={KEY_COLUMNS}
      rows={keys.map((k) => ({
        key: k.fingerprint,
        cells: [
          {
            key: 'key',
            content: (
              <Stack space="space.025">
                <Text>{k.label}</Text>
                <Text color="color.text.subtle" size="small">
                  <code title={k.fingerprint}>{shortFingerprint(k.fingerprint)}</code>
                </Text>
              </Stack>
            ),
          },
          {
            key: 'used',
            content: (
              <Stack space="space.025">
                {k.lastUsed ? (
                  <time dateTime={k.lastUsed} title={formatDateTime(k.lastUsed)}>
                    {relativeTime(k.lastUsed)}
                  </time>
                ) : (
                  <Text>never</Text>
                )}
                {k.live && (
                  <Box>
                    <Lozenge appearance="inprogress">In use</Lozenge>
                  </Box>
                )}
              </Stack>
            ),
          },
          {
            key: 'on',
            content: (
              <Stack space="space.025">
                {k.repositories.map((r) => (
                  <Text key={r.repository}>{repositoryLink(r.repository)}</Text>
                ))}
              </Stack>
            ),
          },
        ],
      }))}
      testId="other-connection-keys"
    />
  );
}

/**
 * A connection of this repository the app does not record, with its keys listed: what is known of it,
 * and Adopt, which moves Valohai to a key of the app's (the CLI's keys stay on Bitbucket).
 */
function OtherConnectionView({
  page,
  found,
  readOnly,
  start,
  onConnectOther,
}: {
  page: RepositoryPage;
  found: OtherConnection & { keys: OtherConnectionKey[] };
  readOnly: boolean;
  start: StartAction;
  onConnectOther: () => void;
}) {
  const [keyType, setKeyType] = useState<KeyType>('rsa');
  const [adopting, setAdopting] = useState(false);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const fromCli = found.keys.some((k) => k.maker === 'cli');
  // The key goes where the other connection's is: the submodule repositories too only when its key is on them.
  const submodules = found.keys.some((k) => k.repositories.length > 1);
  const ref = found.ref ?? page.ready?.defaultRef ?? 'main';

  const adopt = async () => {
    setProblem(null);
    setAdopting(true);
    const failure = await start('connect', () => call('startConnect', { projectId: found.project.id, ref, keyType, submodules, adopt: true }));
    setAdopting(false);
    if (failure) setProblem(failure);
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="other-connection-heading" testId="other-connection">
      <Stack space="space.250">
        <Heading size="medium" as="h2" id="other-connection-heading">
          {fromCli ? 'Connected from the CLI' : 'Connected outside the app'}
        </Heading>
        <Text as="p">
          Valohai project{' '}
          {found.project.url ? <ExternalLink href={found.project.url}>{found.project.name}</ExternalLink> : found.project.name} fetches this
          repository{found.ref ? (
            <>
              {' '}
              at <code>{found.ref}</code>
            </>
          ) : null}{' '}
          with a key {fromCli ? 'made with the CLI' : 'the app did not make'}, which keeps its own records: the app holds no record of this
          connection. Connecting here would replace the key Valohai holds, so Connect refuses it.
        </Text>
        <KeysTable keys={found.keys} />
        <Text as="p">
          Adopt makes a new key of the app&apos;s, puts it on {submodules ? 'these repositories' : 'this repository'}, gives it to Valohai in place of
          the one it holds and checks that Valohai fetches with it. The {fromCli ? "CLI's" : 'other'} keys stay on Bitbucket: remove them
          {fromCli ? " with the CLI's disconnect, or" : ''} on each repository&apos;s access keys page once nothing uses them.
        </Text>
        <RadioFieldset legend="Key type" name="key-type" value={keyType} disabled={readOnly} onChange={(v) => setKeyType(v as KeyType)} options={KEY_TYPE_CHOICES} />
        {problem && <ProblemMessage error={problem} testId="adopt-error" />}
        <Inline space="space.100">
          <Button appearance="primary" onClick={() => void adopt()} isDisabled={readOnly} isLoading={adopting} testId="adopt-button">
            Adopt
          </Button>
          <Button appearance="subtle" onClick={onConnectOther} isDisabled={adopting} testId="connect-other-button">
            Connect another project instead
          </Button>
        </Inline>
      </Stack>
    </Box>
  );
}

/**
 * Valohai's project fetches this repository and the app records no connection of it: said from the
 * page load (no request of the stored token). Its keys are listed only when asked, with the stored token.
 */
function SuspectedNote({
  suspected,
  canList,
  readOnly,
  onFound,
}: {
  suspected: OtherConnection;
  canList: boolean;
  readOnly: boolean;
  onFound: (found: OtherConnection) => void;
}) {
  const [looking, setLooking] = useState(false);
  const [none, setNone] = useState(false);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const look = async () => {
    setProblem(null);
    setLooking(true);
    try {
      const preview = await call('previewConnect', { projectId: suspected.project.id, submodules: true, ...(suspected.ref ? { ref: suspected.ref } : {}) });
      if (preview.otherConnection?.keys?.length) onFound(preview.otherConnection);
      else setNone(true);
    } catch (err) {
      setProblem(errorDetail(err));
    } finally {
      setLooking(false);
    }
  };
  if (none) {
    return (
      <SectionMessage appearance="information" title={`No other connection to Valohai project ${suspected.project.name} was found`} testId="other-connection-none">
        <Text as="p">
          Its settings name this repository, but no access key labelled for it is on the repository: it was not connected with the CLI (a connection
          the app removed leaves Valohai&apos;s settings as they were). Connecting gives Valohai a new key.
        </Text>
      </SectionMessage>
    );
  }
  return (
    <SectionMessage appearance="information" title={`Valohai project ${suspected.project.name} already fetches this repository`} testId="other-connection-suspected">
      <Stack space="space.100">
        <Text as="p">
          The app holds no connection of it: it may have been connected with the CLI, which keeps its own records.{' '}
          {canList
            ? "Look for its access keys to see (this lists each repository's keys with the stored Bitbucket API token)."
            : 'Without a stored Bitbucket API token the app cannot list access keys to see.'}
        </Text>
        {problem && <ProblemMessage error={problem} testId="other-connection-error" />}
        {canList && (
          <Inline>
            <Button onClick={() => void look()} isDisabled={readOnly} isLoading={looking} testId="other-connection-look">
              Look for its keys
            </Button>
          </Inline>
        )}
      </Stack>
    </SectionMessage>
  );
}

/** The connection a connect refused to replace, as its job's result named it. */
function refusedBy(job: JobView | undefined, ready: ReadyDetails): OtherConnection | null {
  const keys = job?.kind === 'connect' && job.status === 'failed' ? job.result?.otherConnection : undefined;
  if (!job?.result || !keys?.length) return null;
  const id = job.result.valohai.projectId;
  const known = ready.otherConnection?.project.id === id ? ready.otherConnection : null;
  const listed = ready.projects.find((p) => p.id === id);
  return {
    project: known?.project ?? { id, name: listed?.name ?? id, url: null },
    ref: job.result.ref || known?.ref || null,
    keys,
  };
}

const listed = (c: OtherConnection | null): c is OtherConnection & { keys: OtherConnectionKey[] } => Boolean(c?.keys?.length);

/**
 * The page of a repository the app has not connected: the connect form, or, when a connection made with
 * the CLI was found (by the preview, or by a connect that refused to replace it), what is known of it
 * and Adopt. What the page load suspects from Valohai alone is a note above the form.
 */
export function ReadyView({
  page,
  ready,
  readOnly,
  start,
  lastJob,
}: {
  page: RepositoryPage;
  ready: ReadyDetails;
  readOnly: boolean;
  start: StartAction;
  lastJob?: JobView;
}) {
  const [found, setFound] = useState<OtherConnection | null>(() => refusedBy(lastJob, ready));
  const [connectOther, setConnectOther] = useState(false);
  if (listed(found) && !connectOther) {
    return <OtherConnectionView page={page} found={found} readOnly={readOnly} start={start} onConnectOther={() => setConnectOther(true)} />;
  }
  const suspected = !connectOther && !found ? ready.otherConnection : undefined;
  const show = (next: OtherConnection) => {
    setFound(next);
    setConnectOther(false);
  };
  return (
    <Stack space="space.200">
      {suspected && <SuspectedNote suspected={suspected} canList={page.setup.bitbucket} readOnly={readOnly} onFound={show} />}
      <ConnectForm page={page} ready={ready} readOnly={readOnly} start={start} onOtherConnection={show} />
    </Stack>
  );
}
