import type { JobKind, ResolverError } from '../../../../src/forge/contract';

export interface ActiveJob {
  jobId: string;
  kind: JobKind;
  /** Started from this page just now (not found running when the page loaded): its views take the focus. */
  started?: boolean;
  /** Found running when this page tried to start one: started in another tab, or by another admin. */
  elsewhere?: boolean;
}

/** Starts an action and hands its job to the page; errors are shown where the action was taken. */
export type StartAction = (kind: JobKind, start: () => Promise<{ jobId: string }>) => Promise<ResolverError | null>;
