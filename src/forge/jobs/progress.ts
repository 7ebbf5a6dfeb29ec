/**
 * Writes a running job's steps to its record as they happen, without one write per event: at most one
 * write is in flight, and events arriving meanwhile are folded into the next one. The page polls once a
 * second, so it sees each step start and end while a burst of parallel steps costs two writes, not twenty.
 */
import type { ProgressEvent, ProgressSink } from '../../connect/index';
import { errorName } from '../errors';
import { saveJob } from './slots';
import type { Logger, RecordStore } from '../platform/ports';
import type { JobRecord } from '../store/records';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class JobProgressWriter {
  private inFlight: Promise<void> | null = null;
  private dirty = false;

  constructor(
    private readonly store: RecordStore,
    private readonly job: JobRecord,
    private readonly log: Logger,
  ) {}

  /** The engine's ProgressSink: a step id keeps its first place and takes its latest status. */
  readonly sink: ProgressSink = (event: ProgressEvent) => {
    const at = this.job.steps.findIndex((s) => s.step === event.step);
    const step = { step: event.step, status: event.status, message: event.message };
    if (at >= 0) this.job.steps[at] = step;
    else this.job.steps.push(step);
    if (event.planned !== undefined) this.job.plannedSteps = event.planned;
    this.dirty = true;
    this.inFlight ??= this.pump();
  };

  private async pump(): Promise<void> {
    // Let the events of one turn (parallel steps starting together) land in the same write.
    await nextTurn();
    while (this.dirty) {
      this.dirty = false;
      try {
        await saveJob(this.store, structuredClone(this.job));
      } catch (err) {
        // Progress is a courtesy: the final write still records the outcome.
        this.log.warn('job progress write failed', { jobId: this.job.id, error: errorName(err) });
      }
    }
    this.inFlight = null;
  }

  /** Waits for pending progress, then writes the final record (so no late progress write can overwrite it). */
  async finish(update: Partial<JobRecord>): Promise<void> {
    while (this.inFlight) await this.inFlight;
    Object.assign(this.job, update);
    await saveJob(this.store, structuredClone(this.job));
  }
}
