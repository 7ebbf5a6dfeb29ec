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
        {settings.canAdminister ? (
          <KeyNoticeTable notices={settings.keyNotices} showConnection readOnly={false} testId="key-notices" />
        ) : (
          // What the checks found names repositories and keys, which only workspace admins are shown: never "none".
          <Text as="p" testId="key-notices-members">
            What the checks found is shown to workspace admins. Ask one of them, or open a repository&apos;s settings to see its own keys.
          </Text>
        )}
      </Stack>
    </Box>
  );
}
