import { useMemo, useRef, useState, type ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import { Checkbox } from '@atlaskit/checkbox';
import SectionMessage from '@atlaskit/section-message';
import { ErrorMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import Select from '@atlaskit/select';
import Textfield from '@atlaskit/textfield';
import {
  KEY_AGE_WARNING_DAYS,
  type ConnectionHealth,
  REPOSITORY_LIST_FRESH_MINUTES,
  type RepositoryConnectionState,
  type ResolverError,
  type WorkspaceRepository,
  type WorkspaceSettings,
} from '../../../../../src/forge/contract';
import { LinkedText } from '../../components/linked-text';
import { ProblemMessage } from '../../components/problem-message';
import { healthLook } from '../../components/health-look';
import { KeyAge } from '../../components/key-age';
import { ProductLink } from '../../components/link';
import { Pager } from './pager';
import { SettingsTable, type Columns } from '../../components/settings-table';
import { formatDateTime, plural, relativeTime } from '../../format';
import { sectionStyles } from '../../styles';

export const REPOSITORIES_PAGE_SIZE = 25;

const searchStyles = xcss({ minWidth: '260px', flexGrow: 1 });
const filterStyles = xcss({ minWidth: '280px' });
const daysStyles = xcss({ maxWidth: '120px' });
/** The bar over the chosen rows, on the selected surface as Bitbucket's and Jira's bulk bars are. */
const barStyles = xcss({
  backgroundColor: 'color.background.selected',
  borderRadius: 'radius.medium',
  paddingBlock: 'space.100',
  paddingInline: 'space.150',
});

export const stateLook: Record<RepositoryConnectionState, { label: string; appearance: ThemeAppearance }> = {
  connected: { label: 'Connected', appearance: 'success' },
  running: { label: 'Working', appearance: 'inprogress' },
  manual: { label: 'Waiting for key', appearance: 'moved' },
  'not-connected': { label: 'Not connected', appearance: 'default' },
  'moved-away': { label: 'Project moved away', appearance: 'removed' },
};

type Filter = 'all' | 'not-connected' | 'unhealthy' | 'old-key';
interface FilterOption {
  label: string;
  value: Filter;
}
const FILTERS: FilterOption[] = [
  { value: 'all', label: 'All repositories' },
  { value: 'not-connected', label: 'Not connected' },
  { value: 'unhealthy', label: 'Unhealthy (degraded, broken or paused)' },
  { value: 'old-key', label: 'Key older than a number of days' },
];

/** The days typed, or null when they are not a whole number of days. */
function daysTyped(text: string): number | null {
  const t = text.trim();
  return /^\d{1,4}$/.test(t) ? Number(t) : null;
}

function matches(repo: WorkspaceRepository, search: string, filter: Filter, days: number | null): boolean {
  const q = search.trim().toLowerCase();
  if (q && !repo.fullName.toLowerCase().includes(q) && !(repo.projectName ?? '').toLowerCase().includes(q)) return false;
  switch (filter) {
    case 'not-connected':
      return repo.state === 'not-connected';
    case 'unhealthy':
      return repo.health === 'degraded' || repo.health === 'broken' || repo.health === 'paused';
    case 'old-key':
      // Until the days make sense the filter lets everything through, and says why under the field.
      return days === null || (repo.keyAgeDays !== null && repo.keyAgeDays > days);
    default:
      return true;
  }
}

type SortKey = 'name' | 'state' | 'health' | 'project' | 'age' | 'verified';
type SortOrder = 'ASC' | 'DESC';
const SORT_KEYS: readonly string[] = ['name', 'state', 'health', 'project', 'age', 'verified'] satisfies SortKey[];

/** Ascending reads from what is furthest along to what needs a person: connected first, not connected last. */
const stateRank: Record<RepositoryConnectionState, number> = { connected: 0, running: 1, manual: 2, 'moved-away': 3, 'not-connected': 4 };
/** Ascending reads from healthy to broken; a repository with no connection has no health and comes first. */
const healthRank: Record<ConnectionHealth, number> = { healthy: 1, degraded: 2, paused: 3, broken: 4 };

/**
 * What a column sorts by. The same values are the cells' keys, which the design system's table sorts
 * a page by: it then keeps the order the whole list was sorted in here, before paging.
 */
function sortValue(repo: WorkspaceRepository, key: SortKey): string | number {
  switch (key) {
    case 'name':
      return repo.fullName;
    case 'state':
      return stateRank[repo.state];
    case 'health':
      return repo.health ? healthRank[repo.health] : 0;
    case 'project':
      return repo.projectName ?? '';
    case 'age':
      // No key yet reads as younger than a key made today.
      return repo.keyAgeDays ?? -1;
    case 'verified':
      // Never verified reads as the longest ago.
      return repo.state === 'not-connected' || !repo.lastVerifiedAt ? 0 : Date.parse(repo.lastVerifiedAt);
  }
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'accent' });

/** The whole filtered list in the column's order, ties by name, so paging shows one order throughout. */
function sorted(repos: WorkspaceRepository[], key: SortKey, order: SortOrder): WorkspaceRepository[] {
  const sign = order === 'ASC' ? 1 : -1;
  const compare = (a: string | number, b: string | number) =>
    typeof a === 'string' && typeof b === 'string' ? collator.compare(a, b) : Number(a) - Number(b);
  return [...repos].sort(
    (a, b) => sign * compare(sortValue(a, key), sortValue(b, key)) || collator.compare(a.fullName, b.fullName),
  );
}

/** When Valohai's fetch was last verified: relative, with the exact time on hover. */
function Verified({ at }: { at: string | null }) {
  if (!at) return <Text color="color.text.subtle">never</Text>;
  return (
    <time dateTime={at} title={formatDateTime(at)}>
      {relativeTime(at)}
    </time>
  );
}

/**
 * When the list was read, and (for workspace admins) reading it again. The app keeps the list a few
 * minutes rather than read it on every load; a read that failed leaves the list it has, said here.
 */
function ListedAt({ settings, onRefresh }: { settings: WorkspaceSettings; onRefresh?: () => Promise<ResolverError | null> }) {
  const [refreshing, setRefreshing] = useState(false);
  const [error, setError] = useState<ResolverError | null>(null);
  const listedAt = settings.repositoriesListedAt;
  const problem = settings.repositoriesProblem;
  const refresh = async () => {
    if (!onRefresh) return;
    setRefreshing(true);
    setError(await onRefresh());
    setRefreshing(false);
  };
  return (
    <Stack space="space.100">
      <Inline space="space.100" alignBlock="center" shouldWrap>
        <Text color="color.text.subtle" testId="repositories-listed-at">
          {listedAt ? (
            <>
              Listed from Bitbucket{' '}
              <time dateTime={listedAt} title={formatDateTime(listedAt)}>
                {relativeTime(listedAt)}
              </time>
              ; read again after {REPOSITORY_LIST_FRESH_MINUTES} minutes.
            </>
          ) : (
            'Not listed from Bitbucket yet.'
          )}
        </Text>
        {onRefresh && (
          <Button appearance="subtle" spacing="compact" onClick={() => void refresh()} isLoading={refreshing} testId="repositories-refresh">
            Refresh list
          </Button>
        )}
      </Inline>
      {problem && (
        <SectionMessage appearance="warning" title={listedAt ? 'The list could not be read again' : 'The repositories could not be listed'} testId="repositories-problem">
          <Stack space="space.100">
            <Text as="p">
              <LinkedText text={problem.message} />
            </Text>
            <Text as="p">
              {listedAt ? `Shown as listed ${formatDateTime(listedAt)}: repositories made, renamed or deleted since may be missing or out of date. ` : ''}
              <LinkedText text={problem.fix} />
            </Text>
          </Stack>
        </SectionMessage>
      )}
      {error && <ProblemMessage error={error} testId="repositories-refresh-error" />}
    </Stack>
  );
}

/**
 * Every repository of the workspace, a page at a time: searchable by name or project, filtered to
 * what needs attention, sorted by any column, and (for workspace admins) chosen row by row or all
 * matching at once, a bar over the table then offering the bulk actions.
 */
export function FleetRepositories({
  settings,
  selected,
  onSelect,
  onRefresh,
  actions,
  actionDetail,
}: {
  settings: WorkspaceSettings;
  /** Full names chosen for a bulk action; null when the reader may not act on them (a member). */
  selected: string[] | null;
  onSelect: (names: string[]) => void;
  /** Reads the list again now (workspace admins); resolves to what stopped it, or null. */
  onRefresh?: () => Promise<ResolverError | null>;
  /** The bulk actions, in the bar shown over the table while rows are chosen. */
  actions?: ReactNode;
  /** Under the bar's buttons: what an action asks before its plan, and what stopped one. */
  actionDetail?: ReactNode;
}) {
  const [search, setSearch] = useState('');
  const [filter, setFilter] = useState<Filter>('all');
  const [daysText, setDaysText] = useState(String(KEY_AGE_WARNING_DAYS));
  const [page, setPage] = useState(1);
  const [sortKey, setSortKey] = useState<SortKey>('name');
  const [sortOrder, setSortOrder] = useState<SortOrder>('ASC');
  const headerCheckbox = useRef<HTMLInputElement>(null);
  const days = daysTyped(daysText);

  const shown = useMemo(
    () => sorted(settings.repositories.filter((r) => matches(r, search, filter, days)), sortKey, sortOrder),
    [settings.repositories, search, filter, days, sortKey, sortOrder],
  );
  const pages = Math.max(1, Math.ceil(shown.length / REPOSITORIES_PAGE_SIZE));
  const current = Math.min(page, pages);
  const onPage = shown.slice((current - 1) * REPOSITORIES_PAGE_SIZE, current * REPOSITORIES_PAGE_SIZE);
  const chosen = new Set(selected ?? []);
  const chosenShown = onPage.filter((r) => chosen.has(r.fullName)).length;
  const unchosenMatching = shown.filter((r) => !chosen.has(r.fullName)).length;

  const toggle = (names: string[], on: boolean) => {
    const next = new Set(chosen);
    for (const name of names) {
      if (on) next.add(name);
      else next.delete(name);
    }
    // In the listing's order, so a plan lists them as the table does.
    onSelect(settings.repositories.map((r) => r.fullName).filter((n) => next.has(n)));
  };

  const changed = <T,>(set: (value: T) => void) => (value: T) => {
    set(value);
    setPage(1);
  };

  const onSort = ({ key, sortOrder: order }: { key: string; sortOrder: SortOrder }) => {
    if (!SORT_KEYS.includes(key)) return;
    setSortKey(key as SortKey);
    setSortOrder(order);
    setPage(1);
  };

  const clear = () => {
    onSelect([]);
    // The bar and its buttons go: the focus goes to the box that chooses again.
    headerCheckbox.current?.focus();
  };

  const selectable = selected !== null;
  const rows = onPage.map((repo) => ({
    key: repo.fullName,
    cells: [
      ...(selectable
        ? [
            {
              key: 'select',
              content: (
                <Checkbox
                  isChecked={chosen.has(repo.fullName)}
                  onChange={(e) => toggle([repo.fullName], e.currentTarget.checked)}
                  aria-label={`Choose ${repo.fullName}`}
                  testId={`repo-select-${repo.fullName}`}
                />
              ),
            },
          ]
        : []),
      {
        key: sortValue(repo, 'name'),
        content: repo.settingsUrl ? (
          <ProductLink href={repo.settingsUrl} testId={`repo-link-${repo.name}`}>
            {repo.fullName}
          </ProductLink>
        ) : (
          repo.fullName
        ),
      },
      { key: sortValue(repo, 'state'), content: <Lozenge appearance={stateLook[repo.state].appearance}>{stateLook[repo.state].label}</Lozenge> },
      {
        key: sortValue(repo, 'health'),
        content: repo.health ? <Lozenge appearance={healthLook[repo.health].appearance}>{healthLook[repo.health].label}</Lozenge> : '\u2014',
      },
      { key: sortValue(repo, 'project'), content: repo.projectName ?? '\u2014' },
      {
        key: sortValue(repo, 'age'),
        content:
          repo.keyAgeDays === null ? (
            '\u2014'
          ) : (
            <>
              <KeyAge days={repo.keyAgeDays} />
              {repo.keySource === 'valohai' && <Text color="color.text.subtle">{' '}(made in Valohai)</Text>}
            </>
          ),
      },
      { key: sortValue(repo, 'verified'), content: repo.state === 'not-connected' ? '\u2014' : <Verified at={repo.lastVerifiedAt} /> },
    ],
  }));

  // Widths in per cent, so the columns stand where they do whatever their content; the name widest,
  // the key's age wide enough for its days and a "Rotate soon" beside them.
  const columns: Columns = [
    ...(selectable
      ? [
          {
            key: 'select',
            width: 4,
            content: (
              <Checkbox
                ref={headerCheckbox}
                isChecked={onPage.length > 0 && chosenShown === onPage.length}
                isIndeterminate={chosenShown > 0 && chosenShown < onPage.length}
                isDisabled={onPage.length === 0}
                // Some chosen: a click chooses the rest, as a mixed box does everywhere.
                onChange={() => toggle(onPage.map((r) => r.fullName), chosenShown < onPage.length)}
                aria-label="Choose all on this page"
                testId="repo-select-shown"
              />
            ),
          },
        ]
      : []),
    { key: 'name', content: 'Repository', width: selectable ? 37 : 41, isSortable: true },
    { key: 'state', content: 'Valohai', width: 12, isSortable: true },
    { key: 'health', content: 'Health', width: 10, isSortable: true },
    { key: 'project', content: 'Project', width: 13, isSortable: true },
    { key: 'age', content: 'Key age', width: 14, isSortable: true },
    { key: 'verified', content: 'Last verified', width: 10, isSortable: true },
  ];

  const total = settings.repositories.length;
  const narrowed = shown.length !== total;
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="repositories-heading" testId="repositories-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="repositories-heading">
          Repositories
        </Heading>
        <Text as="p">Connect each repository from its own settings: Repository settings &rsaquo; Valohai, or follow its name below.</Text>
        {(settings.canAdminister || settings.repositoriesListedAt) && <ListedAt settings={settings} {...(onRefresh ? { onRefresh } : {})} />}
        <Inline space="space.200" alignBlock="start" shouldWrap>
          <Box xcss={searchStyles}>
            <Stack space="space.050">
              <Label htmlFor="repo-search">Search by repository or project</Label>
              <Textfield
                id="repo-search"
                type="search"
                value={search}
                onChange={(e) => changed(setSearch)(e.currentTarget.value)}
                autoComplete="off"
                testId="repo-search"
              />
            </Stack>
          </Box>
          <Box xcss={filterStyles}>
            <Stack space="space.050">
              <Label htmlFor="repo-filter">Show</Label>
              <Select<FilterOption>
                inputId="repo-filter"
                options={FILTERS}
                value={FILTERS.find((f) => f.value === filter) ?? null}
                onChange={(o) => changed(setFilter)(o?.value ?? 'all')}
                isSearchable={false}
                testId="repo-filter"
              />
            </Stack>
          </Box>
          {filter === 'old-key' && (
            <Box xcss={daysStyles}>
              <Stack space="space.050">
                <Label htmlFor="repo-filter-days">Days</Label>
                <Textfield
                  id="repo-filter-days"
                  inputMode="numeric"
                  value={daysText}
                  onChange={(e) => changed(setDaysText)(e.currentTarget.value)}
                  isInvalid={days === null}
                  autoComplete="off"
                  testId="repo-filter-days"
                />
                {days === null && <ErrorMessage testId="repo-filter-days-error">Type a whole number of days.</ErrorMessage>}
              </Stack>
            </Box>
          )}
        </Inline>
        <div role="status" data-testid="repositories-count">
          <Text color="color.text.subtle">
            {narrowed ? `${shown.length} of ${plural(total, 'repository', 'repositories')} match.` : `${plural(total, 'repository', 'repositories')}.`}
          </Text>
        </div>
        {selectable && chosen.size > 0 && (
          <Box xcss={barStyles} role="group" aria-label="Chosen repositories" testId="repositories-bar">
            <Stack space="space.150">
              <Inline space="space.200" alignBlock="center" spread="space-between" shouldWrap>
                <Inline space="space.100" alignBlock="center" shouldWrap>
                  <Text weight="bold" testId="repositories-chosen">
                    <span aria-live="polite">{`${chosen.size} chosen`}</span>
                  </Text>
                  {unchosenMatching > 0 && (
                    <Button appearance="subtle" spacing="compact" onClick={() => toggle(shown.map((r) => r.fullName), true)} testId="repo-select-matching">
                      {narrowed ? `Choose all ${shown.length} matching` : `Choose all ${plural(shown.length, 'repository', 'repositories')}`}
                    </Button>
                  )}
                  <Button appearance="subtle" spacing="compact" onClick={clear} testId="repo-select-clear">
                    Clear
                  </Button>
                </Inline>
                {actions}
              </Inline>
              {actionDetail}
            </Stack>
          </Box>
        )}
        <SettingsTable
          label={`Repositories of ${settings.workspace.name}`}
          columns={columns}
          rows={rows}
          // The table takes sortKey and sortOrder only once it has them as defaults from its first render.
          defaultSortKey={sortKey}
          defaultSortOrder={sortOrder}
          sortKey={sortKey}
          sortOrder={sortOrder}
          onSort={onSort}
          emptyView={
            <Text>
              {total > 0 ? 'No repository matches the search and filter.' : settings.repositoriesListedAt || !settings.canAdminister ? 'No repositories in this workspace yet.' : 'No repositories to show until the list is read.'}
            </Text>
          }
          testId="repositories"
        />
        <Pager page={current} pageSize={REPOSITORIES_PAGE_SIZE} total={shown.length} onPage={setPage} noun="repositories" testId="repositories-pages" />
        {settings.repositoriesTruncated && (
          <Text as="p" color="color.text.subtle">
            Only the first {settings.repositories.length} repositories are listed.
          </Text>
        )}
      </Stack>
    </Box>
  );
}
