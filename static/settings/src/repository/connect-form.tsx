import { useMemo, useState, type FormEvent } from 'react';
import Button from '@atlaskit/button/new';
import { SettingsTable, type Columns } from '../components/settings-table';
import { ErrorMessage, Fieldset, HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, Text } from '@atlaskit/primitives';
import { RadioGroup } from '@atlaskit/radio';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import Textfield from '@atlaskit/textfield';
import {
  FIELD_NAMES,
  fieldRules,
  type ConnectPreview,
  type OtherConnection,
  type ReadyDetails,
  type RepositoryPage,
  type ResolverError,
  type StartConnectPayload,
  type ValohaiProjectOption,
} from '../../../../src/forge/contract';
import type { KeyType } from '../../../../src/connect/types';
import { call, errorDetail } from '../api';
import { ExternalLink, ProductLink } from '../components/link';
import { ProblemMessage } from '../components/problem-message';
import { plural } from '../format';
import { CommitLink } from './commit-link';
import type { StartAction } from './start-action';
import { WarningList } from './warning-list';
import { CopyField } from './copy-field';
import { PublicKeyField, publicKeyProblem } from './public-key-field';
import { fieldStyles, sectionStyles } from '../styles';


interface Option {
  label: string;
  value: string;
}

type ProjectMode = 'existing' | 'new';

interface FieldErrors {
  project?: string;
  name?: string;
  owner?: string;
  ref?: string;
  publicKey?: string;
}

type KeyFrom = 'app' | 'valohai';

const TARGET_COLUMNS: Columns = [
  { key: 'repo', content: 'Repository', width: 50 },
  { key: 'via', content: 'Reached through', width: 50 },
];

/** Which Valohai project connecting writes to, as chosen in the form: one that exists, or one it creates. */
export type PreviewProject = { kind: 'existing'; name: string; replaces: string | null } | { kind: 'new'; name: string; owner: string | null } | null;

function PreviewProjectLine({ project }: { project: PreviewProject }) {
  if (!project) return null;
  return (
    <Text as="p" testId="preview-project">
      {project.kind === 'new'
        ? `A new Valohai project ${project.name}${project.owner ? ` owned by ${project.owner}` : ''} is created first.`
        : project.replaces
          ? `Valohai project ${project.name} stops fetching ${project.replaces} and fetches this repository instead.`
          : `Valohai project ${project.name} gets the repository URL, fetch reference and key.`}
    </Text>
  );
}

function PreviewView({ preview, page, project }: { preview: ConnectPreview; page: RepositoryPage; project: PreviewProject }) {
  return (
    <Stack space="space.150" testId="preview">
      <Heading size="small" as="h3">
        What connecting will change
      </Heading>
      <PreviewProjectLine project={project} />
      <Text as="p">
        Valohai will fetch <code>{preview.sshUrl}</code> at <code>{preview.ref}</code> (head <CommitLink repository={page.repository.fullName} sha={preview.headCommit} />). One new
        read-only access key goes on {plural(preview.targets.length, 'repository', 'repositories')}:
      </Text>
      <SettingsTable
        label="Repositories that get the access key"
        columns={TARGET_COLUMNS}
        rows={preview.targets.map((t) => ({
          key: t.key,
          cells: [
            { key: 'repo', content: <ExternalLink href={t.accessKeysUrl}>{`${t.workspace}/${t.slug}`}</ExternalLink> },
            { key: 'via', content: t.via },
          ],
        }))}
        testId="preview-targets"
      />
      <WarningList warnings={preview.warnings} testId="preview-warnings" />
    </Stack>
  );
}

/**
 * The one project that plainly belongs to this repository (it fetches it already, or is named after
 * it), and that no other repository uses: chosen for the admin. With none or several, nothing is.
 */
export function matchingProject(ready: ReadyDetails, repository: RepositoryPage['repository']) {
  const slug = repository.fullName.split('/').pop()?.toLowerCase();
  const free = ready.projects.filter((p) => !p.inUseBy);
  const fetching = free.filter((p) => p.repositoryUrl === repository.sshUrl);
  if (fetching.length === 1) return fetching[0];
  if (fetching.length > 1) return undefined;
  const named = free.filter((p) => p.name.toLowerCase() === slug);
  return named.length === 1 ? named[0] : undefined;
}

