import Button from '@atlaskit/button/new';
import Heading from '@atlaskit/heading';
import Lozenge from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import {
  accessKeysUrl,
  HIDDEN_REPOSITORY,
  type HealthChange,
  type HealthFinding,
  type HealthFindingCode,
  type HealthView,
  type RepositoryPage,
} from '../../../../src/forge/contract';
import { healthLook, triggerWords } from '../components/health-look';
import { HealthTimeline } from './health-timeline';
import { KeyNoticeTable } from '../components/key-notices';
import { ExternalLink, ProductLink } from '../components/link';
import { LinkedText } from '../components/linked-text';
import { formatDateTime, relativeTime } from '../format';
import { sectionStyles } from '../styles';

const listStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.300' });

/** A moment as "2 hours ago", with the exact time for whoever hovers or reads the markup. */
function When({ at, testId }: { at: string; testId?: string }) {
  return (
    <time dateTime={at} title={formatDateTime(at)} data-testid={testId}>
      {relativeTime(at)}
    </time>
  );
}

function changeWords(change: HealthChange): string {
  const detail = change.detail ? ` (${change.detail})` : '';
  switch (change.kind) {
    case 'key-restored':
      return `Put the key back on ${change.repository}${detail}`;
    case 'key-added':
      return `Added the key to ${change.repository}${detail}`;
    case 'key-removed':
      return `Removed the key no longer needed from ${change.repository}${detail}`;
    case 'rotated':
      return `Rotated the key on ${change.repository}${detail}`;
  }
}

function repositoryKeysLink(fullName: string): string | null {
  const [workspace, slug] = fullName.split('/');
  return workspace && slug ? accessKeysUrl(workspace, slug) : null;
}

/** Findings the card shows in a section of their own are not repeated in the list. */
function listedFindings(health: HealthView, keyAgeShown: boolean): HealthFinding[] {
  const elsewhere = new Set<HealthFindingCode>();
  if (keyAgeShown) ['key-age-warning', 'key-age-alert'].forEach((c) => elsewhere.add(c as HealthFindingCode));
  if (health.needsAdmin.length) elsewhere.add('needs-admin');
  if (health.keyNotices.length) ['unused-key', 'unneeded-key', 'stray-key'].forEach((c) => elsewhere.add(c as HealthFindingCode));
  if (health.paused) ['token-refused', 'token-expiring'].forEach((c) => elsewhere.add(c as HealthFindingCode));
  const findings = (health.latest?.findings ?? []).filter((f) => !elsewhere.has(f.code));
  // What a person must do comes first, the worst of it at the top.
  const rank = (f: HealthFinding) => (f.fix ? 0 : 2) + (f.severity === 'broken' ? 0 : 1);
  return [...findings].sort((a, b) => rank(a) - rank(b));
}

function Findings({ findings }: { findings: HealthFinding[] }) {
  if (findings.length === 0) return null;
  return (
    <Stack space="space.100" testId="health-findings">
      <Heading size="xsmall" as="h3" id="health-findings-heading">
        What the latest check found
      </Heading>
      <Box as="ul" xcss={listStyles} aria-labelledby="health-findings-heading">
        {findings.map((f, i) => (
          <li key={`${f.code}-${i}`} data-testid={`health-finding-${f.code}`}>
            <Stack space="space.050">
              <Inline space="space.100" alignBlock="center" shouldWrap>
                <Lozenge appearance={healthLook[f.severity].appearance}>{healthLook[f.severity].label}</Lozenge>
                <Text>
                  {f.repository ? `${f.repository}: ` : ''}
                  <LinkedText text={f.message} />
                </Text>
              </Inline>
              {f.fix && (
                <Text as="p">
                  <LinkedText text={f.fix} />
                </Text>
              )}
            </Stack>
          </li>
        ))}
      </Box>
    </Stack>
  );
}

function NeedsAdmin({ needs, onRotate }: { needs: HealthView['needsAdmin']; onRotate?: () => void }) {
  if (needs.length === 0) return null;
  const only = needs[0]?.repository;
  const title =
    needs.length === 1
      ? `${only === HIDDEN_REPOSITORY ? 'A repository you cannot see' : only} needs an admin`
      : `${needs.length} repositories: each needs an admin`;
  const added = needs.filter((n) => n.newSubmodule);
  return (
    <SectionMessage appearance="warning" title={title} testId="health-needs-admin">
      <Stack space="space.100">
        <Text as="p">
          {needs.length === 1
            ? 'It lacks the key, and automatic work may not put it there: one of its admins adds it, or rotates the connection from this page.'
            : 'They lack the key, and automatic work may not put them there: an admin of each adds it, or rotates the connection from this page.'}
        </Text>
        <Box as="ul" xcss={listStyles}>
          {needs.map((n, i) => {
            const link = repositoryKeysLink(n.repository);
            return (
              <li key={`${n.repository}-${i}`} data-testid={`health-needs-admin-${n.repository}`}>
                {link ? <ExternalLink href={link}>{n.repository}</ExternalLink> : n.repository}: {n.reason}
              </li>
            );
          })}
        </Box>
        {added.length > 0 && onRotate && (
          <Inline space="space.100" alignBlock="center">
            <Button onClick={onRotate} testId="health-needs-admin-rotate">
              {added.length === 1 ? 'Rotate to add the new submodule' : 'Rotate to add the new submodules'}
            </Button>
            <Text color="color.text.subtle">Rotate checks that you administer every repository before it changes anything.</Text>
          </Inline>
        )}
      </Stack>
    </SectionMessage>
  );
}

