import { useCallback, useEffect, useState } from 'react';
import Button from '@atlaskit/button/new';
import { Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import Spinner from '@atlaskit/spinner';
import type { FleetAuditKey, FleetAuditView, FleetFindingCode, ResolverError } from '../../../../../src/forge/contract';
import { call, errorDetail } from '../../api';
import { KeyAge } from '../../components/key-age';
import { Fingerprint } from '../../components/fingerprint';
import { Pager } from './pager';
import { ProblemMessage } from '../../components/problem-message';
import { ProgressBar } from './progress-bar';
import { SettingsTable, type Columns } from '../../components/settings-table';
import { formatDateTime, plural, relativeTime } from '../../format';
import { sectionStyles } from '../../styles';

/** Progress only costs the backend a read of its own record, no Bitbucket request: a few seconds apart is cheap. */
export const AUDIT_POLL_MS = 3000;
const statusShown = xcss({ marginBlockStart: 'space.200' });
const KEYS_PAGE_SIZE = 25;

const filterStyles = xcss({ maxWidth: '320px' });

export const findingLook: Record<FleetFindingCode, { label: string; appearance: ThemeAppearance; means: string }> = {
  unused: { label: 'Unused', appearance: 'moved', means: 'not used for the unused-key age or longer' },
  weak: { label: 'Weak', appearance: 'removed', means: 'DSA, or RSA shorter than 3072 bits' },
  shared: { label: 'Shared', appearance: 'moved', means: 'one key, made by no connection, on more than one repository' },
  lookalike: { label: 'Labelled like the app\u2019s', appearance: 'removed', means: 'named like this app\u2019s keys, but no connection made it' },
};
const FINDINGS = Object.keys(findingLook) as FleetFindingCode[];

interface FindingOption {
  label: string;
  value: FleetFindingCode | 'all';
}
const FINDING_OPTIONS: FindingOption[] = [{ value: 'all', label: 'All keys' }, ...FINDINGS.map((f) => ({ value: f, label: findingLook[f].label }))];

const running = (audit: FleetAuditView | null | undefined) => audit?.status === 'running' || audit?.status === 'waiting';

function keyKind(key: FleetAuditKey): string {
  return key.bits ? `${key.type}, ${key.bits} bits` : key.type;
}

function Connection({ connection, inUseBy }: { connection: FleetAuditKey['connection']; inUseBy: FleetAuditKey['inUseBy'] }) {
  // Recorded by no connection of the app, yet Valohai may fetch with it: another connection's, not one to remove.
  if (!connection && inUseBy) return <Text>In use by another connection{inUseBy === 'cli' ? ', made with the CLI' : ''}</Text>;
  if (!connection) return <Text color="color.text.subtle">none</Text>;
  return (
    <Text>
      {connection.projectName} of {connection.repository}
      {connection.current ? '' : ' (a retired key)'}
      {connection.keySource === 'valohai' ? ' (key made in Valohai)' : ''}
    </Text>
  );
}

/** Saves text as a file: the Forge frame allows downloads from blobs, never from the backend directly. */
function download(text: string, filename: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The click has handed the blob over by the time this runs.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const KEY_COLUMNS: Columns = [
  { key: 'repository', content: 'Repository', width: 18 },
  { key: 'key', content: 'Key', width: 30 },
  { key: 'age', content: 'Age', width: 12 },
  { key: 'used', content: 'Last used', width: 11 },
  { key: 'connection', content: 'Valohai connection', width: 14 },
  { key: 'findings', content: 'Findings', width: 15 },
];

function KeysTable({ view, testId }: { view: FleetAuditView; testId: string }) {
  const rows = view.keys.map((key) => ({
    key: `${key.repository}#${key.id}`,
    cells: [
      { key: 'repository', content: key.repository },
      {
        key: 'key',
        content: (
          <Stack space="space.025">
            <Text>{key.label || '(no label)'}</Text>
            <Inline space="space.100" alignBlock="center" shouldWrap>
              <Text color="color.text.subtle">{keyKind(key)}</Text>
              <Fingerprint value={key.fingerprint} />
            </Inline>
          </Stack>
        ),
      },
      { key: 'age', content: key.ageDays === null ? 'unknown' : <KeyAge days={key.ageDays} /> },
      {
        key: 'used',
        content: key.lastUsed ? (
          <time dateTime={key.lastUsed} title={formatDateTime(key.lastUsed)}>
            {relativeTime(key.lastUsed)}
          </time>
        ) : (
          'never'
        ),
      },
      { key: 'connection', content: <Connection connection={key.connection} inUseBy={key.inUseBy} /> },
      {
        key: 'findings',
        content: key.findings.length ? (
          <Inline space="space.050" shouldWrap>
            {key.findings.map((f) => (
              <Lozenge key={f} appearance={findingLook[f].appearance}>
                {findingLook[f].label}
              </Lozenge>
            ))}
          </Inline>
        ) : (
          '\u2014'
        ),
      },
    ],
  }));
  return (
    <SettingsTable
      label="Access keys the audit found"
      columns={KEY_COLUMNS}
      rows={rows}
      emptyView={<Text>No access key matches.</Text>}
      testId={testId}
    />
  );
}

/**
 * Every access key on every repository of the workspace, read in the background within the stored
 * token's request budget: its progress while it reads, then what it found, a page at a time, and the
 * whole of it as a file.
 */
export function FleetAudit() {
  const [audit, setAudit] = useState<FleetAuditView | null | undefined>(undefined);
  const [error, setError] = useState<ResolverError | null>(null);
  const [starting, setStarting] = useState(false);
  const [finding, setFinding] = useState<FleetFindingCode | 'all'>('all');
  const [page, setPage] = useState(1);
  const [keys, setKeys] = useState<FleetAuditView | null>(null);
  const [exported, setExported] = useState<string | null>(null);
  const [exporting, setExporting] = useState<'csv' | 'json' | null>(null);

  const readProgress = useCallback(async () => {
    try {
      const { audit: next } = await call('getAudit', { pageSize: 0 });
      setAudit(next);
    } catch (err) {
      setError(errorDetail(err));
    }
  }, []);

  useEffect(() => {
    void readProgress();
  }, [readProgress]);

  const auditId = audit?.id;
  const inProgress = running(audit);
  useEffect(() => {
    if (!inProgress) return;
    const timer = setTimeout(() => void readProgress(), AUDIT_POLL_MS);
    return () => clearTimeout(timer);
  }, [inProgress, audit, readProgress]);

  const finished = audit?.status === 'done' || audit?.status === 'failed';
  useEffect(() => {
    if (!finished || !auditId) return;
    let live = true;
    void (async () => {
      try {
        const { audit: view } = await call('getAudit', { page, pageSize: KEYS_PAGE_SIZE, ...(finding === 'all' ? {} : { finding }) });
        if (live) setKeys(view);
      } catch (err) {
        if (live) setError(errorDetail(err));
      }
    })();
    return () => {
      live = false;
    };
  }, [finished, auditId, page, finding]);

  const start = async () => {
    setStarting(true);
    setError(null);
    setExported(null);
    try {
      const view = await call('startAudit', {});
      setKeys(null);
      setPage(1);
      setAudit(view);
    } catch (err) {
      setError(errorDetail(err));
    } finally {
      setStarting(false);
    }
  };

  const exportAs = async (format: 'csv' | 'json') => {
    setExporting(format);
    setError(null);
    setExported(null);
    try {
      const file = await call('exportAudit', { format });
      download(file.text, file.filename, format === 'csv' ? 'text/csv' : 'application/json');
      setExported(`Downloaded ${file.filename}${file.complete ? '' : ', which holds what the audit had read so far'}.`);
    } catch (err) {
      setError(errorDetail(err));
    } finally {
      setExporting(null);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="audit-heading" testId="audit-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="audit-heading">
          Access-key audit
        </Heading>
        <Text as="p">
          Reads the access keys of every repository of the workspace, made by this app or not, and marks the unused, the weak, the shared
          and those labelled like this app&apos;s that no connection made. It runs in the background within the Bitbucket token&apos;s
          request budget, pausing when the budget is spent; it changes nothing.
        </Text>
        {audit === undefined && !error && <Spinner label="Reading the last audit" />}
        {audit === null && (
          <Text as="p" testId="audit-none">
            No audit has been run in this workspace yet.
          </Text>
        )}
        {audit && (
          <Stack space="space.100">
            <Inline space="space.100" alignBlock="center">
              {inProgress && <Spinner size="small" label="Auditing" />}
              <Text weight="bold">
                {inProgress ? `Started ${relativeTime(audit.startedAt)}` : `Audit of ${formatDateTime(audit.finishedAt ?? audit.startedAt)}`}
              </Text>
            </Inline>
            {/* A polite live region: each new progress sentence is read out without moving the reader. */}
            <div role="status" data-testid="audit-progress">
              <Text as="p">{audit.progress}</Text>
            </div>
            {inProgress && (
              <ProgressBar value={audit.repositoriesRead} max={audit.repositoriesTotal} label="Repositories read" testId="audit-bar" />
            )}
            {audit.status === 'failed' && audit.error && (
              <SectionMessage appearance="error" title="The audit stopped" testId="audit-failed">
                <Text as="p">{audit.error}</Text>
              </SectionMessage>
            )}
          </Stack>
        )}
        <Inline space="space.100" shouldWrap>
          <Button appearance={audit ? 'default' : 'primary'} onClick={() => void start()} isLoading={starting} isDisabled={inProgress} testId="audit-start">
            {audit ? 'Audit every access key again' : 'Audit every access key'}
          </Button>
          {finished && (
            <>
              <Button onClick={() => void exportAs('csv')} isLoading={exporting === 'csv'} testId="audit-export-csv">
                Export CSV
              </Button>
              <Button onClick={() => void exportAs('json')} isLoading={exporting === 'json'} testId="audit-export-json">
                Export JSON
              </Button>
            </>
          )}
        </Inline>
        {finished && audit && (
          <Stack space="space.200">
            <Box as="ul" aria-label="Keys per finding" testId="audit-findings">
              {FINDINGS.map((f) => (
                <li key={f} data-testid={`audit-finding-${f}`}>
                  <Inline space="space.100" alignBlock="center">
                    <Lozenge appearance={findingLook[f].appearance}>{findingLook[f].label}</Lozenge>
                    <Text>
                      {plural(audit.findings[f] ?? 0, 'key')}: {findingLook[f].means}
                      {f === 'unused' ? ` (${audit.unusedDays} days)` : ''}
                    </Text>
                  </Inline>
                </li>
              ))}
            </Box>
            {audit.unreadable.length > 0 && (
              <SectionMessage
                appearance="warning"
                title={`${plural(audit.unreadable.length, 'repository', 'repositories')} could not be read`}
                testId="audit-unreadable"
              >
                <ul>
                  {audit.unreadable.map((u) => (
                    <li key={u.repository}>
                      {u.repository}: {u.error}
                    </li>
                  ))}
                </ul>
              </SectionMessage>
            )}
            <Box xcss={filterStyles}>
              <Stack space="space.050">
                <Label htmlFor="audit-filter">Keys to list</Label>
                <Select<FindingOption>
                  inputId="audit-filter"
                  options={FINDING_OPTIONS}
                  value={FINDING_OPTIONS.find((o) => o.value === finding) ?? null}
                  onChange={(o) => {
                    setFinding(o?.value ?? 'all');
                    setPage(1);
                  }}
                  isSearchable={false}
                  testId="audit-filter"
                />
              </Stack>
            </Box>
            {keys ? (
              <>
                <KeysTable view={keys} testId="audit-keys" />
                <Pager page={keys.page} pageSize={KEYS_PAGE_SIZE} total={keys.matchingKeys} onPage={setPage} noun="keys" testId="audit-pages" />
              </>
            ) : (
              <Spinner label="Reading the keys" />
            )}
          </Stack>
        )}
        {error && <ProblemMessage error={error} testId="audit-error" />}
      </Stack>
      {/* Outside the spaced stack: always there to be announced, it takes room only once it says something. */}
      <Box role="status" testId="audit-status" xcss={exported ? statusShown : undefined}>
        {exported && <Text as="p">{exported}</Text>}
      </Box>
    </Box>
  );
}
