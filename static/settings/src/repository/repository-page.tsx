import { lazy, useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import { Inline, Stack, Text } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import Spinner from '@atlaskit/spinner';
import type { JobView, RepositoryPage as PageData } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { JobOutcome } from './job-outcome';
import { JobProgress, jobTitles } from './job-progress';
import { ProductLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { LinkedText } from '../components/linked-text';
import { isFinished, useJob } from '../hooks/use-job';
import { usePageData } from '../hooks/use-page-data';
import { LoadBoundary } from '../components/load-boundary';
import { PageFrame } from '../components/page-frame';
import type { ActiveJob, StartAction } from './start-action';
import { LeftByHand } from './left-by-hand';
import { ConnectionVerdict } from './connection-verdict';

// The page shows one of these at a time, as its data says: each is fetched only when it is shown, so
// a connected repository's page never loads the connect form's project picker, nor the other way round.
const ReadyView = lazy(() => import('./other-connection-view').then((m) => ({ default: m.ReadyView })));
const ConnectedView = lazy(() => import('./connected-view').then((m) => ({ default: m.ConnectedView })));
const ManualView = lazy(() => import('./manual-view').then((m) => ({ default: m.ManualView })));


function RunningView({ active, onFinished }: { active: ActiveJob; onFinished: (job: JobView, started: boolean) => Promise<void> }) {
  const { job, error } = useJob(active.jobId);
  const reported = useRef(false);
  useEffect(() => {
    if (job && isFinished(job) && !reported.current) {
      reported.current = true;
      void onFinished(job, Boolean(active.started));
    }
  }, [job, onFinished, active.started]);
  return (
    <FocusHere label={jobTitles[active.kind]} take={Boolean(active.started)} testId="running-view">
      <Stack space="space.200">
        {active.elsewhere && (
          <SectionMessage appearance="information" title={`${jobTitles[active.kind]} was already under way`} testId="running-started-elsewhere">
            <Text as="p">It was started in another tab or by another admin. Its progress shows here; once it ends, the page shows the repository as it then is.</Text>
          </SectionMessage>
        )}
        <JobProgress job={job} kind={active.kind} />
        {error && <ProblemMessage error={error} testId="job-error" />}
      </Stack>
    </FocusHere>
  );
}

/**
 * Takes the focus when it appears: the button that started a job goes away with the view it was on,
 * and focus must land on what replaced it (the steps, then the outcome), not on the page body.
 */
function FocusHere({ label, take, testId, children }: { label: string; take: boolean; testId: string; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (take) ref.current?.focus();
  }, [take]);
  return (
    <div ref={ref} tabIndex={-1} role="group" aria-label={label} data-testid={testId}>
      {children}
    </div>
  );
}

/** What someone who does not administer the repository is told about it: the state and the project's name. */
function memberSentence(page: PageData): string {
  const project = page.summary?.projectName;
  if (page.summary?.movedAway) return `Its Valohai project${project ? ` ${project}` : ''} was moved to another repository.`;
  if (page.state === 'connected') return project ? `It is connected to the Valohai project ${project}.` : 'It is connected to Valohai.';
  if (page.state === 'manual') return 'A connection to Valohai is waiting for its access key to be added.';
  if (page.state === 'running') return 'Work on its connection to Valohai is under way.';
  return 'It is not connected to Valohai.';
}

function NotSetUpView({ page }: { page: PageData }) {
  return (
    <SectionMessage appearance="information" title="Valohai is not set up for this workspace yet" testId="not-set-up">
      <Stack space="space.100">
        <Text as="p">A workspace admin stores a Valohai token (and, for automatic access keys, a Bitbucket API token) once for the whole workspace.</Text>
        {page.setup.workspaceSettingsUrl ? (
          <Text as="p">
            <ProductLink href={page.setup.workspaceSettingsUrl} testId="workspace-settings-link">
              Open Workspace settings &rsaquo; Valohai
            </ProductLink>
          </Text>
        ) : (
          <Text as="p">Open Workspace settings &rsaquo; Valohai, or ask a workspace admin to.</Text>
        )}
      </Stack>
    </SectionMessage>
  );
}

/** A stored token near its expiry date, or refused: said on every state of the page, since every action needs it. */
function TokenNotices({ setup, saidElsewhere }: { setup: PageData['setup']; saidElsewhere?: string | undefined }) {
  // A refused token that pauses the connection's checks is the pause's reason, said beside the verdict.
  const notices = (setup.tokenNotices ?? []).filter((n) => n.message !== saidElsewhere);
  if (notices.length === 0) return null;
  return (
    <Stack space="space.100" testId="token-notices">
      {notices.map((n, i) => (
        <SectionMessage key={i} appearance="warning" title={n.message} testId="token-notice">
          <Stack space="space.100">
            <Text as="p">
              <LinkedText text={n.fix} />
            </Text>
            {setup.workspaceSettingsUrl && (
              <Text as="p">
                <ProductLink href={setup.workspaceSettingsUrl}>Open Workspace settings &rsaquo; Valohai</ProductLink>
              </Text>
            )}
          </Stack>
        </SectionMessage>
      ))}
    </Stack>
  );
}

export function RepositoryPage() {
  const [active, setActive] = useState<ActiveJob | null>(null);
  const [finished, setFinished] = useState<{ job: JobView; started: boolean } | null>(null);
  // A page read just after a job ends may still name that job as active: do not follow it again.
  const lastFinished = useRef<string | null>(null);

  /** Reads the page; resolves true when it found a job under way and now follows it. */
  const { data: page, error: loadError, reload: load } = usePageData(
    () => call('getRepositoryPage', {}),
    (next, how: { elsewhere?: boolean } | undefined) => {
      if (next.state !== 'running' || !next.activeJob || next.activeJob.jobId === lastFinished.current) return false;
      setFinished(null);
      setActive({ ...next.activeJob, ...(how?.elsewhere ? { elsewhere: true, started: true } : {}) });
      return true;
    },
  );

  const start: StartAction = useCallback(async (kind, begin) => {
    try {
      const { jobId } = await begin();
      setFinished(null);
      setActive({ jobId, kind, started: true });
      return null;
    } catch (err) {
      const detail = errorDetail(err);
      // Another tab or admin got there first: follow that job's progress here instead of only saying so.
      if (detail.code === 'job-running' && (await load({ elsewhere: true }))) return null;
      return detail;
    }
  }, [load]);

  // The finished job's steps stay on screen until the page is read again, so its outcome never
  // appears beside the state from before it (a rotated key next to the old fingerprint).
  const onFinished = useCallback(
    async (job: JobView, started: boolean) => {
      lastFinished.current = job.id;
      await load();
      setActive(null);
      setFinished({ job, started });
    },
    [load],
  );

  const readOnly = page ? !page.canAdminister : true;
  // The header's action area: the connected view puts its buttons there.
  const [actionsSlot, setActionsSlot] = useState<HTMLDivElement | null>(null);
  const connection = page?.state === 'connected' && !active ? page.connection : undefined;
  return (
    <PageFrame
      intro={
        page && (
          <Text as="p" color="color.text.subtle" testId="repository-name">
            Lets Valohai fetch {page.repository.fullName} over SSH with a read-only access key.
          </Text>
        )
      }
      verdict={connection && <ConnectionVerdict connection={connection} />}
      actions={<div ref={setActionsSlot} />}
      error={loadError}
      onRetry={() => void load()}
      loading={!page}
      loadingLabel="Loading repository settings"
    >
      {page && <TokenNotices setup={page.setup} saidElsewhere={connection?.health.paused?.reason} />}
      {page?.leftByHand && !active && !finished && <LeftByHand left={page.leftByHand} readOnly={readOnly} onDismissed={() => void load()} />}
      {page && readOnly && page.state !== 'not-set-up' && (
        <SectionMessage appearance="information" title="Only repository admins can change this connection" testId="read-only">
          <Text as="p">{memberSentence(page)} Ask an admin of this repository to connect, rotate or disconnect.</Text>
        </SectionMessage>
      )}
      {finished && !active && (
        <FocusHere label={`${jobTitles[finished.job.kind]}: finished`} take={finished.started} testId="finished-view">
          {/* One message for the result, the steps folded in it: what was done, and where it stopped. */}
          <JobOutcome job={finished.job}>
            <JobProgress job={finished.job} kind={finished.job.kind} folded />
          </JobOutcome>
        </FocusHere>
      )}
      {active && <RunningView key={active.jobId} active={active} onFinished={onFinished} />}
      {page && !active && (
        <LoadBoundary fallback={<Spinner label="Loading repository settings" size="large" />}>
          {page.state === 'not-set-up' && <NotSetUpView page={page} />}
          {page.state === 'ready' && page.ready?.refusal && (
            <SectionMessage appearance="information" title={page.ready.refusal.message} testId="connect-refused">
              <Text as="p">{page.ready.refusal.fix}</Text>
            </SectionMessage>
          )}
          {page.state === 'ready' && page.ready && !page.ready.refusal && (
            <ReadyView page={page} ready={page.ready} readOnly={readOnly} start={start} lastJob={finished?.job} />
          )}
          {page.state === 'connected' && page.connection && (
            <ConnectedView
              connection={page.connection}
              repository={page.repository.fullName}
              shownWarnings={finished?.job.result?.warnings}
              readOnly={readOnly}
              start={start}
              setup={page.setup}
              actionsSlot={actionsSlot}
            />
          )}
          {page.state === 'manual' && page.manual && <ManualView manual={page.manual} readOnly={readOnly} start={start} />}
          {page.state === 'running' && (
            <SectionMessage appearance="information" title="Work is under way on this repository" testId="running-elsewhere">
              <Inline>
                <Button onClick={() => void load()}>Refresh</Button>
              </Inline>
            </SectionMessage>
          )}
        </LoadBoundary>
      )}
    </PageFrame>
  );
}
