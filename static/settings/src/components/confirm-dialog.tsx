import { useRef, type ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import { Text } from '@atlaskit/primitives';

/**
 * The question before an action that removes something (Disconnect, discarding the key, removing a
 * token): a modal dialog, as Bitbucket asks it. Escape, Cancel and a click outside close it; focus
 * starts on Cancel, so a stray Enter removes nothing, and goes back to the button that opened it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  testId: string;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <ModalTransition>
      {open && (
        <Modal onClose={onCancel} autoFocus={cancelRef} testId={testId} width="small">
          <ModalHeader>
            <ModalTitle appearance="danger">{title}</ModalTitle>
          </ModalHeader>
          <ModalBody>
            <Text as="p">{children}</Text>
          </ModalBody>
          <ModalFooter>
            <Button ref={cancelRef} appearance="subtle" onClick={onCancel} testId={`${testId}-cancel`}>
              Cancel
            </Button>
            <Button appearance="danger" onClick={onConfirm} testId={`${testId}-confirm`}>
              {confirmLabel}
            </Button>
          </ModalFooter>
        </Modal>
      )}
    </ModalTransition>
  );
}
