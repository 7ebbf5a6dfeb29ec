import { useEffect, useState } from 'react';
import type { JobKind, JobView, ResolverError } from '../../../src/forge/contract';
import { call, errorDetail } from './api';

export const POLL_INTERVAL_MS = 1000;

/** Starts an action and hands its job to the page; errors are shown where the action was taken. */
export type StartAction = (kind: JobKind, start: () => Promise<{ jobId: string }>) => Promise<ResolverError | null>;

export function isFinished(job: JobView): boolean {
  return job.status === 'done' || job.status === 'failed' || job.status === 'unverified';
}

/**
 * Polls `getJob` about once a second until the job ends. A failed poll is retried a few times
 * (a resolver call can hiccup) before the error is shown.
 */
export function useJob(jobId: string | null): { job: JobView | null; error: ResolverError | null } {
  const [job, setJob] = useState<JobView | null>(null);
  const [error, setError] = useState<ResolverError | null>(null);

  useEffect(() => {
    setJob(null);
    setError(null);
    if (!jobId) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const poll = async () => {
      try {
        const next = await call('getJob', { jobId });
        if (!live) return;
        failures = 0;
        setJob(next);
        if (isFinished(next)) return;
      } catch (err) {
        if (!live) return;
        failures += 1;
        if (failures >= 3) {
          setError(errorDetail(err));
          return;
        }
      }
      timer = setTimeout(poll, POLL_INTERVAL_MS);
    };
    void poll();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [jobId]);

  return { job, error };
}
