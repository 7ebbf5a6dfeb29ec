import { useState } from 'react';
import Button from '@atlaskit/button/new';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import type { LeftByHandView, ResolverError } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { ExternalLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { formatDateTime } from '../format';

const listStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.300' });

/**
 * The access keys a disconnect without an API token left on Bitbucket: the app cannot see or remove
 * them, so the list stays on the page, reload after reload, until an admin says they are gone.
 */
export function LeftByHand({ left, readOnly, onDismissed }: { left: LeftByHandView; readOnly: boolean; onDismissed: () => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const dismiss = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await call('dismissLeftByHand', {});
      onDismissed();
    } catch (err) {
      setProblem(errorDetail(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <SectionMessage appearance="warning" title="Access keys to remove by hand" testId="left-by-hand">
      <Stack space="space.150">
        <Text as="p">
          Valohai project {left.projectName} was disconnected on {formatDateTime(left.at)} without a Bitbucket API token, so the app
          could not remove its access key &ldquo;{left.label}&rdquo; ({left.fingerprint}). Remove it from each repository below, on its
          access keys page:
        </Text>
        <Box as="ul" xcss={listStyles} testId="left-by-hand-list">
          {left.repositories.map((r) => (
            <li key={r.repository}>
              <ExternalLink href={r.accessKeysUrl}>{r.repository}</ExternalLink>
            </li>
          ))}
        </Box>
        {!readOnly && (
          <Inline>
            <Button onClick={() => void dismiss()} isLoading={busy} testId="left-by-hand-done">
              I removed them
            </Button>
          </Inline>
        )}
        {problem && <ProblemMessage error={problem} testId="left-by-hand-error" />}
      </Stack>
    </SectionMessage>
  );
}