/** The project of that name the owner already has (names are unique per owner; compared as Valohai shows them, ignoring case). */
export function takenProject(name: string, owner: string | null, ready: ReadyDetails): ValohaiProjectOption | undefined {
  const wanted = name.trim().toLowerCase();
  return ready.projects.find((p) => p.name.toLowerCase() === wanted && (p.owner === null || owner === null || p.owner === owner));
}

/** The repository's name as a new project's, or with -2, -3… when a project of that name exists. */
export function freeProjectName(base: string, ready: ReadyDetails): string {
  const taken = new Set(ready.projects.map((p) => p.name.toLowerCase()));
  if (!taken.has(base.toLowerCase())) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`.toLowerCase())) return `${base}-${n}`;
}

const KEY_FROM_CHOICES: [string, string][] = [
  ['app', 'The app makes it and gives Valohai the private key'],
  ['valohai', 'Use a key made in Valohai (the app never holds a private key)'],
];

export const KEY_TYPE_CHOICES: [string, string][] = [
  ['rsa', 'RSA 4096 (recommended: the key type Valohai documents)'],
  ['ed25519', 'Ed25519 (smaller, but Valohai has not confirmed it accepts this type)'],
];

/** One choice of the form; each option's test id is `<name's first word>-<value>` (key-rsa, key-from-valohai). */
export function RadioFieldset({
  legend,
  name,
  value,
  disabled,
  onChange,
  options,
}: {
  legend: string;
  name: string;
  value: string;
  disabled: boolean;
  onChange: (value: string) => void;
  options: [string, string][];
}) {
  const prefix = name === 'key-type' ? 'key' : name;
  return (
    <Fieldset legend={legend}>
      <RadioGroup
        name={name}
        value={value}
        isDisabled={disabled}
        onChange={(e) => onChange(e.currentTarget.value)}
        options={options.map(([v, label]) => ({ name, value: v, label, testId: `${prefix}-${v}` }))}
      />
    </Fieldset>
  );
}

export function ConnectForm({
  page,
  ready,
  readOnly,
  start,
  onOtherConnection,
}: {
  page: RepositoryPage;
  ready: ReadyDetails;
  readOnly: boolean;
  start: StartAction;
  /** The preview found a connection of the chosen project made outside the app (with the CLI). */
  onOtherConnection?: (found: OtherConnection) => void;
}) {
  const [mode, setMode] = useState<ProjectMode>(ready.projects.length > 0 ? 'existing' : 'new');
  const [projectId, setProjectId] = useState<string | null>(() => matchingProject(ready, page.repository)?.id ?? null);
  const [name, setName] = useState(() => freeProjectName(page.repository.fullName.split('/').pop() ?? '', ready));
  const [owner, setOwner] = useState<string | null>(ready.ownershipOptions[0]?.value ?? null);
  const [ref, setRef] = useState(ready.defaultRef);
  const [keyType, setKeyType] = useState<KeyType>('rsa');
  const [keyFrom, setKeyFrom] = useState<KeyFrom>('app');
  const [publicKey, setPublicKey] = useState('');
  const [submodules, setSubmodules] = useState(true);
  const [moveProject, setMoveProject] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [preview, setPreview] = useState<ConnectPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const [connecting, setConnecting] = useState(false);
  const [problem, setProblem] = useState<ResolverError | null>(null);
  const manual = !page.setup.bitbucket;

  const projectOptions: Option[] = useMemo(
    () =>
      ready.projects.map((p) => {
        const name = p.owner ? `${p.name} (${p.owner})` : p.name;
        return { value: p.id, label: p.inUseBy ? `${name}: connected to ${p.inUseBy}` : name };
      }),
    [ready.projects],
  );
  const ownerOptions: Option[] = useMemo(() => ready.ownershipOptions.map((o) => ({ value: o.value, label: o.label })), [ready.ownershipOptions]);
  const chosen = ready.projects.find((p) => p.id === projectId) ?? null;
  const replaces = chosen?.repositoryUrl && chosen.repositoryUrl !== page.repository.sshUrl && !chosen.inUseBy ? chosen.repositoryUrl : null;

  const previewProject: PreviewProject =
    mode === 'new'
      ? name.trim()
        ? { kind: 'new', name: name.trim(), owner: ready.ownershipOptions.find((o) => o.value === owner)?.label ?? owner }
        : null
      : chosen
        ? { kind: 'existing', name: chosen.name, replaces }
        : null;

  // A preview describes one set of choices; any change makes it stale.
  const changed = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPreview(null);
  };

  const refProblem = (value: string) => {
    const problem = fieldRules.ref(value);
    return problem ? `${FIELD_NAMES.ref} ${problem}.` : null;
  };

  const checkRef = (): string | null => {
    const trimmed = ref.trim();
    const problem = refProblem(trimmed);
    if (problem) {
      setErrors((e) => ({ ...e, ref: problem }));
      return null;
    }
    return trimmed;
  };

  /** The server's word on a field goes on that field; anything else is the form's problem. */
  const showFailure = (failure: ResolverError) => {
    const field =
      failure.field === 'ref'
        ? 'ref'
        : failure.field === 'newProject.name'
          ? 'name'
          : failure.field === 'newProject.owner'
            ? 'owner'
            : failure.field === 'publicKey'
              ? 'publicKey'
              : null;
    if (field) setErrors((e) => ({ ...e, [field]: failure.message }));
    else setProblem(failure);
  };

  const onPreview = async () => {
    setErrors({});
    setProblem(null);
    const r = checkRef();
    if (r === null) return;
    setPreviewing(true);
    try {
      // The chosen project goes along: the preview then looks for a connection of it made with the CLI.
      const next = await call('previewConnect', { ref: r, submodules, ...(mode === 'existing' && projectId ? { projectId } : {}) });
      if (next.otherConnection?.keys?.length && onOtherConnection) onOtherConnection(next.otherConnection);
      else setPreview(next);
    } catch (err) {
      showFailure(errorDetail(err));
    } finally {
      setPreviewing(false);
    }
  };

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const next: FieldErrors = {};
    const r = ref.trim();
    const badRef = refProblem(r);
    if (badRef) next.ref = badRef;
    if (mode === 'existing' && !projectId) next.project = 'Choose the Valohai project to connect.';
    if (mode === 'existing' && chosen?.inUseBy && !moveProject) {
      next.project = `This project is connected to ${chosen.inUseBy}. Choose another project, or choose to move it here.`;
    }
    const taken = mode === 'new' ? takenProject(name, owner, ready) : undefined;
    if (mode === 'new' && !name.trim()) next.name = 'Name the new project.';
    else if (mode === 'new' && fieldRules.projectName(name.trim())) next.name = `${FIELD_NAMES['newProject.name']} ${fieldRules.projectName(name.trim())}.`;
    else if (taken) {
      next.name = `${taken.owner ?? 'This owner'} already has a project named ${taken.name}: choose it under "Use an existing project", or give the new one another name.`;
    }
    if (mode === 'new' && !owner) next.owner = 'Choose who owns the new project.';
    const keyProblem = keyFrom === 'valohai' && !manual ? publicKeyProblem(publicKey) : null;
    if (keyProblem) next.publicKey = keyProblem;
    setErrors(next);
    setProblem(null);
    if (Object.keys(next).length > 0) return;
    const common = { ref: r, keyType, submodules, ...(keyFrom === 'valohai' && !manual ? { publicKey: publicKey.trim() } : {}) };
    const payload: StartConnectPayload =
      mode === 'existing' && projectId
        ? { projectId, ...common, ...(chosen?.inUseBy && moveProject ? { moveProject: true } : {}) }
        : { newProject: { name: name.trim(), owner: owner ?? '' }, ...common };
    setConnecting(true);
    const failure = await start(manual ? 'manual-connect' : 'connect', () =>
      call(manual ? 'startManualConnect' : 'startConnect', payload),
    );
    setConnecting(false);
    if (failure) showFailure(failure);
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="connect-heading" testId="connect-form">
      <form onSubmit={onSubmit} noValidate aria-label="Connect to Valohai">
        <Stack space="space.250">
          <Heading size="medium" as="h2" id="connect-heading">
            Connect to a Valohai project
          </Heading>
          {page.setup.bitbucketNotAdmin && (
            <SectionMessage appearance="warning" title="The stored API token is not a workspace admin's" testId="token-not-admin">
              <Text as="p">
                Bitbucket lets it add access keys only on repositories its account administers: connecting this repository, or one of
                its submodule repositories, fails unless that account administers each. A workspace admin can store their own token on
                Workspace settings &rsaquo; Valohai.
              </Text>
            </SectionMessage>
          )}
          {manual && (
            <SectionMessage appearance="information" title="The access key will be added by hand" testId="manual-notice">
              <Text as="p">
                No Bitbucket API token is stored for this workspace, so after you connect, this page shows the public key and a link to
                each repository&apos;s Access keys page.
                {page.setup.workspaceSettingsUrl && (
                  <>
                    {' '}
                    To add keys automatically, store a token in{' '}
                    <ProductLink href={page.setup.workspaceSettingsUrl}>Workspace settings &rsaquo; Valohai</ProductLink>.
                  </>
                )}
              </Text>
            </SectionMessage>
          )}

          <Fieldset legend="Valohai project">
            <RadioGroup
              name="project-mode"
              value={mode}
              isDisabled={readOnly}
              onChange={(e) => changed(setMode)(e.currentTarget.value as ProjectMode)}
              options={[
                { name: 'project-mode', value: 'existing', label: 'Use an existing project', isDisabled: ready.projects.length === 0, testId: 'mode-existing' },
                { name: 'project-mode', value: 'new', label: 'Create a new project', testId: 'mode-new' },
              ]}
            />
          </Fieldset>

          {mode === 'existing' ? (
            <Box xcss={fieldStyles}>
              <Stack space="space.050">
                <Label htmlFor="project-select">Project</Label>
                <Select<Option>
                  inputId="project-select"
                  options={projectOptions}
                  value={projectOptions.find((o) => o.value === projectId) ?? null}
                  onChange={(o) => {
                    changed(setProjectId)(o?.value ?? null);
                    setMoveProject(false);
                  }}
                  isDisabled={readOnly}
                  placeholder="Choose a project"
                  isInvalid={Boolean(errors.project)}
                  testId="project-select"
                />
                {errors.project && <ErrorMessage testId="project-error">{errors.project}</ErrorMessage>}
                {chosen?.inUseBy && (
                  <SectionMessage appearance="warning" title={`Connected to ${chosen.inUseBy}`} testId="project-in-use">
                    <Stack space="space.100">
                      <Text as="p">
                        Valohai fetches and runs {chosen.inUseBy}&apos;s code in this project, with its secrets. Moving the project here
                        makes it fetch this repository instead; {chosen.inUseBy} then shows it as moved away. Only workspace admins can move a
                        project.
                      </Text>
                      <RadioGroup
                        name="move-project"
                        value={moveProject ? 'move' : 'keep'}
                        isDisabled={readOnly}
                        onChange={(e) => changed(setMoveProject)(e.currentTarget.value === 'move')}
                        options={[
                          { name: 'move-project', value: 'keep', label: `Leave it with ${chosen.inUseBy}`, testId: 'move-keep' },
                          { name: 'move-project', value: 'move', label: `Move it to ${page.repository.fullName}`, testId: 'move-here' },
                        ]}
                      />
                    </Stack>
                  </SectionMessage>
                )}
                {replaces && (
                  <HelperMessage>
                    <span data-testid="replaces-repository">This project fetches from {replaces} now; connecting replaces that repository.</span>
                  </HelperMessage>
                )}
              </Stack>
            </Box>
          ) : (
            <Box xcss={fieldStyles}>
              <Stack space="space.150">
                <Stack space="space.050">
                  <Label htmlFor="project-name">New project name</Label>
                  <Textfield
                    id="project-name"
                    value={name}
                    onChange={(e) => changed(setName)(e.currentTarget.value)}
                    isDisabled={readOnly}
                    isInvalid={Boolean(errors.name)}
                    testId="project-name"
                  />
                  {errors.name && <ErrorMessage testId="project-name-error">{errors.name}</ErrorMessage>}
                </Stack>
                <Stack space="space.050">
                  <Label htmlFor="project-owner">Owner</Label>
                  <Select<Option>
                    inputId="project-owner"
                    options={ownerOptions}
                    value={ownerOptions.find((o) => o.value === owner) ?? null}
                    onChange={(o) => changed(setOwner)(o?.value ?? null)}
                    isDisabled={readOnly}
                    placeholder="Choose an organisation or team"
                    isInvalid={Boolean(errors.owner)}
                    testId="project-owner"
                  />
                  {errors.owner ? <ErrorMessage>{errors.owner}</ErrorMessage> : <HelperMessage>The organisation or team that owns the project on Valohai.</HelperMessage>}
                </Stack>
              </Stack>
            </Box>
          )}

          <Box xcss={fieldStyles}>
            <Stack space="space.050">
              <Label htmlFor="fetch-ref">Fetch reference</Label>
              <Textfield
                id="fetch-ref"
                value={ref}
                onChange={(e) => changed(setRef)(e.currentTarget.value)}
                isDisabled={readOnly}
                isInvalid={Boolean(errors.ref)}
                isMonospaced
                aria-describedby="fetch-ref-help"
                testId="fetch-ref"
              />
              {errors.ref ? (
                <ErrorMessage testId="fetch-ref-error">{errors.ref}</ErrorMessage>
              ) : (
                <HelperMessage>
                  <span id="fetch-ref-help">
                    The branch Valohai fetches, by name or as refs/heads/name{page.repository.mainBranch ? `; the main branch is ${page.repository.mainBranch}` : ''}.
                  </span>
                </HelperMessage>
              )}
            </Stack>
          </Box>

          {!manual && (
            <RadioFieldset legend="Where the key pair is made" name="key-from" value={keyFrom} disabled={readOnly} onChange={(v) => changed(setKeyFrom)(v as KeyFrom)} options={KEY_FROM_CHOICES} />
          )}

          {keyFrom === 'valohai' && !manual && (
            <Box xcss={fieldStyles} testId="valohai-key">
              <Stack space="space.150">
                <Text as="p">
                  In Valohai, open the project&apos;s Settings &rsaquo; Repository, enter these two values, press Generate SSH Key and paste the
                  public key it shows below. The app puts that key on every repository and never sends Valohai a key; it sets the URL and fetch
                  reference itself only where Valohai says it may.
                </Text>
                <CopyField id="valohai-url" label="URL" value={page.repository.sshUrl} testId="valohai-url" />
                <CopyField id="valohai-ref" label="Fetch reference" value={ref.trim()} testId="valohai-ref" />
                <PublicKeyField
                  id="valohai-public-key"
                  label="Public key made in Valohai"
                  help="One line, starting with ssh-ed25519, ssh-rsa or ecdsa-sha2-. Never the private key."
                  value={publicKey}
                  error={errors.publicKey}
                  disabled={readOnly}
                  onChange={(v) => {
                    setPublicKey(v);
                    setErrors((e) => ({ ...e, publicKey: undefined }));
                  }}
                  testId="public-key"
                />
              </Stack>
            </Box>
          )}

          {keyFrom === 'app' && (
            <RadioFieldset legend="Key type" name="key-type" value={keyType} disabled={readOnly} onChange={(v) => changed(setKeyType)(v as KeyType)} options={KEY_TYPE_CHOICES} />
          )}

          <Fieldset legend="Submodules">
            <RadioGroup
              name="submodules"
              value={submodules ? 'on' : 'off'}
              isDisabled={readOnly}
              onChange={(e) => changed(setSubmodules)(e.currentTarget.value === 'on')}
              options={[
                { name: 'submodules', value: 'on', label: 'Also add the key to the Bitbucket repositories in .gitmodules', testId: 'submodules-on' },
                { name: 'submodules', value: 'off', label: 'This repository only', testId: 'submodules-off' },
              ]}
            />
          </Fieldset>

          {problem && <ProblemMessage error={problem} testId="connect-error" />}
          <div aria-live="polite" data-testid="preview-region">
            {preview && <PreviewView preview={preview} page={page} project={previewProject} />}
          </div>

          <Inline space="space.100">
            <Button onClick={() => void onPreview()} isDisabled={readOnly || connecting} isLoading={previewing} testId="preview-button">
              Preview
            </Button>
            <Button type="submit" appearance="primary" isDisabled={readOnly || previewing} isLoading={connecting} testId="connect-button">
              {manual ? 'Connect (add key by hand)' : 'Connect'}
            </Button>
          </Inline>
        </Stack>
      </form>
    </Box>
  );
}
