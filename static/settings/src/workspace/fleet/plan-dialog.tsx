import { useLayoutEffect, useRef, useState, type RefObject } from 'react';
import Button from '@atlaskit/button/new';
import { ErrorMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import { Box, Stack, Text } from '@atlaskit/primitives';
import Textfield from '@atlaskit/textfield';
import type { BatchPlan, ResolverError } from '../../../../../src/forge/contract';
import { ProblemMessage } from '../../components/problem-message';
import { plural } from '../../format';
import { listStyles, verbs } from './batch-words';

export /**
 * The plan, read before anything changes: what is acted on, what is skipped and why, and how long the
 * request budget makes it. A disconnect is confirmed by typing the workspace's slug.
 */
function PlanDialog({
  plan,
  slug,
  starting,
  error,
  onStart,
  onCancel,
  returnFocus,
  anchor,
}: {
  returnFocus: RefObject<HTMLElement>;
  /** The button that asked for the plan: it goes busy while the plan is read, so it no longer has the focus. */
  anchor: RefObject<HTMLElement | null>;
  plan: BatchPlan | null;
  slug: string;
  starting: boolean;
  error: ResolverError | null;
  onStart: (confirm?: string) => void;
  onCancel: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [typedError, setTypedError] = useState<string | null>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [place, setPlace] = useState({ top: 60, room: 0 });
  const open = plan !== null;
  useLayoutEffect(() => {
    if (!open) return;
    setTyped('');
    setTypedError(null);
    // The frame is as tall as the page: open beside the button just used, not at the frame's top,
    // and never reaching past the frame's end, where the buttons could not be scrolled to.
    const trigger = anchor.current ?? document.activeElement;
    const at = trigger && trigger !== document.body ? trigger.getBoundingClientRect().top + window.scrollY : 0;
    const top = Math.max(0, Math.round(Math.min(at - 320, window.innerHeight - 480)));
    setPlace({ top, room: Math.max(320, window.innerHeight - top) });
  }, [open, anchor]);
  const disconnect = plan?.action === 'disconnect';
  const start = () => {
    if (disconnect) {
      // Exactly as shown, as the backend checks it: "ACME" is not acme.
      if (typed.trim() !== slug) {
        setTypedError(`Type ${slug} to confirm.`);
        return;
      }
      onStart(typed.trim());
    } else {
      onStart();
    }
  };
  return (
    <>
      <style>{`[data-testid="batch-plan--positioner"] { inset-block-start: ${place.top}px !important; max-height: ${place.room}px; }`}</style>
      <ModalTransition>
        {plan && (
          <Modal onClose={onCancel} autoFocus={cancelRef} shouldReturnFocus={returnFocus} testId="batch-plan" width="medium">
            <ModalHeader>
              <ModalTitle appearance={disconnect ? 'danger' : undefined}>
                {plan.act.length
                  ? `${verbs[plan.action].verb} ${plural(plan.act.length, 'repository', 'repositories')}?`
                  : `Nothing to ${plan.action}`}
              </ModalTitle>
            </ModalHeader>
            <ModalBody>
              <Stack space="space.200">
                <Text as="p" testId="batch-plan-duration">
                  {plan.duration}
                </Text>
                {plan.keyType && plan.act.length > 0 && (
                  <Text as="p" testId="batch-plan-key-type">
                    {`New keys: ${plan.keyType === 'rsa' ? 'RSA 4096 (the key type Valohai documents)' : 'Ed25519'}.`}
                  </Text>
                )}
                {plan.act.length > 0 && (
                  <Stack space="space.050">
                    <Heading size="xsmall" as="h3">
                      {`To be ${verbs[plan.action].done}`}
                    </Heading>
                    <Box as="ul" xcss={listStyles} testId="batch-plan-act">
                      {plan.act.map((a) => (
                        <li key={a.repository}>
                          {a.repository}
                          {a.project ? `, to Valohai project ${a.project}` : ''}
                          {a.submodulesUnread
                            ? `: the key on ${a.repository} and on each submodule repository its .gitmodules names (read when it runs), about ${plural(a.requests, 'request')} for ${a.repository} itself`
                            : a.repositories && a.repositories.length > 0
                              ? `: the key on ${a.repositories.join(', ')}, about ${plural(a.requests, 'request')}`
                              : `: the key on ${plural(a.targets, 'repository', 'repositories')}, about ${plural(a.requests, 'request')}`}
                        </li>
                      ))}
                    </Box>
                  </Stack>
                )}
                {plan.skip.length > 0 && (
                  <Stack space="space.050">
                    <Heading size="xsmall" as="h3">
                      Skipped
                    </Heading>
                    <Box as="ul" xcss={listStyles} testId="batch-plan-skip">
                      {plan.skip.map((s) => (
                        <li key={s.repository}>
                          {s.repository}: {s.reason}
                        </li>
                      ))}
                    </Box>
                  </Stack>
                )}
                {plan.act.length > 0 && (
                  <Text as="p" color="color.text.subtle" testId="batch-plan-requests">
                    {`About ${plural(plan.requests.total, 'request')} with the stored Bitbucket token in all (${plan.requests.source}); ${plan.budget.leftThisHour} of the ${plan.budget.perHour} an hour automatic work may spend are left this hour.`}
                  </Text>
                )}
                {disconnect && plan.act.length > 0 && (
                  <Stack space="space.050">
                    <Text as="p">
                      Valohai stops fetching these repositories: their access keys are removed from Bitbucket and their deploy keys from
                      Valohai. Type the workspace&apos;s slug, <Text weight="bold">{slug}</Text>, to confirm.
                    </Text>
                    <Label htmlFor="batch-confirm">Workspace slug</Label>
                    <Textfield
                      id="batch-confirm"
                      value={typed}
                      onChange={(e) => {
                        setTyped(e.currentTarget.value);
                        setTypedError(null);
                      }}
                      onKeyDown={(e) => {
                        if (e.key === 'Enter') start();
                      }}
                      isInvalid={Boolean(typedError)}
                      autoComplete="off"
                      testId="batch-confirm"
                    />
                    {typedError && <ErrorMessage testId="batch-confirm-error">{typedError}</ErrorMessage>}
                  </Stack>
                )}
                {error && <ProblemMessage error={error} testId="batch-plan-error" />}
              </Stack>
            </ModalBody>
            <ModalFooter>
              <Button ref={cancelRef} appearance="subtle" onClick={onCancel} testId="batch-plan-cancel">
                Cancel
              </Button>
              {plan.act.length > 0 && (
                <Button appearance={disconnect ? 'danger' : 'primary'} onClick={start} isLoading={starting} testId="batch-plan-start">
                  {`${verbs[plan.action].button} ${plural(plan.act.length, 'repository', 'repositories')}`}
                </Button>
              )}
            </ModalFooter>
          </Modal>
        )}
      </ModalTransition>
    </>
  );
}
