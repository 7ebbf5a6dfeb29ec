import { useId, type ReactNode } from 'react';
import Heading from '@atlaskit/heading';
import { Box, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage, { type Appearance } from '@atlaskit/section-message';
import { accessKeysUrl, type JobStatus, type JobView } from '../../../../src/forge/contract';
import type { Warning } from '../../../../src/connect/types';
import { plural } from '../format';
import { jobTitles } from './job-progress';
import { ExternalLink } from '../components/link';
import { LinkedLines, LinkedText } from '../components/linked-text';
import { CopyField } from './copy-field';

const listStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.300' });

/** `workspace/slug` as Bitbucket Cloud names a repository; anything else gets no access-keys link. */
const FULL_NAME = /^([A-Za-z0-9_-]+)\/([A-Za-z0-9_.-]+)$/;

function bitbucketRepository(name: string | undefined): { workspace: string; slug: string } | null {
  const match = name ? FULL_NAME.exec(name) : null;
  if (!match?.[1] || !match[2] || match[2] === '.' || match[2] === '..') return null;
  return { workspace: match[1], slug: match[2] };
}

function ThingsToCheck({ warnings, id }: { warnings: Warning[]; id: string }) {
  return (
    <Stack space="space.100" testId="outcome-warnings">
      <Heading size="xsmall" as="h3" id={id}>
        Things to check
      </Heading>
      <Box as="ul" xcss={listStyles} aria-labelledby={id}>
        {warnings.map((w, i) => {
          // Only a key left on a repository is fixed on its access keys page; other warnings name their own fix.
          const repo = w.code === 'orphan-key' ? bitbucketRepository(w.repository) : null;
          return (
            <li key={`${w.code}-${i}`} data-testid={`outcome-warning-${w.code}`}>
              <Stack space="space.050">
                <Text as="p">
                  <LinkedText text={w.message} />
                </Text>
                {repo && (
                  <Text as="p">
                    <ExternalLink href={accessKeysUrl(repo.workspace, repo.slug)} testId={`outcome-access-keys-${repo.workspace}/${repo.slug}`}>
                      Open access keys of {repo.workspace}/{repo.slug}
                    </ExternalLink>
                  </Text>
                )}
              </Stack>
            </li>
          );
        })}
      </Box>
    </Stack>
  );
}

function Leftovers({ leftovers, id }: { leftovers: string[]; id: string }) {
  return (
    <Stack space="space.100" testId="outcome-leftovers">
      <Heading size="xsmall" as="h3" id={id}>
        Left in place
      </Heading>
      <Text as="p">Still in place. Starting the same action again cleans these up; otherwise remove them by hand:</Text>
      <Box as="ul" xcss={listStyles} aria-labelledby={id}>
        {leftovers.map((item, i) => (
          <li key={`${i}-${item}`}>{item}</li>
        ))}
      </Box>
    </Stack>
  );
}

const look: Record<Exclude<JobStatus, 'queued' | 'running'>, { appearance: Appearance; ending: string }> = {
  done: { appearance: 'success', ending: 'done' },
  unverified: { appearance: 'warning', ending: 'not verified' },
  failed: { appearance: 'error', ending: 'failed' },
};

/**
 * How a finished job ended: what happened, then everything the admin still has to look at (warnings,
 * with a link to the access keys page of each repository a key was left on) and anything that could not be undone.
 * A done job stays a success even with warnings: the work happened, the warnings are follow-ups.
 */
/** Warnings that ask the admin to do something by hand: a done job with any is not a plain success. */
const HAND_WORK = new Set<Warning['code']>(['orphan-key', 'valohai-key-left']);

/** What a job that ended 'done' did, in the words of what the admin now has. */
function doneSummary(job: JobView, handWork: number): string {
  const result = job.result;
  if (job.kind === 'manual-connect') return 'Add the public key below to each repository listed, then choose Verify. Nothing works until then.';
  if (job.kind === 'disconnect' || job.kind === 'manual-discard') {
    const removed = (result?.accessKeys ?? []).filter((k) => k.status === 'deleted').length;
    const forgot = job.kind === 'manual-discard' ? 'The key was discarded.' : 'The app forgot the connection.';
    if (handWork > 0) return `${forgot} ${removed ? `It removed ${plural(removed, 'access key')}; finish` : 'Finish'} by hand what is listed below.`;
    return `${forgot} ${removed ? `${plural(removed, 'access key')} removed from Bitbucket, and ` : ''}Valohai no longer holds the key.`;
  }
  return result?.verified ? 'Valohai fetched the repository and sees its head commit.' : 'Finished.';
}

/**
 * How a finished job ended: what happened, then everything the admin still has to look at (warnings,
 * with a link to the access keys page of each repository a key was left on) and anything that could not be undone.
 * A done job with only follow-ups stays a success; one that leaves work to do by hand says so, and a key
 * made to be added by hand is a next step, not a success.
 */
export function JobOutcome({ job, children }: { job: JobView; /** The job's steps, folded at the message's foot. */ children?: ReactNode }) {
  const baseId = useId();
  const status = job.status;
  if (status === 'queued' || status === 'running') return null;
  const warnings = job.result?.warnings ?? [];
  const leftovers = job.result?.leftovers ?? [];
  const handWork = warnings.filter((w) => HAND_WORK.has(w.code)).length;
  const { ending } = look[status];
  let { appearance } = look[status];
  const followUps = warnings.length + leftovers.length;
  let title = status === 'done' && followUps > 0 ? `${jobTitles[job.kind]}: done, with ${plural(followUps, 'thing')} to check` : `${jobTitles[job.kind]}: ${ending}`;
  if (status === 'done' && job.kind === 'manual-connect') {
    appearance = 'information';
    title = 'The key is made: now add it by hand';
  } else if (status === 'unverified' && job.kind === 'connect') {
    // The connection exists (its record, its keys) but Valohai's fetch did not work: not a finished connect.
    title = 'Connected, but Valohai cannot fetch yet';
  } else if (status === 'done' && handWork > 0) {
    appearance = 'warning';
    title = `${jobTitles[job.kind]}: done, with ${plural(handWork, 'thing')} to do by hand`;
  }
  // A key made in Valohai is on every repository, but Valohai's settings could not be written: the values, then Verify.
  const enter = job.result?.valohaiSettings?.written === false ? job.result.valohaiSettings : null;
  if (enter) {
    appearance = 'information';
    title = 'The key is on Bitbucket: now enter the repository in Valohai';
  }
  const summary = enter
    ? "The app could not confirm it may set Valohai's repository settings. In Valohai, open the project's Settings › Repository, enter these two values and save; then choose Verify now: Valohai fetches and the connection is verified."
    : status === 'done'
      ? doneSummary(job, handWork)
      : (job.error ?? job.result?.error ?? 'No details were reported.');
  return (
    <SectionMessage appearance={appearance} title={title} testId="job-outcome">
      <Stack space="space.200">
        {/* Workflow errors put the fix on a line of its own: keep it a paragraph of its own. */}
        <Stack space="space.050">
          <LinkedLines text={summary} />
        </Stack>
        {enter && (
          <Stack space="space.100" testId="outcome-valohai-settings">
            <CopyField id={`${baseId}-valohai-url`} label="URL" value={enter.url} testId="outcome-valohai-url" />
            <CopyField id={`${baseId}-valohai-ref`} label="Fetch reference" value={enter.ref} testId="outcome-valohai-ref" />
          </Stack>
        )}
        {warnings.length > 0 && <ThingsToCheck warnings={warnings} id={`${baseId}-warnings`} />}
        {leftovers.length > 0 && <Leftovers leftovers={leftovers} id={`${baseId}-leftovers`} />}
        {children}
      </Stack>
    </SectionMessage>
  );
}
