import { useCallback, useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import Button from '@atlaskit/button/new';
import { ErrorMessage, HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import { RadioGroup } from '@atlaskit/radio';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import Spinner from '@atlaskit/spinner';
import Textfield from '@atlaskit/textfield';
import type {
  BatchAction,
  BatchItemStatus,
  BatchPlan,
  BatchView,
  PlanBatchPayload,
  ResolverError,
  WorkspaceSettings,
} from '../../../../../src/forge/contract';
import { KEY_AGE_WARNING_DAYS } from '../../../../../src/forge/contract';
import { call, errorDetail } from '../../api';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { LinkedText } from '../../components/linked-text';
import { Pager } from './pager';
import { ProblemMessage } from '../../components/problem-message';
import { ProgressBar } from './progress-bar';
import { SettingsTable, type Columns } from '../../components/settings-table';
import { plural } from '../../format';
import { sectionStyles } from '../../styles';
import { listStyles, verbs } from './batch-words';
import { PlanDialog } from './plan-dialog';

export const BATCH_POLL_MS = 2000;
const ITEMS_PAGE_SIZE = 25;

const selectStyles = xcss({ minWidth: '220px' });
const daysStyles = xcss({ maxWidth: '120px' });



const itemLook: Record<BatchItemStatus, { label: string; appearance: ThemeAppearance }> = {
  queued: { label: 'Queued', appearance: 'default' },
  running: { label: 'Running', appearance: 'inprogress' },
  done: { label: 'Done', appearance: 'success' },
  failed: { label: 'Failed', appearance: 'removed' },
  skipped: { label: 'Skipped', appearance: 'moved' },
};

const ended = (batch: BatchView | null) => batch?.status === 'done' || batch?.status === 'cancelled';

function daysTyped(text: string): number | null {
  const t = text.trim();
  return /^\d{1,4}$/.test(t) ? Number(t) : null;
}

/** What a bulk action is called in titles: "Bulk rotate". */
const title = (action: BatchAction) => `Bulk ${action}`;

const ITEM_COLUMNS: Columns = [
  { key: 'repository', content: 'Repository', width: 35 },
  { key: 'status', content: 'Status', width: 15 },
  { key: 'detail', content: 'Outcome', width: 50 },
];

function ItemsTable({ view }: { view: BatchView }) {
  const rows = view.items.map((item) => ({
    key: item.repository,
    cells: [
      { key: 'repository', content: item.repository },
      {
        key: 'status',
        content: (
          <Lozenge appearance={itemLook[item.status].appearance} testId={`batch-item-status-${item.repository}`}>
            {itemLook[item.status].label}
          </Lozenge>
        ),
      },
      {
        key: 'detail',
        content: item.error ? (
          <Text>
            <LinkedText text={item.error} />
          </Text>
        ) : item.reason ? (
          <Text>{item.reason}</Text>
        ) : item.requests !== undefined ? (
          <Text color="color.text.subtle">{plural(item.requests, 'request')}</Text>
        ) : (
          '\u2014'
        ),
      },
    ],
  }));
  return (
    <SettingsTable
      label="Repositories of the bulk action"
      columns={ITEM_COLUMNS}
      rows={rows}
      testId="batch-items"
    />
  );
}

/** How a bulk action ended: what failed and why, said where the focus lands. */
function Summary({ batch, summaryRef }: { batch: BatchView; summaryRef: RefObject<HTMLDivElement> }) {
  const c = batch.counts;
  const planned = batch.total - c.skipped;
  const heading =
    batch.status === 'cancelled'
      ? `${title(batch.action)} cancelled: ${c.done} of ${planned} ${verbs[batch.action].done}`
      : c.failed
        ? `${title(batch.action)} done: ${c.failed} of ${planned} failed`
        : `${title(batch.action)} done: ${plural(c.done, 'repository', 'repositories')} ${verbs[batch.action].done}`;
  return (
    <div ref={summaryRef} tabIndex={-1} data-testid="batch-summary" aria-label={heading}>
      <SectionMessage appearance={c.failed ? 'warning' : batch.status === 'cancelled' ? 'information' : 'success'} title={heading}>
        <Stack space="space.100">
          <Text as="p">{batch.progress}</Text>
          {batch.failed.length > 0 && (
            <>
              <Text as="p">These failed; start the same action on them again once the cause is fixed:</Text>
              <Box as="ul" xcss={listStyles} aria-label="Failed repositories" testId="batch-failed">
                {batch.failed.map((f) => (
                  <li key={f.repository}>
                    {f.repository}: <LinkedText text={f.error} />
                  </li>
                ))}
              </Box>
            </>
          )}
        </Stack>
      </SectionMessage>
    </div>
  );
}

/**
 * Rotate, verify, connect or disconnect many repositories at once, one bulk action at a time in the
 * workspace: planned first, run in the background within the request budget, followed here. The
 * state is shared by the bar over the chosen rows, which asks for plans, and the section under the
 * table, which follows the run.
 */
export function useFleetBatch(settings: WorkspaceSettings, selected: string[], onFinished: () => void) {
  // Workspace admins may create projects under any owner the Valohai token can use.
  const owners = settings.valohaiOwners;
  const [connecting, setConnecting] = useState(false);
  const [project, setProject] = useState<'existing' | 'new'>('existing');
  const [owner, setOwner] = useState<string | null>(owners[0] ?? null);
  const [daysText, setDaysText] = useState(String(KEY_AGE_WARNING_DAYS));
  const [daysError, setDaysError] = useState<string | null>(null);
  const [planning, setPlanning] = useState<BatchAction | 'older' | null>(null);
  const [plan, setPlan] = useState<{ plan: BatchPlan; payload: PlanBatchPayload } | null>(null);
  const [starting, setStarting] = useState(false);
  const [dialogError, setDialogError] = useState<ResolverError | null>(null);
  const [formError, setFormError] = useState<{ scope: 'chosen' | 'older'; error: ResolverError } | null>(null);
  const [batch, setBatch] = useState<BatchView | null>(null);
  const [items, setItems] = useState<BatchView | null>(null);
  const [itemsPage, setItemsPage] = useState(1);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [pollError, setPollError] = useState<ResolverError | null>(null);
  const progressRef = useRef<HTMLDivElement>(null);
  const summaryRef = useRef<HTMLDivElement>(null);
  // Set when this page started or watched the batch run: its end then moves the focus to the summary.
  const watching = useRef(false);
  // The closing plan hands the focus back to the button that opened it, or, once the batch has
  // started, to its progress. Read when the dialog goes, so it follows what happened meanwhile.
  const focusAfterPlan = useRef<'trigger' | 'progress'>('trigger');
  const trigger = useRef<HTMLElement | null>(null);
  const returnFocus = useMemo<RefObject<HTMLElement>>(
    () => ({
      get current() {
        return focusAfterPlan.current === 'progress' ? progressRef.current : trigger.current;
      },
    }),
    [],
  );

  const read = useCallback(async (page: number) => {
    try {
      const { batch: progress } = await call('getBatch', { pageSize: 0 });
      setBatch(progress);
      if (progress) {
        const { batch: view } = await call('getBatch', { page, pageSize: ITEMS_PAGE_SIZE });
        setItems(view);
      }
      setPollError(null);
    } catch (err) {
      setPollError(errorDetail(err));
    }
  }, []);

  const active = batch !== null && !ended(batch);
  useEffect(() => {
    if (!active) return;
    watching.current = true;
    const timer = setTimeout(() => void read(itemsPage), BATCH_POLL_MS);
    return () => clearTimeout(timer);
  }, [active, batch, itemsPage, read]);

  // On opening, and on a page turn of a finished batch; polling covers a running one.
  const activeNow = useRef(active);
  activeNow.current = active;
  useEffect(() => {
    if (!activeNow.current) void read(itemsPage);
  }, [itemsPage, read]);

  const finished = ended(batch);
  useEffect(() => {
    if (!finished || !watching.current) return;
    watching.current = false;
    summaryRef.current?.focus();
    onFinished();
  }, [finished, onFinished]);

  const payloadFor = (scope: BatchAction | 'older'): PlanBatchPayload | null => {
    setDaysError(null);
    if (scope === 'older') {
      const days = daysTyped(daysText);
      if (days === null) {
        setDaysError('Type a whole number of days.');
        return null;
      }
      return { action: 'rotate', olderThanDays: days };
    }
    // The bar that asks for these plans is shown only over chosen rows.
    if (selected.length === 0) return null;
    const payload: PlanBatchPayload = { action: scope, repositories: selected };
    if (scope === 'connect') payload.connect = project === 'new' && owner ? { project: 'new', owner } : { project: 'existing' };
    return payload;
  };

  const planFor = async (scope: BatchAction | 'older') => {
    const payload = payloadFor(scope);
    if (!payload) return;
    if (scope !== 'connect') setConnecting(false);
    setPlanning(scope);
    focusAfterPlan.current = 'trigger';
    trigger.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setFormError(null);
    setDialogError(null);
    try {
      setPlan({ plan: await call('planBatch', payload), payload });
    } catch (err) {
      setFormError({ scope: scope === 'older' ? 'older' : 'chosen', error: errorDetail(err) });
    } finally {
      setPlanning(null);
    }
  };

  const start = async (confirm?: string) => {
    if (!plan) return;
    setStarting(true);
    setDialogError(null);
    try {
      const started = await call('startBatch', { ...plan.payload, ...(confirm !== undefined ? { confirm } : {}) });
      focusAfterPlan.current = 'progress';
      setPlan(null);
      setConnecting(false);
      setItems(null);
      setItemsPage(1);
      setBatch(started);
      watching.current = true;
      // After the dialog has handed the focus back, so it is not taken away again.
      setTimeout(() => progressRef.current?.focus(), 0);
      void read(1);
    } catch (err) {
      const error = errorDetail(err);
      // Refused as a whole (another batch under way, nothing to do): said where the request came from.
      setFormError({ scope: plan.payload.olderThanDays !== undefined ? 'older' : 'chosen', error });
      setPlan(null);
    } finally {
      setStarting(false);
    }
  };

  const cancel = async () => {
    setConfirmCancel(false);
    setCancelling(true);
    try {
      setBatch(await call('cancelBatch', {}));
    } catch (err) {
      setPollError(errorDetail(err));
    } finally {
      setCancelling(false);
    }
  };

  return {
    settings,
    selected,
    owners,
    connecting,
    setConnecting,
    project,
    setProject,
    owner,
    setOwner,
    daysText,
    setDaysText,
    daysError,
    planning,
    plan,
    setPlan,
    starting,
    dialogError,
    formError,
    batch,
    items,
    itemsPage,
    setItemsPage,
    confirmCancel,
    setConfirmCancel,
    cancelling,
    pollError,
    progressRef,
    summaryRef,
    returnFocus,
    trigger,
    active,
    finished,
    busy: planning !== null || starting,
    planFor,
    start,
    cancel,
  };
}

export type FleetBatchState = ReturnType<typeof useFleetBatch>;

/** The order the bar offers them in: the routine first, the one that takes access away last. */
const BAR_ACTIONS: BatchAction[] = ['rotate', 'verify', 'connect', 'disconnect'];

/**
 * The bulk actions in the bar over the chosen rows. Connect first asks which Valohai projects (see
 * BulkConnectChoice); the others go straight to their plan, read in a dialog before anything changes.
 */
export function BulkActions({ state }: { state: FleetBatchState }) {
  return (
    <Inline space="space.100" alignBlock="center" shouldWrap>
      {BAR_ACTIONS.map((action) =>
        action === 'connect' ? (
          <Button
            key={action}
            onClick={() => state.setConnecting(!state.connecting)}
            isSelected={state.connecting}
            aria-expanded={state.connecting}
            aria-controls={state.connecting ? 'batch-connect-choice' : undefined}
            isDisabled={state.busy || state.active}
            testId="batch-connect"
          >
            {verbs.connect.button}
          </Button>
        ) : (
          <Button
            key={action}
            onClick={() => void state.planFor(action)}
            isLoading={state.planning === action}
            isDisabled={state.busy || state.active}
            testId={`batch-plan-${action}`}
          >
            {verbs[action].button}
          </Button>
        ),
      )}
    </Inline>
  );
}

/** Under the bar's buttons: which Valohai projects a bulk connect makes or uses, and what stopped a plan. */
export function BulkActionDetail({ state }: { state: FleetBatchState }) {
  const ownerOptions = state.owners.map((o) => ({ value: o, label: o }));
  const error = state.formError?.scope === 'chosen' ? state.formError.error : null;
  if (!state.connecting && !error) return null;
  return (
    <Stack space="space.150">
      {state.connecting && (
        <form
          id="batch-connect-choice"
          aria-label="Connect the chosen repositories"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void state.planFor('connect');
          }}
        >
          <Stack space="space.150">
            {state.owners.length > 0 ? (
              <>
                <RadioGroup
                  name="batch-project"
                  value={state.project}
                  onChange={(e) => state.setProject(e.currentTarget.value as 'existing' | 'new')}
                  options={[
                    { name: 'batch-project', value: 'existing', label: 'Each to the existing Valohai project named like it', testId: 'batch-project-existing' },
                    { name: 'batch-project', value: 'new', label: 'Each to a new Valohai project named like it', testId: 'batch-project-new' },
                  ]}
                />
                {state.project === 'new' && (
                  <Box xcss={selectStyles}>
                    <Stack space="space.050">
                      <Label htmlFor="batch-owner">Owner of the new projects</Label>
                      <Select
                        inputId="batch-owner"
                        options={ownerOptions}
                        value={ownerOptions.find((o) => o.value === state.owner) ?? null}
                        onChange={(o) => state.setOwner(o?.value ?? null)}
                        testId="batch-owner"
                      />
                    </Stack>
                  </Box>
                )}
              </>
            ) : (
              <Text as="p" testId="batch-connect-existing">
                Each repository is connected to the existing Valohai project named like it. To create new projects, connect from each
                repository&apos;s own page.
              </Text>
            )}
            <Inline>
              <Button type="submit" appearance="primary" isLoading={state.planning === 'connect'} isDisabled={state.busy || state.active} testId="batch-plan-connect">
                {`Plan connecting ${plural(state.selected.length, 'repository', 'repositories')}`}
              </Button>
            </Inline>
          </Stack>
        </form>
      )}
      {error && <ProblemMessage error={error} testId="batch-error" />}
    </Stack>
  );
}

