import Heading from '@atlaskit/heading';
import { Box, Stack, Text } from '@atlaskit/primitives';
import type { ResolverError, WorkspaceSettings } from '../../../../../src/forge/contract';
import { sectionStyles } from '../../styles';
import { BulkActionDetail, BulkActions, FleetBatch, useFleetBatch, type FleetBatchState } from './fleet-batch';
import { FleetRepositories } from './fleet-repositories';

interface FleetProps {
  settings: WorkspaceSettings;
  /** Full names chosen for a bulk action. */
  chosen: string[];
  onChoose: (names: string[]) => void;
  /** A bulk action ended: the page reads the repositories' states again. */
  onFinished: () => void;
  /** Reads the repository list again now; resolves to what stopped it, or null. */
  onRefresh: () => Promise<ResolverError | null>;
}

/** The workspace's repositories, and for workspace admins the bulk actions over them (the audit has a tab of its own). */
export function Fleet(props: FleetProps) {
  return props.settings.canAdminister ? (
    <AdminFleet {...props} />
  ) : (
    // The fleet is workspace admins' work: members are told where to look, never shown an empty list as if it were the workspace's.
    <MembersRepositories />
  );
}

/** The table with the bar over its chosen rows, and under it the bulk action under way. */
function AdminFleet({ settings, chosen, onChoose, onFinished, onRefresh }: FleetProps) {
  const batch: FleetBatchState = useFleetBatch(settings, chosen, onFinished);
  return (
    <>
      <FleetRepositories
        settings={settings}
        selected={chosen}
        onSelect={onChoose}
        onRefresh={onRefresh}
        actions={<BulkActions state={batch} />}
        actionDetail={<BulkActionDetail state={batch} />}
      />
      <FleetBatch state={batch} />
    </>
  );
}

/** What a member who is not a workspace admin may know of the list: who sees it, and where each connection is shown. */
function MembersRepositories() {
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="repositories-heading" testId="repositories-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="repositories-heading">
          Repositories
        </Heading>
        <Text as="p" testId="repositories-members">
          The workspace&apos;s repositories and their connections are listed for workspace admins: ask one of them. A repository&apos;s own
          connection is shown in its settings (Repository settings &rsaquo; Valohai) to everyone who may see them.
        </Text>
      </Stack>
    </Box>
  );
}
