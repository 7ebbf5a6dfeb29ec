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


interface ActionOption {
  label: string;
  value: BatchAction;
}
const ACTIONS: ActionOption[] = [
  { value: 'rotate', label: 'Rotate the access key' },
  { value: 'verify', label: 'Verify the connection' },
  { value: 'connect', label: 'Connect to Valohai' },
  { value: 'disconnect', label: 'Disconnect from Valohai' },
];

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
 * workspace: planned first, run in the background within the request budget, followed here.
 */
export function FleetBatch({ settings, selected, onFinished }: { settings: WorkspaceSettings; selected: string[]; onFinished: () => void }) {
  // Workspace admins may create projects under any owner the Valohai token can use.
  const owners = settings.valohaiOwners;
  const [action, setAction] = useState<BatchAction>('rotate');
  const [project, setProject] = useState<'existing' | 'new'>('existing');
  const [owner, setOwner] = useState<string | null>(owners[0] ?? null);
  const [daysText, setDaysText] = useState(String(KEY_AGE_WARNING_DAYS));
  const [daysError, setDaysError] = useState<string | null>(null);
  const [chooseError, setChooseError] = useState<string | null>(null);
  const [planning, setPlanning] = useState<'selected' | 'older' | null>(null);
  const [plan, setPlan] = useState<{ plan: BatchPlan; payload: PlanBatchPayload } | null>(null);
  const [starting, setStarting] = useState(false);
  const [dialogError, setDialogError] = useState<ResolverError | null>(null);
  const [formError, setFormError] = useState<ResolverError | null>(null);
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

  const payloadFor = (scope: 'selected' | 'older'): PlanBatchPayload | null => {
    setChooseError(null);
    setDaysError(null);
    if (scope === 'older') {
      const days = daysTyped(daysText);
      if (days === null) {
        setDaysError('Type a whole number of days.');
        return null;
      }
      return { action: 'rotate', olderThanDays: days };
    }
    if (selected.length === 0) {
      setChooseError('Choose repositories in the table above first.');
      return null;
    }
    const payload: PlanBatchPayload = { action, repositories: selected };
    if (action === 'connect') payload.connect = project === 'new' && owner ? { project: 'new', owner } : { project: 'existing' };
    return payload;
  };

  const planFor = async (scope: 'selected' | 'older') => {
    const payload = payloadFor(scope);
    if (!payload) return;
    setPlanning(scope);
    focusAfterPlan.current = 'trigger';
    trigger.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setFormError(null);
    setDialogError(null);
    try {
      setPlan({ plan: await call('planBatch', payload), payload });
    } catch (err) {
      setFormError(errorDetail(err));
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
      setItems(null);
      setItemsPage(1);
      setBatch(started);
      watching.current = true;
      // After the dialog has handed the focus back, so it is not taken away again.
      setTimeout(() => progressRef.current?.focus(), 0);
      void read(1);
    } catch (err) {
      const error = errorDetail(err);
      // Refused as a whole (another batch under way, nothing to do): said on the form the request came from.
      setPlan(null);
      setFormError(error);
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

  const busy = planning !== null || starting;
  const ownerOptions = owners.map((o) => ({ value: o, label: o }));
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="batch-heading" testId="batch-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="batch-heading">
          Bulk actions
        </Heading>
        <Text as="p">
          Act on the repositories chosen in the table above, or rotate every key past an age. You see the plan before anything changes;
          the work runs in the background, a few repositories at a time, and one bulk action runs at a time in the workspace.
        </Text>
        <form
          aria-label="Act on the chosen repositories"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void planFor('selected');
          }}
        >
          <Stack space="space.150">
            <Inline space="space.200" alignBlock="end" shouldWrap>
              <Box xcss={selectStyles}>
                <Stack space="space.050">
                  <Label htmlFor="batch-action">Action</Label>
                  <Select<ActionOption>
                    inputId="batch-action"
                    options={ACTIONS}
                    value={ACTIONS.find((a) => a.value === action) ?? null}
                    onChange={(o) => setAction(o?.value ?? 'rotate')}
                    isSearchable={false}
                    testId="batch-action"
                  />
                </Stack>
              </Box>
              <Button type="submit" appearance="primary" isLoading={planning === 'selected'} isDisabled={busy || active} testId="batch-plan-selected">
                {`Plan for ${plural(selected.length, 'chosen repository', 'chosen repositories')}`}
              </Button>
            </Inline>
            {chooseError && <ErrorMessage testId="batch-choose-error">{chooseError}</ErrorMessage>}
            {action === 'connect' &&
              (owners.length > 0 ? (
                <Stack space="space.100">
                  <RadioGroup
                    name="batch-project"
                    value={project}
                    onChange={(e) => setProject(e.currentTarget.value as 'existing' | 'new')}
                    options={[
                      { name: 'batch-project', value: 'existing', label: 'Each to the existing Valohai project named like it', testId: 'batch-project-existing' },
                      { name: 'batch-project', value: 'new', label: 'Each to a new Valohai project named like it', testId: 'batch-project-new' },
                    ]}
                  />
                  {project === 'new' && (
                    <Box xcss={selectStyles}>
                      <Stack space="space.050">
                        <Label htmlFor="batch-owner">Owner of the new projects</Label>
                        <Select
                          inputId="batch-owner"
                          options={ownerOptions}
                          value={ownerOptions.find((o) => o.value === owner) ?? null}
                          onChange={(o) => setOwner(o?.value ?? null)}
                          testId="batch-owner"
                        />
                      </Stack>
                    </Box>
                  )}
                </Stack>
              ) : (
                <Text as="p" color="color.text.subtle" testId="batch-connect-existing">
                  Each repository is connected to the existing Valohai project named like it. To create new projects, connect from each
                  repository&apos;s own page.
                </Text>
              ))}
          </Stack>
        </form>
        <form
          aria-label="Rotate every key past an age"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void planFor('older');
          }}
        >
          <Inline space="space.200" alignBlock="end" shouldWrap>
            <Box xcss={daysStyles}>
              <Stack space="space.050">
                <Label htmlFor="batch-older-days">Key older than (days)</Label>
                <Textfield
                  id="batch-older-days"
                  inputMode="numeric"
                  value={daysText}
                  onChange={(e) => setDaysText(e.currentTarget.value)}
                  isInvalid={Boolean(daysError)}
                  autoComplete="off"
                  testId="batch-older-days"
                />
              </Stack>
            </Box>
            <Button type="submit" isLoading={planning === 'older'} isDisabled={busy || active} testId="batch-plan-older">
              Plan rotating every older key
            </Button>
          </Inline>
          {daysError ? (
            <ErrorMessage testId="batch-older-days-error">{daysError}</ErrorMessage>
          ) : (
            <HelperMessage>Every connection whose key is at least this old, chosen or not.</HelperMessage>
          )}
        </form>
        {formError && <ProblemMessage error={formError} testId="batch-error" />}

        {batch && !finished && (
          <div ref={progressRef} tabIndex={-1} data-testid="batch-progress" aria-labelledby="batch-progress-heading">
            <Stack space="space.100">
              <Inline space="space.100" alignBlock="center">
                <Spinner size="small" label="In progress" />
                <Heading size="small" as="h3" id="batch-progress-heading">
                  {`${title(batch.action)} under way`}
                </Heading>
              </Inline>
              <div role="status" data-testid="batch-progress-text">
                <Text as="p">{batch.progress}</Text>
              </div>
              <ProgressBar
                value={batch.counts.done + batch.counts.failed}
                max={batch.total - batch.counts.skipped}
                label={`${title(batch.action)}: repositories finished`}
                testId="batch-bar"
              />
              <Inline>
                <Button
                  appearance="subtle"
                  onClick={() => setConfirmCancel(true)}
                  isDisabled={batch.status === 'cancelling'}
                  isLoading={cancelling}
                  testId="batch-cancel"
                >
                  {batch.status === 'cancelling' ? 'Cancelling' : 'Cancel the bulk action'}
                </Button>
              </Inline>
            </Stack>
          </div>
        )}
        {batch && finished && <Summary batch={batch} summaryRef={summaryRef} />}
        {batch && items && items.id === batch.id && (
          <>
            <ItemsTable view={items} />
            <Pager page={itemsPage} pageSize={ITEMS_PAGE_SIZE} total={items.matchingItems} onPage={setItemsPage} noun="repositories" testId="batch-pages" />
          </>
        )}
        {pollError && <ProblemMessage error={pollError} testId="batch-poll-error" />}
      </Stack>
      <PlanDialog
        plan={plan?.plan ?? null}
        slug={settings.workspace.slug}
        starting={starting}
        error={dialogError}
        onStart={(confirm) => void start(confirm)}
        onCancel={() => setPlan(null)}
        returnFocus={returnFocus}
        anchor={trigger}
      />
      <ConfirmDialog
        open={confirmCancel}
        title={`Stop the ${title(batch?.action ?? 'rotate').toLowerCase()}?`}
        confirmLabel="Stop starting repositories"
        cancelLabel="Keep it running"
        onCancel={() => setConfirmCancel(false)}
        onConfirm={() => void cancel()}
        testId="batch-cancel-confirm"
      >
        No more repositories start. Those running now finish, and what is done stays done.
      </ConfirmDialog>
    </Box>
  );
}