/**
 * Under the table: rotating every key past an age, chosen or not, and the bulk action under way or
 * last run, with its plan and the question before stopping it.
 */
export function FleetBatch({ state }: { state: FleetBatchState }) {
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="batch-heading" testId="batch-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="batch-heading">
          Bulk actions
        </Heading>
        <Text as="p">
          Choose repositories in the table above to rotate, verify, connect or disconnect them together, or rotate every key past an age
          here. You see the plan before anything changes; the work runs in the background, a few repositories at a time, and one bulk
          action runs at a time in the workspace.
        </Text>
        <form
          aria-label="Rotate every key past an age"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void state.planFor('older');
          }}
        >
          <Inline space="space.200" alignBlock="end" shouldWrap>
            <Box xcss={daysStyles}>
              <Stack space="space.050">
                <Label htmlFor="batch-older-days">Key older than (days)</Label>
                <Textfield
                  id="batch-older-days"
                  inputMode="numeric"
                  value={state.daysText}
                  onChange={(e) => state.setDaysText(e.currentTarget.value)}
                  isInvalid={Boolean(state.daysError)}
                  autoComplete="off"
                  testId="batch-older-days"
                />
              </Stack>
            </Box>
            <Button type="submit" isLoading={state.planning === 'older'} isDisabled={state.busy || state.active} testId="batch-plan-older">
              Plan rotating every older key
            </Button>
          </Inline>
          {state.daysError ? (
            <ErrorMessage testId="batch-older-days-error">{state.daysError}</ErrorMessage>
          ) : (
            <HelperMessage>Every connection whose key is at least this old, chosen or not.</HelperMessage>
          )}
        </form>
        {state.formError?.scope === 'older' && <ProblemMessage error={state.formError.error} testId="batch-error" />}

        {state.batch && !state.finished && (
          <div ref={state.progressRef} tabIndex={-1} data-testid="batch-progress" aria-labelledby="batch-progress-heading">
            <Stack space="space.100">
              <Inline space="space.100" alignBlock="center">
                <Spinner size="small" label="In progress" />
                <Heading size="small" as="h3" id="batch-progress-heading">
                  {`${title(state.batch.action)} under way`}
                </Heading>
              </Inline>
              <div role="status" data-testid="batch-progress-text">
                <Text as="p">{state.batch.progress}</Text>
              </div>
              <ProgressBar
                value={state.batch.counts.done + state.batch.counts.failed}
                max={state.batch.total - state.batch.counts.skipped}
                label={`${title(state.batch.action)}: repositories finished`}
                testId="batch-bar"
              />
              <Inline>
                <Button
                  appearance="subtle"
                  onClick={() => state.setConfirmCancel(true)}
                  isDisabled={state.batch.status === 'cancelling'}
                  isLoading={state.cancelling}
                  testId="batch-cancel"
                >
                  {state.batch.status === 'cancelling' ? 'Cancelling' : 'Cancel the bulk action'}
                </Button>
              </Inline>
            </Stack>
          </div>
        )}
        {state.batch && state.finished && <Summary batch={state.batch} summaryRef={state.summaryRef} />}
        {state.batch && state.items && state.items.id === state.batch.id && (
          <>
            <ItemsTable view={state.items} />
            <Pager page={state.itemsPage} pageSize={ITEMS_PAGE_SIZE} total={state.items.matchingItems} onPage={state.setItemsPage} noun="repositories" testId="batch-pages" />
          </>
        )}
        {state.pollError && <ProblemMessage error={state.pollError} testId="batch-poll-error" />}
      </Stack>
      <PlanDialog
        plan={state.plan?.plan ?? null}
        slug={state.settings.workspace.slug}
        starting={state.starting}
        error={state.dialogError}
        onStart={(confirm) => void state.start(confirm)}
        onCancel={() => state.setPlan(null)}
        returnFocus={state.returnFocus}
        anchor={state.trigger}
      />
      <ConfirmDialog
        open={state.confirmCancel}
        title={`Stop the ${title(state.batch?.action ?? 'rotate').toLowerCase()}?`}
        confirmLabel="Stop starting repositories"
        cancelLabel="Keep it running"
        onCancel={() => state.setConfirmCancel(false)}
        onConfirm={() => void state.cancel()}
        testId="batch-cancel-confirm"
      >
        No more repositories start. Those running now finish, and what is done stays done.
      </ConfirmDialog>
    </Box>
  );
}
