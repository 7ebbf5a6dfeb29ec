import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import Spinner from '@atlaskit/spinner';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import { JOB_TITLES, type JobKind, type JobStatus, type JobView } from '../../../../src/forge/contract';
import type { StepStatus } from '../../../../src/connect/types';

const stepLook: Record<StepStatus, { label: string; appearance: ThemeAppearance }> = {
  running: { label: 'Running', appearance: 'inprogress' },
  done: { label: 'Done', appearance: 'success' },
  failed: { label: 'Failed', appearance: 'removed' },
  undone: { label: 'Undone', appearance: 'moved' },
  skipped: { label: 'Skipped', appearance: 'default' },
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
const rowStyles = xcss({ minHeight: '24px' });
const badgeStyles = xcss({ minWidth: '96px' });

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
  if (job.status === 'done') return steps.length === 1 ? '1 step done' : `All ${steps.length} steps done`;
  return `Ended after step ${steps.length}${of}`;
}

/**
 * The steps of a job as they happen. The list is a polite live region, so a screen reader hears
 * each new or changed step without losing its place.
 */
export function JobProgress({ job, kind }: { job: JobView | null; kind: JobKind }) {
  const status = job?.status ?? 'queued';
  const running = status === 'queued' || status === 'running';
  const count = stepCount(job);
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
      <Box as="ol" xcss={listStyles} aria-live="polite" aria-relevant="additions text" aria-label="Steps" testId="job-steps">
        {(job?.steps ?? []).map((step) => (
          <Box as="li" key={step.step} xcss={rowStyles} testId={`step-${step.step}`}>
            <Inline space="space.100" alignBlock="center">
              <Box xcss={badgeStyles}>
                <Lozenge appearance={stepLook[step.status].appearance}>{stepLook[step.status].label}</Lozenge>
              </Box>
              <Text>{step.message}</Text>
            </Inline>
          </Box>
        ))}
        {job === null && (
          <Box as="li" xcss={rowStyles}>
            <Text color="color.text.subtle">Waiting for the job to start…</Text>
          </Box>
        )}
      </Box>
    </Stack>
  );
}
