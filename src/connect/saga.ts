/**
 * A workflow is a sequence of steps, each with an optional undo. On failure the steps already done are
 * undone in reverse order; what cannot be undone is collected, so the caller can name it precisely.
 */
import type { ProgressEvent, ProgressSink } from './types';

export interface UndoFailure {
  step: string;
  what: string;
  error: unknown;
}

export class Saga {
  private readonly undos: { step: string; what: string; run: () => Promise<void> }[] = [];
  /** Step ids reported so far, for the planned count. */
  private readonly seen = new Set<string>();
  private planned = 0;

  constructor(private readonly progress: ProgressSink) {}

  /**
   * Says how many more steps are to come after those reported so far; every event from here on
   * carries the total (`planned`), never less than the steps actually reported.
   */
  expect(more: number): void {
    this.planned = this.seen.size + Math.max(0, more);
  }

  private report(event: ProgressEvent): void {
    this.seen.add(event.step);
    this.progress(this.planned > 0 ? { ...event, planned: Math.max(this.planned, this.seen.size) } : event);
  }

  /**
   * Runs one visible step, reporting it as running, then done or failed. `done` words the finished
   * step from its value (a project found by id is then named by its name).
   */
  async step<T>(step: string, message: string, run: () => Promise<T>, done?: (value: T) => string): Promise<T> {
    this.report({ step, status: 'running', message });
    try {
      const value = await run();
      this.report({ step, status: 'done', message: done ? done(value) : message });
      return value;
    } catch (err) {
      this.report({ step, status: 'failed', message });
      throw err;
    }
  }

  skipped(step: string, message: string): void {
    this.report({ step, status: 'skipped', message });
  }

  /** Registers how to take back something that was done; `what` names it for a report. */
  onUndo(step: string, what: string, run: () => Promise<void>): void {
    this.undos.push({ step, what, run });
  }

  /** Forgets the undo list: from here on what was done stays done. */
  commit(): void {
    this.undos.length = 0;
  }

  /**
   * Undoes everything registered, newest first. When one undo fails, the older ones are left alone too
   * (an older step may be what keeps a newer, still-standing one working) and are all reported.
   */
  async rollback(): Promise<UndoFailure[]> {
    while (this.undos.length) {
      const undo = this.undos.pop()!;
      try {
        await undo.run();
        this.report({ step: undo.step, status: 'undone', message: `Undone: ${undo.what}` });
      } catch (error) {
        const kept = this.undos.splice(0).reverse();
        return [
          { step: undo.step, what: undo.what, error },
          ...kept.map((k) => ({ step: k.step, what: k.what, error: new Error('kept because an undo before it failed') })),
        ];
      }
    }
    return [];
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; settles all, then throws the first error. */
export async function forEachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw firstError;
}

/** Maps `items` through `fn` with at most `limit` in flight, keeping their order; rejects with the first error. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const indexed = items.map((item, i) => ({ item, i }));
  await forEachBounded(indexed, limit, async ({ item, i }) => {
    out[i] = await fn(item);
  });
  return out;
}

const PROJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The "finding the project" step's words: a project given as owner/name is named; one given by its
 * id (as the settings pages send it) is not, since an id means nothing to whoever reads the steps:
 * once found, the step names it (`foundProject`).
 */
export function findingProject(project: string): string {
  return PROJECT_ID.test(project) ? 'Finding the Valohai project' : `Finding Valohai project ${project}`;
}

export function foundProject(project: { name: string; owner?: string | null }): string {
  return `Found Valohai project ${project.owner ? `${project.owner}/` : ''}${project.name}`;
}
