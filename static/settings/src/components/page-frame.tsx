import type { ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack } from '@atlaskit/primitives';
import Spinner from '@atlaskit/spinner';
import type { ResolverError } from '../../../../src/forge/contract';
import { pageStyles } from '../styles';
import { ProblemMessage } from './problem-message';

/**
 * What both pages show around their content: the title, a line under it, why the page could not be
 * read (with Try again when trying again can help) and a spinner until it is.
 */
export function PageFrame({
  intro,
  error,
  onRetry,
  loading,
  loadingLabel,
  children,
}: {
  intro: ReactNode;
  error: ResolverError | null;
  onRetry: () => void;
  loading: boolean;
  loadingLabel: string;
  children: ReactNode;
}) {
  return (
    <Box xcss={pageStyles}>
      <Stack space="space.300">
        <Stack space="space.100">
          <Heading size="large" as="h1">
            Valohai
          </Heading>
          {intro}
        </Stack>
        {error && (
          <ProblemMessage error={error} testId="load-error">
            {error.temporary && (
              <Inline>
                <Button onClick={onRetry}>Try again</Button>
              </Inline>
            )}
          </ProblemMessage>
        )}
        {loading && !error && <Spinner label={loadingLabel} size="large" />}
        {children}
      </Stack>
    </Box>
  );
}
