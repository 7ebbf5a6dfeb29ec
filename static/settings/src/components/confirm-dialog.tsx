import { lazy, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

import { LoadBoundary } from './load-boundary';

// Most page loads ask no question: the dialog's code (the design system's modal, focus lock and
// layering) is fetched the first time one opens.
const ConfirmDialogModal = lazy(() => import('./confirm-dialog-modal'));

/**
 * The question before an action that removes something (Disconnect, discarding the key, removing a
 * token): a modal dialog, as Bitbucket asks it. Escape, Cancel and a click outside close it; focus
 * starts on Cancel, so a stray Enter removes nothing, and goes back to the button that opened it.
 *
 * The page's frame is as tall as its content (Bitbucket sizes it so), so the frame's viewport is the
 * whole page and a dialog fixed to its top could open far above what the user sees. It is placed
 * beside the button that opened it instead, which is on screen: the user just used it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  cancelLabel = 'Cancel',
  onConfirm,
  onCancel,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When "Cancel" would be ambiguous: the question is itself about cancelling. */
  cancelLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
  testId: string;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [place, setPlace] = useState({ top: 60, room: 0 });
  // Once opened, the dialog stays mounted, so that it can animate out when it closes.
  const [opened, setOpened] = useState(false);
  useLayoutEffect(() => {
    if (!open) return;
    setOpened(true);
    const trigger = document.activeElement;
    const at = trigger && trigger !== document.body ? trigger.getBoundingClientRect().top + window.scrollY : 0;
    // Just above the button, with room for the dialog below that line.
    const top = Math.max(0, Math.round(Math.min(at - 240, window.innerHeight - 360)));
    setPlace({ top, room: Math.max(240, window.innerHeight - top) });
  }, [open]);
  return (
    <>
      {/* Outside the transition, which would wait for it to animate out. */}
      <style>{`[data-testid="${testId}--positioner"] { inset-block-start: ${place.top}px !important; max-height: ${place.room}px; }`}</style>
      {(open || opened) && (
        <LoadBoundary fallback={null}>
          <ConfirmDialogModal
            open={open}
            title={title}
            confirmLabel={confirmLabel}
            cancelLabel={cancelLabel}
            onConfirm={onConfirm}
            onCancel={onCancel}
            cancelRef={cancelRef}
            testId={testId}
          >
            {children}
          </ConfirmDialogModal>
        </LoadBoundary>
      )}
    </>
  );
}
