import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import Spinner from '@atlaskit/spinner';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import { JOB_TITLES, type JobKind, type JobStatus, type JobView } from '../../../../src/forge/contract';
import type { StepStatus } from '../../../../src/connect/types';

/**
 * A step's state as a small mark before its line, the word beside it only where it is news (a step
 * failed, undone, skipped or under way): a list of twelve "Done" badges says less than twelve ticks.
 */
const stepLook: Record<StepStatus, { label: string; mark: string; markStyle: ReturnType<typeof xcss>; spoken: boolean }> = {
  running: { label: 'Running', mark: '', markStyle: xcss({}), spoken: true },
  done: { label: 'Done', mark: '\u2713', markStyle: xcss({ color: 'color.text.success' }), spoken: false },
  failed: { label: 'Failed', mark: '\u2715', markStyle: xcss({ color: 'color.text.danger' }), spoken: true },
  undone: { label: 'Undone', mark: '\u21ba', markStyle: xcss({ color: 'color.text.warning' }), spoken: true },
  skipped: { label: 'Skipped', mark: '\u2013', markStyle: xcss({ color: 'color.text.subtle' }), spoken: true },
};

const jobLook: Record<JobStatus, { label: string; appearance: ThemeAppearance }> = {
  queued: { label: 'Queued', appearance: 'default' },
  running: { label: 'Running', appearance: 'inprogress' },
  done: { label: 'Done', appearance: 'success' },
  failed: { label: 'Failed', appearance: 'removed' },
  unverified: { label: 'Not verified', appearance: 'moved' },
};

export const jobTitles = JOB_TITLES;

const listStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.0', listStyle: 'none' });
const rowStyles = xcss({ minHeight: '20px', paddingBlock: 'space.025' });
const markStyles = xcss({ width: '16px', flexShrink: 0, display: 'flex', justifyContent: 'center', fontWeight: 'font.weight.bold' });
const summaryStyles = xcss({ cursor: 'pointer' });

/** Off screen, read by screen readers and kept in the row's text: the word a mark stands for. */
const hidden = { position: 'absolute', width: '1px', height: '1px', overflow: 'hidden', clip: 'rect(0 0 0 0)', whiteSpace: 'nowrap' } as const;

/**
 * Where the job stands, in steps: "Step 3 of 9" while it runs (the step begun last; the total as the
 * job knows it, which grows once it has found the repositories), and what became of them once it ends.
 */
export function stepCount(job: JobView | null): string {
  const steps = job?.steps ?? [];
  if (!job || steps.length === 0) return '';
  const of = job.plannedSteps !== undefined ? ` of ${Math.max(job.plannedSteps, steps.length)}` : '';
  if (job.status === 'queued' || job.status === 'running') return `Step ${steps.length}${of}`;
  const failed = steps.findIndex((s) => s.status === 'failed');
  if (failed >= 0) return `Stopped at step ${failed + 1}${of}`;
  // A key made to be added by hand is a next step, not a finished connection: its steps are the app's share only.
  if (job.status === 'done' && job.kind === 'manual-connect') return `The app's ${steps.length === 1 ? 'one step' : `${steps.length} steps`}; adding the key is by hand`;
  if (job.status === 'done') return steps.length === 1 ? '1 step done' : `All ${steps.length} steps done`;
  return `Ended after step ${steps.length}${of}`;
}

function Steps({ job }: { job: JobView | null }) {
  return (
    <Box as="ol" xcss={listStyles} aria-live="polite" aria-relevant="additions text" aria-label="Steps" testId="job-steps">
      {(job?.steps ?? []).map((step) => {
        const look = stepLook[step.status];
        return (
          <Box as="li" key={step.step} xcss={rowStyles} testId={`step-${step.step}`}>
            <Inline space="space.100" alignBlock="center">
              <Box xcss={[markStyles, look.markStyle]} aria-hidden="true">
                {step.status === 'running' ? <Spinner size="xsmall" /> : look.mark}
              </Box>
              {look.spoken ? (
                <Text weight="medium" color="color.text.subtle">
                  {look.label}
                </Text>
              ) : (
                <span style={hidden}>{look.label}</span>
              )}
              <Text>{step.message}</Text>
            </Inline>
          </Box>
        );
      })}
      {job === null && (
        <Box as="li" xcss={rowStyles}>
          <Text color="color.text.subtle">Waiting for the job to start…</Text>
        </Box>
      )}
    </Box>
  );
}

/**
 * The steps of a job as they happen. The list is a polite live region, so a screen reader hears
 * each new or changed step without losing its place. Once the job has ended its outcome is the one
 * message, and the steps fold under it: open to see them, open already when one failed.
 */
export function JobProgress({ job, kind, folded = false }: { job: JobView | null; kind: JobKind; folded?: boolean }) {
  const status = job?.status ?? 'queued';
  const running = status === 'queued' || status === 'running';
  const count = stepCount(job);
  if (folded && !running) {
    const stopped = (job?.steps ?? []).some((s) => s.status === 'failed');
    return (
      <details open={stopped} data-testid="job-progress">
        <Box as="summary" xcss={summaryStyles} testId="job-steps-toggle">
          <Text color="color.text.subtle" testId="job-step-count">
            {count || 'No steps'}
          </Text>
        </Box>
        <Steps job={job} />
      </details>
    );
  }
  return (
    <Stack space="space.150" testId="job-progress">
      <Inline space="space.100" alignBlock="center">
        {running && <Spinner size="small" label="In progress" />}
        <Text weight="bold">{jobTitles[kind]}</Text>
        <Lozenge appearance={jobLook[status].appearance} testId="job-status">
          {jobLook[status].label}
        </Lozenge>
        {count && (
          <Text color="color.text.subtle" testId="job-step-count">
            {count}
          </Text>
        )}
      </Inline>
      <Steps job={job} />
    </Stack>
  );
}
