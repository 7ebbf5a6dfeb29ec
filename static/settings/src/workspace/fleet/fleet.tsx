import type { WorkspaceSettings } from '../../../../../src/forge/contract';
import { FleetBatch } from './fleet-batch';
import { FleetRepositories } from './fleet-repositories';

/** The workspace's repositories, and for workspace admins the bulk actions over them (the audit has a tab of its own). */
export function Fleet({
  settings,
  chosen,
  onChoose,
  onFinished,
}: {
  settings: WorkspaceSettings;
  /** Full names chosen for a bulk action. */
  chosen: string[];
  onChoose: (names: string[]) => void;
  /** A bulk action ended: the page reads the repositories' states again. */
  onFinished: () => void;
}) {
  return (
    <>
      {/* The fleet is workspace admins' work: members see the list, not the means to act on it. */}
      <FleetRepositories settings={settings} selected={settings.canAdminister ? chosen : null} onSelect={onChoose} />
      {settings.canAdminister && <FleetBatch settings={settings} selected={chosen} onFinished={onFinished} />}
    </>
  );
}
