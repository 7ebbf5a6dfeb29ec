import type { ReactNode } from 'react';
import SectionMessage from '@atlaskit/section-message';
import { Stack, Text } from '@atlaskit/primitives';
import type { ResolverError } from '../../../../src/forge/contract';

/** An error as the user sees it: what happened (title) and what to do (body). */
export function ProblemMessage({ error, children, testId = 'problem' }: { error: ResolverError; children?: ReactNode; testId?: string }) {
  return (
    <div role="alert">
      <SectionMessage appearance="error" title={error.message} testId={testId}>
        <Stack space="space.100">
          <Text as="p">{error.fix}</Text>
          {children}
        </Stack>
      </SectionMessage>
    </div>
  );
}
