import Heading from '@atlaskit/heading';
import { Box, Stack, Text } from '@atlaskit/primitives';
import type { WorkspaceSettings } from '../../../../src/forge/contract';
import { KeyNoticeTable } from '../components/key-notices';
import { sectionStyles } from '../styles';

export function KeyNoticesSection({ settings }: { settings: WorkspaceSettings }) {
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="key-notices-heading" testId="key-notices-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="key-notices-heading">
          Keys to look at
        </Heading>
        <Text as="p">
          Keys the latest checks found unused, no longer needed by their connection, or labelled like this app&apos;s but made by no
          connection. Only a key a connection made and no longer needs can be removed here.
        </Text>
        <KeyNoticeTable notices={settings.keyNotices} showConnection readOnly={!settings.canAdminister} testId="key-notices" />
      </Stack>
    </Box>
  );
}
