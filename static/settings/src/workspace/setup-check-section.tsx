import { useState } from 'react';
import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import Lozenge from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text } from '@atlaskit/primitives';
import type { ResolverError, SetupCheck, SetupCheckLine } from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { LinkedText } from '../components/linked-text';
import { ProblemMessage } from '../components/problem-message';
import { StatusRegion } from '../components/status-region';
import { sectionStyles } from '../styles';

const LOZENGE: Record<SetupCheckLine['status'], { appearance: 'success' | 'removed' | 'moved' | 'default'; label: string }> = {
  pass: { appearance: 'success', label: 'Pass' },
  fail: { appearance: 'removed', label: 'Fail' },
  unknown: { appearance: 'moved', label: 'Unknown' },
  info: { appearance: 'default', label: 'Info' },
};

function CheckLine({ line }: { line: SetupCheckLine }) {
  const { appearance, label } = LOZENGE[line.status];
  return (
    <Box as="li" testId={`setup-check-line-${line.check}`}>
      <Stack space="space.050">
        <Inline space="space.100" alignBlock="center">
          <Lozenge appearance={appearance}>{label}</Lozenge>
          <Text weight="medium">{line.title}</Text>
        </Inline>
        <Text as="p">
          <LinkedText text={line.found} />
        </Text>
        {line.fix && (
          <Text as="p" color="color.text.subtle">
            Fix: <LinkedText text={line.fix} />
          </Text>
        )}
      </Stack>
    </Box>
  );
}

/**
 * "Check the set-up": every assumption the app makes, tested live with the stored tokens (workspace
 * admins only). It changes nothing and makes at most ten requests.
 */
export function SetupCheckSection() {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<SetupCheck | null>(null);
  const [error, setError] = useState<ResolverError | null>(null);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await call('checkSetup', {}));
    } catch (err) {
      setError(errorDetail(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="setup-check-heading" testId="setup-check-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="setup-check-heading">
          Check the set-up
        </Heading>
        <Text as="p">
          Tests, with the stored tokens, what the app relies on: the Bitbucket token, its scopes and role, the clock, and the Valohai host,
          token and routes (on the first connected repository). It changes nothing and makes at most ten requests.
        </Text>
        <Inline>
          <Button appearance="default" onClick={() => void run()} isLoading={busy} testId="setup-check-run">
            Check the set-up
          </Button>
        </Inline>
      </Stack>
      <StatusRegion testId="setup-check-status">
        {error && <ProblemMessage error={error} testId="setup-check-error" />}
        {result && (
          <Stack space="space.150">
            <Text as="p" testId="setup-check-summary">
              {result.healthy ? 'Everything checked works.' : 'Something needs fixing: see the lines marked Fail.'} {result.requests} requests (at most{' '}
              {result.maxRequests}); nothing was changed.
            </Text>
            <Box as="ul" testId="setup-check-lines">
              <Stack space="space.150">
                {result.lines.map((line) => (
                  <CheckLine key={line.check} line={line} />
                ))}
              </Stack>
            </Box>
          </Stack>
        )}
      </StatusRegion>
    </Box>
  );
}