function Repaired({ changes }: { changes: HealthChange[] }) {
  if (changes.length === 0) return null;
  return (
    <Stack space="space.100" testId="health-changes">
      <Heading size="xsmall" as="h3" id="health-changes-heading">
        Repaired by itself
      </Heading>
      <Box as="ul" xcss={listStyles} aria-labelledby="health-changes-heading">
        {changes.map((c, i) => (
          <li key={`${c.at}-${i}`} data-testid={`health-change-${c.kind}`}>
            {changeWords(c)}, <When at={c.at} />
          </li>
        ))}
      </Box>
    </Stack>
  );
}

/**
 * How the connection's own checks found it: the latest verdict, a timeline of the kept checks, what
 * needs a person, what was repaired without one, and keys no longer wanted. Paused is its own state,
 * with the fix: the connection may be fine while the app waits for a new token.
 */
export function HealthCard({
  health,
  keyAgeShown,
  readOnly,
  setup,
  onRotate,
}: {
  health: HealthView;
  /** The page already says the key is old (at its top): the check's finding of it is not repeated. */
  keyAgeShown: boolean;
  readOnly: boolean;
  setup: RepositoryPage['setup'];
  /** Starts the page's Rotate: the ordinary, authorised way to give the key to a new submodule. */
  onRotate?: () => void;
}) {
  const latest = health.latest;
  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="health-heading" testId="health-card">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="health-heading">
          Health
        </Heading>
        {health.paused && (
          <SectionMessage appearance="warning" title="Automatic checks and repairs are paused" testId="health-paused">
            <Stack space="space.100">
              {/* Why it is paused is said once, beside the verdict in the page header. */}
              <Text as="p">The connection itself is as it was: Valohai keeps fetching with its key.</Text>
              <Text as="p">
                <LinkedText text={health.paused.fix} />
              </Text>
              {setup.workspaceSettingsUrl && (
                <Text as="p">
                  <ProductLink href={setup.workspaceSettingsUrl} testId="health-paused-link">
                    Open Workspace settings &rsaquo; Valohai
                  </ProductLink>
                </Text>
              )}
            </Stack>
          </SectionMessage>
        )}
        <Stack space="space.050" testId="health-when">
          <Text as="p">
            {latest ? (
              <>
                Last checked <When at={latest.at} testId="health-checked-at" /> by {triggerWords[latest.trigger]}.
              </>
            ) : (
              'No check has run yet.'
            )}{' '}
            {health.nextCheckAt && Date.parse(health.nextCheckAt) <= Date.now() ? (
              // Its time has come and no run has taken it yet: not "just now", as if one had run.
              <span data-testid="health-next-due">The next check is due: the hourly run takes it up.</span>
            ) : health.nextCheckAt ? (
              <>
                Next scheduled check <When at={health.nextCheckAt} testId="health-next-at" />.
              </>
            ) : (
              'No check is scheduled while automatic work is paused.'
            )}
          </Text>
          {health.autoRotateDueAt && (
            <Text as="p" testId="health-auto-rotate">
              Automatic rotation is on: the key is due for a new one <When at={health.autoRotateDueAt} /> ({formatDateTime(health.autoRotateDueAt)}).
            </Text>
          )}
        </Stack>
        <HealthTimeline history={health.history} testId="health-timeline" />
        <Findings findings={listedFindings(health, keyAgeShown)} />
        <NeedsAdmin needs={health.needsAdmin} {...(onRotate && !readOnly ? { onRotate } : {})} />
        <Repaired changes={health.recentChanges} />
        {health.keyNotices.length > 0 && (
          <Stack space="space.100">
            <Heading size="xsmall" as="h3">
              Keys to look at
            </Heading>
            <KeyNoticeTable notices={health.keyNotices} showConnection={false} readOnly={readOnly} testId="health-key-notices" />
          </Stack>
        )}
      </Stack>
    </Box>
  );
}
