import { useRef, useState } from 'react';
import Button from '@atlaskit/button/new';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import { accessKeysUrl, type KeyNotice, type ResolverError } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { formatDateTime, keyAge, relativeTime } from '../format';
import { ConfirmDialog } from './confirm-dialog';
import { ExternalLink } from './link';
import { ProblemMessage } from './problem-message';
import { SettingsTable } from './settings-table';
import { StatusRegion } from './status-region';
import { Fingerprint } from './fingerprint';

const statusShown = xcss({ marginBlockStart: 'space.200' });

const kindLook: Record<KeyNotice['kind'], { label: string; appearance: ThemeAppearance }> = {
  unused: { label: 'Unused', appearance: 'moved' },
  unneeded: { label: 'No longer needed', appearance: 'moved' },
  stray: { label: 'Not made by a connection', appearance: 'removed' },
};

function repositoryLink(fullName: string): string | null {
  const [workspace, slug] = fullName.split('/');
  return workspace && slug ? accessKeysUrl(workspace, slug) : null;
}

/** Why a notice cannot be removed from here, and where it is dealt with instead. */
function NotRemovable({ notice }: { notice: KeyNotice }) {
  const link = repositoryLink(notice.repository);
  if (notice.inUseBy) {
    return <Text>In use by another connection{notice.inUseBy === 'cli' ? ' made with the CLI' : ''}: it is that connection&apos;s to remove.</Text>;
  }
  if (notice.kind === 'stray') {
    return (
      <Text>
        Review it on the repository&apos;s {link ? <ExternalLink href={link}>access keys page</ExternalLink> : 'access keys page'}: the app never
        removes a key it did not make.
      </Text>
    );
  }
  if (notice.kind === 'unused') return <Text>Still the connection&apos;s key: rotate or disconnect to remove it.</Text>;
  return <Text>Valohai still fetches with it: rotate or disconnect instead.</Text>;
}

function describe(notice: KeyNotice): string {
  return `the access key \u201c${notice.label}\u201d (${notice.fingerprint}) from ${notice.repository}`;
}

/**
 * Keys the checks want a person to know about, with one-click removal of a key a connection recorded
 * and no longer needs. A stray key is only reported: the app did not make it, so it never removes it.
 */
export function KeyNoticeTable({
  notices,
  showConnection,
  readOnly,
  testId,
}: {
  notices: KeyNotice[];
  /** The workspace page lists every connection's keys; a repository page only its own. */
  showConnection: boolean;
  readOnly: boolean;
  testId: string;
}) {
  const [removed, setRemoved] = useState<string[]>([]);
  const [confirming, setConfirming] = useState<KeyNotice | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<ResolverError | null>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  const rowKey = (n: KeyNotice) => `${n.repository}#${n.keyId}`;
  const shown = notices.filter((n) => !removed.includes(rowKey(n)));

  const remove = async (notice: KeyNotice) => {
    setBusy(rowKey(notice));
    setError(null);
    setDone(null);
    try {
      await call('removeUnneededKey', { repository: notice.repository, keyId: notice.keyId });
      setRemoved((list) => [...list, rowKey(notice)]);
      setDone(`Removed ${describe(notice)}.`);
      // The button that was focused went with its row: the message saying so takes the focus.
      requestAnimationFrame(() => statusRef.current?.focus());
    } catch (err) {
      setError(errorDetail(err));
    } finally {
      setBusy(null);
    }
  };

  // Notices about repositories the viewer may not see share one name and no key id: the row's place tells them apart.
  const rows = shown.map((n, i) => ({
    key: `${rowKey(n)}:${i}`,
    cells: [
      {
        key: 'repo',
        content: repositoryLink(n.repository) ? <ExternalLink href={repositoryLink(n.repository) as string}>{n.repository}</ExternalLink> : n.repository,
      },
      {
        key: 'key',
        content: (
          <Stack space="space.050">
            <Text>{n.label}</Text>
            <Fingerprint value={n.fingerprint} />
          </Stack>
        ),
      },
      { key: 'age', content: n.ageDays === null ? 'unknown' : keyAge(n.ageDays) },
      {
        key: 'used',
        content: n.lastUsed ? <time dateTime={n.lastUsed} title={formatDateTime(n.lastUsed)}>{relativeTime(n.lastUsed)}</time> : 'never',
      },
      ...(showConnection ? [{ key: 'connection', content: n.connection ?? 'none' }] : []),
      {
        key: 'action',
        // The kind and what to do with it in one cell: the advice gets the room a column of its own took.
        content: (
          <Stack space="space.075" alignInline="start">
            <Lozenge appearance={n.inUseBy ? 'inprogress' : kindLook[n.kind].appearance}>{n.inUseBy ? 'Another connection\u2019s' : kindLook[n.kind].label}</Lozenge>
            {n.removable ? (
          <Button
            appearance="default"
            onClick={() => setConfirming(n)}
            isDisabled={readOnly || busy !== null}
            isLoading={busy === rowKey(n)}
            aria-label={`Remove ${describe(n)}`}
            testId={`${testId}-remove-${n.repository}-${n.keyId}`}
          >
            Remove
          </Button>
            ) : (
              <NotRemovable notice={n} />
            )}
          </Stack>
        ),
      },
    ],
  }));

  return (
    <Box testId={testId}>
      {shown.length > 0 && (
        <SettingsTable
          label="Access keys the checks found"
          columns={[
            { key: 'repo', content: 'Repository', width: showConnection ? 14 : 17 },
            { key: 'key', content: 'Key', width: showConnection ? 27 : 32 },
            { key: 'age', content: 'Age', width: 8 },
            { key: 'used', content: 'Last used', width: 10 },
            ...(showConnection ? [{ key: 'connection', content: 'Connection', width: 12 }] : []),
            { key: 'action', content: 'Kind and what to do', width: showConnection ? 29 : 33 },
          ]}
          rows={rows}
          testId={`${testId}-table`}
        />
      )}
      {shown.length === 0 && (
        <Text as="p" testId={`${testId}-empty`}>
          No key needs looking at.
        </Text>
      )}
      {/* Always there, so that what it says is announced; room above it only once it says something. */}
      <Box ref={statusRef} tabIndex={-1} xcss={done || error ? statusShown : undefined}>
        <StatusRegion testId={`${testId}-status`}>
          {done && (
            <SectionMessage appearance="success" title={done} testId={`${testId}-removed`}>
              <Text as="p">Bitbucket no longer lists it; nothing else changed.</Text>
            </SectionMessage>
          )}
          {error && <ProblemMessage error={error} testId={`${testId}-error`} />}
        </StatusRegion>
      </Box>
      <ConfirmDialog
        open={confirming !== null}
        title="Remove this access key?"
        confirmLabel="Remove key"
        onCancel={() => setConfirming(null)}
        onConfirm={() => {
          const notice = confirming;
          setConfirming(null);
          if (notice) void remove(notice);
        }}
        testId={`${testId}-confirm`}
      >
        {confirming
          ? `This removes ${describe(confirming)}. ${
              confirming.connection ? `The connection of ${confirming.connection} recorded it and no longer needs it` : 'No connection needs it'
            }; Valohai does not fetch with it.`
          : ''}
      </ConfirmDialog>
    </Box>
  );
}
