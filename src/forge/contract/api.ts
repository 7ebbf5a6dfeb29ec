/** The whole API as one map: payload and reply value per resolver. */
import type { ResolverName } from './common';
import type {
  BatchPlan,
  BatchView,
  ExportAuditPayload,
  FleetAuditExport,
  FleetAuditView,
  GetAuditPayload,
  GetBatchPayload,
  PlanBatchPayload,
  StartAuditPayload,
  StartBatchPayload,
} from './fleet';
import type { HealthPolicyView, RemovedKey, RemoveUnneededKeyPayload, SaveHealthPolicyPayload } from './health';
import type {
  ConnectPreview,
  EmptyPayload,
  GetJobPayload,
  JobStarted,
  JobView,
  PreviewConnectPayload,
  RepositoryPage,
  StartConnectPayload,
  StartManualConnectPayload,
  StartRotatePayload,
} from './repository';
import type {
  BitbucketCredentialSummary,
  ClearCredentialsPayload,
  SaveBitbucketTokenPayload,
  SaveTrustSettingsPayload,
  SaveValohaiTokenPayload,
  SetupCheck,
  TrustSettingsView,
  ValohaiCredentialSummary,
  WorkspaceSettings,
  WorkspaceSettingsPayload,
} from './workspace';

export interface ResolverApi {
  getWorkspaceSettings: { payload: WorkspaceSettingsPayload; value: WorkspaceSettings };
  saveValohaiToken: { payload: SaveValohaiTokenPayload; value: ValohaiCredentialSummary };
  saveBitbucketToken: { payload: SaveBitbucketTokenPayload; value: BitbucketCredentialSummary };
  clearCredentials: { payload: ClearCredentialsPayload; value: WorkspaceSettings };
  getRepositoryPage: { payload: EmptyPayload; value: RepositoryPage };
  previewConnect: { payload: PreviewConnectPayload; value: ConnectPreview };
  startConnect: { payload: StartConnectPayload; value: JobStarted };
  startManualConnect: { payload: StartManualConnectPayload; value: JobStarted };
  /** Checks the pasted key is in place (Valohai fetch) and finishes the manual connect. */
  verifyManual: { payload: EmptyPayload; value: JobStarted };
  startRotate: { payload: StartRotatePayload; value: JobStarted };
  startDisconnect: { payload: EmptyPayload; value: JobStarted };
  startVerify: { payload: EmptyPayload; value: JobStarted };
  dismissLeftByHand: { payload: EmptyPayload; value: { dismissed: boolean } };
  getJob: { payload: GetJobPayload; value: JobView };
  saveTrustSettings: { payload: SaveTrustSettingsPayload; value: TrustSettingsView };
  saveHealthPolicy: { payload: SaveHealthPolicyPayload; value: HealthPolicyView };
  removeUnneededKey: { payload: RemoveUnneededKeyPayload; value: RemovedKey };
  // Fleet
  startAudit: { payload: StartAuditPayload; value: FleetAuditView };
  getAudit: { payload: GetAuditPayload; value: { audit: FleetAuditView | null } };
  exportAudit: { payload: ExportAuditPayload; value: FleetAuditExport };
  /** What a bulk action would do, read before anything changes. */
  planBatch: { payload: PlanBatchPayload; value: BatchPlan };
  startBatch: { payload: StartBatchPayload; value: BatchView };
  getBatch: { payload: GetBatchPayload; value: { batch: BatchView | null } };
  /** Starts no more repositories; running jobs finish. */
  cancelBatch: { payload: EmptyPayload; value: BatchView };
  /** Tests every assumption live with the stored credentials; changes nothing. */
  checkSetup: { payload: EmptyPayload; value: SetupCheck };
}

export type PayloadOf<K extends ResolverName> = ResolverApi[K]['payload'];
export type ValueOf<K extends ResolverName> = ResolverApi[K]['value'];
