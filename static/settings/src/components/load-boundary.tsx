import { Component, Suspense, type ReactNode } from 'react';
import { ProblemMessage } from './problem-message';

interface State {
  failed: boolean;
}

/** A chunk that could not be fetched (the network went away, the app was redeployed meanwhile). */
class LoadFailure extends Component<{ children: ReactNode }, State> {
  override state: State = { failed: false };

  static getDerivedStateFromError(): State {
    return { failed: true };
  }

  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <ProblemMessage
        error={{ code: 'internal', message: 'Part of this page could not be loaded.', fix: 'Reload the page. If it keeps happening, check your connection.' }}
        testId="chunk-error"
      />
    );
  }
}

/**
 * Where code fetched on demand is shown: `fallback` until it has come, and a problem that says to
 * reload, not a blank frame, if it cannot come.
 */
export function LoadBoundary({ fallback, children }: { fallback: ReactNode; children: ReactNode }) {
  return (
    <LoadFailure>
      <Suspense fallback={fallback}>{children}</Suspense>
    </LoadFailure>
  );
}
