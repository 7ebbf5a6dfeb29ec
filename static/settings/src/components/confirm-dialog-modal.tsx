import type { ReactNode, RefObject } from 'react';
import Button from '@atlaskit/button/new';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import { Text } from '@atlaskit/primitives';

/** The dialog itself: a chunk of its own (confirm-dialog.tsx), fetched the first time a question is asked. */
export default function ConfirmDialogModal({
  open,
  title,
  children,
  confirmLabel,
  cancelLabel,
  onConfirm,
  onCancel,
  cancelRef,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  cancelLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  cancelRef: RefObject<HTMLButtonElement>;
  testId: string;
}) {
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
              {cancelLabel}
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
