import type { ResolverError, WorkspaceSettings } from '../../../../../src/forge/contract';
import { FleetAudit } from './fleet-audit';
import { FleetBatch } from './fleet-batch';
import { FleetRepositories } from './fleet-repositories';

/** The workspace's repositories, and for workspace admins the bulk actions and the audit over them. */
export function Fleet({
  settings,
  chosen,
  onChoose,
  onFinished,
  onRefresh,
}: {
  settings: WorkspaceSettings;
  /** Full names chosen for a bulk action. */
  chosen: string[];
  onChoose: (names: string[]) => void;
  /** A bulk action ended: the page reads the repositories' states again. */
  onFinished: () => void;
  /** Reads the repository list again now; resolves to what stopped it, or null. */
  onRefresh: () => Promise<ResolverError | null>;
}) {
  return (
    <>
      {/* The fleet is workspace admins' work: members see the list, not the means to act on it. */}
      <FleetRepositories
        settings={settings}
        selected={settings.canAdminister ? chosen : null}
        onSelect={onChoose}
        {...(settings.canAdminister ? { onRefresh } : {})}
      />
      {settings.canAdminister && <FleetBatch settings={settings} selected={chosen} onFinished={onFinished} />}
      {settings.canAdminister && <FleetAudit />}
    </>
  );
}
