import type { ReactNode } from 'react';
import SectionMessage from '@atlaskit/section-message';
import { Stack, Text } from '@atlaskit/primitives';
import type { ResolverError, ResolverErrorCode } from '../../../../src/forge/contract';
import { LinkedLines, LinkedText } from './linked-text';

/** A few words for the title; what happened, which can run to sentences, goes in the body. */
const titles: Record<ResolverErrorCode, string> = {
  'invalid-payload': 'The request was refused',
  'not-admin': 'Not allowed',
  'not-set-up': 'Not set up yet',
  'invalid-token': 'Token refused',
  'missing-scopes': 'The token lacks scopes',
  'worse-token': 'The new token does less than the stored one',
  'not-connected': 'Not connected',
  'already-connected': 'Already connected',
  'project-in-use': 'Project in use',
  'job-running': 'Work is under way',
  'not-found': 'Not found',
  'valohai-error': 'Valohai could not do it',
  'host-not-allowed': 'Valohai host not allowed',
  'bitbucket-error': 'Bitbucket could not do it',
  'rate-limited': 'Too many requests',
  internal: 'Something went wrong',
};

/** An error as the user sees it: a short title, then what happened and what to do. */
export function ProblemMessage({ error, children, testId = 'problem' }: { error: ResolverError; children?: ReactNode; testId?: string }) {
  return (
    <div role="alert">
      <SectionMessage appearance="error" title={titles[error.code] ?? titles.internal} testId={testId}>
        <Stack space="space.100">
          {/* A refusal names one repository a line (as a job's outcome does): keep each a paragraph of its own. */}
          <LinkedLines text={error.message} />
          <Text as="p">
            <LinkedText text={error.fix} />
          </Text>
          {children}
        </Stack>
      </SectionMessage>
    </div>
  );
}
