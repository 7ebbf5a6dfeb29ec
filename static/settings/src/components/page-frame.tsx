import type { ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, xcss } from '@atlaskit/primitives';
import Spinner from '@atlaskit/spinner';
import type { ResolverError } from '../../../../src/forge/contract';
import { pageStyles } from '../styles';
import { ProblemMessage } from './problem-message';

const headerStyles = xcss({ display: 'flex', flexWrap: 'wrap', justifyContent: 'space-between', alignItems: 'flex-start', gap: 'space.200' });
const titleStyles = xcss({ flexGrow: 1, flexShrink: 1, flexBasis: '320px', minWidth: '0' });

/**
 * What both pages show around their content: the title with the page's one verdict beside it, a line
 * under it, the page's actions at the right (where they are seen without scrolling), why the page
 * could not be read (with Try again when trying again can help) and a spinner until it is.
 */
export function PageFrame({
  intro,
  verdict,
  actions,
  error,
  onRetry,
  loading,
  loadingLabel,
  children,
}: {
  intro: ReactNode;
  /** The state of what the page is about, said once: beside the title. */
  verdict?: ReactNode;
  /** The page's own actions, at the top right. */
  actions?: ReactNode;
  error: ResolverError | null;
  onRetry: () => void;
  loading: boolean;
  loadingLabel: string;
  children: ReactNode;
}) {
  return (
    <Box xcss={pageStyles}>
      <Stack space="space.300">
        <Box as="header" xcss={headerStyles} testId="page-header">
          <Box xcss={titleStyles}>
            <Stack space="space.100">
              <Inline space="space.150" alignBlock="center" shouldWrap>
                <Heading size="large" as="h1">
                  Valohai
                </Heading>
                {verdict}
              </Inline>
              {intro}
            </Stack>
          </Box>
          {actions}
        </Box>
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
