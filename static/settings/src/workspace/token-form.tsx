import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import Button from '@atlaskit/button/new';
import { ErrorMessage, HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import {
  FIELD_NAMES,
  MAX_TOKEN_LIFETIME_DAYS,
  TOKEN_EXPIRY_WARNING_DAYS,
  daysUntil,
  expiryProblem,
  type ResolverError,
  type TokenLifetime,
} from '../../../../src/forge/contract';
import { errorDetail } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ProblemMessage } from '../components/problem-message';
import { StatusRegion } from '../components/status-region';
import { daysFromToday, formatDateTime, relativeTime } from '../format';
import { formStyles, sectionStyles } from '../styles';

const dateStyles = xcss({ maxWidth: '200px' });

export type TokenKind = 'valohai' | 'bitbucket';

type Notice = { kind: 'saved' | 'kept'; text: string } | { kind: 'error'; error: ResolverError } | null;

/** A field's problem as the form shows it: missing, or refused by the contract's rule for it. */
export function fieldProblem(value: string, missing: string, rule: (value: string) => string | null, name: string): string | undefined {
  if (!value) return missing;
  const problem = rule(value);
  return problem ? `${FIELD_NAMES[name]} ${problem}.` : undefined;
}

/**
 * Why a typed expiry date is refused, as the field shows it; null when it is fine or empty. A Valohai
 * token may live longer than a year, so only an Atlassian API token is held to MAX_TOKEN_LIFETIME_DAYS.
 */
function expiryFieldProblem(value: string, kind: TokenKind, today = new Date()): string | null {
  const date = value.trim();
  if (!date) return null;
  if (kind === 'valohai' && /^\d{4}-\d{2}-\d{2}$/.test(date) && daysUntil(date, today) > MAX_TOKEN_LIFETIME_DAYS) return null;
  const problem = expiryProblem(date, today);
  return problem ? `${FIELD_NAMES.expiresOn} ${problem}.` : null;
}

function NoticeView({ notice, testId }: { notice: Notice; testId: string }) {
  // Always rendered, so that the live region exists before its content changes.
  return (
    <StatusRegion testId={`${testId}-status`}>
      {notice?.kind === 'saved' && (
        <SectionMessage appearance="success" title={notice.text} testId={`${testId}-saved`}>
          <Text as="p">The token is stored as a Forge secret; this page will not show it again.</Text>
        </SectionMessage>
      )}
      {notice?.kind === 'kept' && (
        <SectionMessage appearance="information" title={notice.text} testId={`${testId}-kept`}>
          <Text as="p">Save a token with at least what the stored one can do to replace it.</Text>
        </SectionMessage>
      )}
      {notice?.kind === 'error' && <ProblemMessage error={notice.error} testId={`${testId}-error`} />}
    </StatusRegion>
  );
}

/** When the stored token was stored and until when it works; a warning near the date, an error past it. */
function Lifetime({ lifetime, testId }: { lifetime: TokenLifetime; testId: string }) {
  const stored = `Stored ${relativeTime(lifetime.savedAt)} (${formatDateTime(lifetime.savedAt)})`;
  if (!lifetime.expiresOn || lifetime.expiresInDays === null) {
    return (
      <Text as="p" testId={testId}>
        {stored}; no expiry date was given.
      </Text>
    );
  }
  const when = daysFromToday(lifetime.expiresInDays);
  if (lifetime.level === 'expired') {
    return (
      <SectionMessage appearance="error" title={`The token expired on ${lifetime.expiresOn}, ${when}`} testId={testId}>
        <Text as="p">
          {stored}. Automatic checks, repairs and rotations wait for a new token: make one and save it here.
        </Text>
      </SectionMessage>
    );
  }
  const sentence = `${stored}, expires on ${lifetime.expiresOn}, ${when}.`;
  if (lifetime.level === 'warning') {
    return (
      <SectionMessage appearance="warning" title={`The token expires on ${lifetime.expiresOn}, ${when}`} testId={testId}>
        <Text as="p">
          {sentence} Make a new one and save it here before then: within {TOKEN_EXPIRY_WARNING_DAYS} days of the date every repository page says so too.
        </Text>
      </SectionMessage>
    );
  }
  return (
    <Text as="p" testId={testId}>
      {sentence}
    </Text>
  );
}

/** One field of the form as typed: what it is called, how the browser may fill it, and its help if any. */
export interface TokenField {
  name: 'host' | 'email' | 'token';
  label: string;
  type?: 'email' | 'password';
  autoComplete: string;
  /** Said under the field until it has an error; given the values typed, for help that follows them. */
  help?: (values: Record<string, string>) => ReactNode;
  /** Emptied once saved: the secret is never kept in the page. */
  secret?: boolean;
}

function Field({
  id,
  name,
  label,
  value,
  onChange,
  disabled,
  error,
  help,
  type,
  autoComplete,
  placeholder,
  narrow,
}: {
  id: string;
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  disabled: boolean;
  error: string | undefined;
  help: ReactNode;
  type?: 'email' | 'password';
  autoComplete: string;
  placeholder?: string;
  narrow?: boolean;
}) {
  const input = (
    <Textfield
      id={id}
      name={name}
      type={type}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      isInvalid={Boolean(error)}
      isDisabled={disabled}
      placeholder={placeholder}
      autoComplete={autoComplete}
      aria-describedby={help === undefined ? undefined : `${id}-help`}
      testId={id}
    />
  );
  return (
    <Stack space="space.050">
      <Label htmlFor={id}>{label}</Label>
      {narrow ? <Box xcss={dateStyles}>{input}</Box> : input}
      {error ? (
        <ErrorMessage testId={`${id}-error`}>{error}</ErrorMessage>
      ) : (
        help !== undefined && (
          <HelperMessage>
            <span id={`${id}-help`}>{help}</span>
          </HelperMessage>
        )
      )}
    </Stack>
  );
}

/**
 * One stored token of the workspace: its state at a glance, whose it is and until when, and (for a
 * workspace admin) the form that stores a new one or removes it. The Valohai token and the
 * Bitbucket API token differ only in their fields, their words and the call that saves them.
 */
export function TokenSection({
  kind,
  title,
  look,
  owner,
  configured,
  lifetime,
  problem,
  notices,
  instructions,
  instructionsAlways = false,
  disabled,
  formLabel,
  fields,
  initial,
  expiryHelp,
  check,
  saveLabel,
  clearTitle,
  clearConsequence,
  onCleared,
}: {
  kind: TokenKind;
  title: string;
  look: { label: string; appearance: ThemeAppearance };
  owner: string;
  configured: boolean;
  lifetime?: TokenLifetime | null;
  problem?: ResolverError | null;
  /** What else the stored token's state calls for, under its problem. */
  notices?: ReactNode;
  /** How to make a token, above the form. */
  instructions?: ReactNode;
  /** The stored token falls short: how to make one is shown even while the form is closed. */
  instructionsAlways?: boolean;
  disabled: boolean;
  formLabel: string;
  fields: TokenField[];
  initial: Record<string, string>;
  expiryHelp: string;
  /** The field errors for what is typed, and the save when there are none: it resolves to what the page says was saved. */
  check: (values: Record<string, string>) => {
    errors: Record<string, string | undefined>;
    /** `confirmWorse`: the admin chose to replace a working token with one that does less. */
    save?: (expiry: { expiresOn?: string }, confirmWorse?: boolean) => Promise<string>;
  };
  saveLabel: string;
  clearTitle: string;
  clearConsequence: string;
  onCleared: () => Promise<void>;
}) {
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.name, initial[f.name] ?? ''])));
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [confirmClear, setConfirmClear] = useState(false);
  const [fieldError, setFieldError] = useState<Record<string, string | undefined>>({});
  // The backend kept a working token that the one typed would replace with less: what it would lose.
  const [worse, setWorse] = useState<ResolverError | null>(null);
  // A stored token reads "Stored · Replace · Remove": its form stays closed until Replace is pressed.
  const [replacing, setReplacing] = useState(false);
  const formOpen = !configured || replacing;
  // Saving closes the form, and the button that had the focus goes with it: the focus moves to what the save said.
  const noticeRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (notice?.kind === 'saved') noticeRef.current?.focus();
  }, [notice]);
  // Not working or expired: replacing it is what the admin came for.
  const replaceFirst = Boolean(problem) || lifetime?.level === 'expired';

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    await submit(false);
  };

  const submit = async (confirmWorse: boolean) => {
    // A new attempt: what the last one said no longer applies.
    setNotice(null);
    setWorse(null);
    const { errors, save } = check(values);
    const expiry = expiryFieldProblem(expires, kind);
    if (expiry) errors.expiresOn = expiry;
    setFieldError(errors);
    if (Object.values(errors).some(Boolean) || !save) return;
    setBusy(true);
    try {
      const text = await save(expires.trim() ? { expiresOn: expires.trim() } : {}, confirmWorse);
      setValues((v) => ({ ...v, ...Object.fromEntries(fields.filter((f) => f.secret).map((f) => [f.name, ''])) }));
      setExpires('');
      setReplacing(false);
      setNotice({ kind: 'saved', text });
    } catch (err) {
      const error = errorDetail(err);
      // The server's word on one field goes on that field.
      if (error.field && (error.field === 'expiresOn' || fields.some((f) => f.name === error.field))) setFieldError({ [error.field]: error.message });
      else if (error.code === 'worse-token') setWorse(error);
      else setNotice({ kind: 'error', error });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby={`${kind}-heading`} testId={`${kind}-section`}>
      <Stack space="space.200">
        <Inline space="space.100" alignBlock="center">
          <Heading size="medium" as="h2" id={`${kind}-heading`}>
            {title}
          </Heading>
          <Lozenge appearance={look.appearance} testId={`${kind}-state`}>
            {look.label}
          </Lozenge>
        </Inline>
        <Text as="p" testId={`${kind}-owner`}>
          {owner}
        </Text>
        {configured && lifetime && <Lifetime lifetime={lifetime} testId={`${kind}-lifetime`} />}
        {problem && <ProblemMessage error={problem} testId={`${kind}-problem`} />}
        {notices}
        {/* Someone who cannot store a token is told who can (above), not handed a form that cannot work. */}
        {!disabled && !formOpen && instructionsAlways && instructions}
        {!disabled && configured && !replacing && (
          <Inline space="space.100" testId={`${kind}-stored-actions`}>
            <Button
              appearance={replaceFirst ? 'primary' : 'default'}
              onClick={() => {
                setNotice(null);
                setReplacing(true);
              }}
              aria-label={`Replace the ${title}`}
              testId={`${kind}-replace`}
            >
              Replace
            </Button>
            <Button onClick={() => setConfirmClear(true)} aria-label={`Remove the ${title}`} testId={`${kind}-clear`}>
              Remove
            </Button>
          </Inline>
        )}
        {!disabled && formOpen && (
          <>
            {instructions}
            <form onSubmit={onSubmit} noValidate aria-label={formLabel}>
              <Box xcss={formStyles}>
                <Stack space="space.150">
                  {fields.map((f) => (
                    <Field
                      key={f.name}
                      id={`${kind}-${f.name}`}
                      name={f.name}
                      label={f.label}
                      type={f.type}
                      value={values[f.name] ?? ''}
                      onChange={(value) => setValues((v) => ({ ...v, [f.name]: value }))}
                      disabled={busy}
                      error={fieldError[f.name]}
                      help={f.help?.(values)}
                      autoComplete={f.autoComplete}
                    />
                  ))}
                  <Field
                    id={`${kind}-expires`}
                    name="expiresOn"
                    label="Expiry date"
                    value={expires}
                    onChange={setExpires}
                    disabled={busy}
                    error={fieldError.expiresOn}
                    help={expiryHelp}
                    placeholder="YYYY-MM-DD"
                    autoComplete="off"
                    narrow
                  />
                  <Inline space="space.100">
                    <Button type="submit" appearance="primary" isLoading={busy} testId={`${kind}-save`}>
                      {saveLabel}
                    </Button>
                    {configured && (
                      <Button appearance="subtle" isDisabled={busy} onClick={() => setReplacing(false)} testId={`${kind}-replace-cancel`}>
                        Cancel
                      </Button>
                    )}
                    <ConfirmDialog
                      open={worse !== null}
                      title="Replace the stored token with one that does less?"
                      confirmLabel="Replace anyway"
                      cancelLabel="Keep the stored token"
                      onCancel={() => {
                        setWorse(null);
                        setNotice({ kind: 'kept', text: 'The stored token was kept; nothing changed.' });
                      }}
                      onConfirm={() => void submit(true)}
                      testId={`${kind}-replace-worse`}
                    >
                      {worse?.message ?? ''}
                    </ConfirmDialog>
                  </Inline>
                </Stack>
              </Box>
            </form>
          </>
        )}
      </Stack>
      <ConfirmDialog
        open={confirmClear}
        title={clearTitle}
        confirmLabel="Remove token"
        onCancel={() => setConfirmClear(false)}
        onConfirm={() => {
          setConfirmClear(false);
          setReplacing(false);
          void onCleared();
        }}
        testId={`${kind}-clear-confirm`}
      >
        {clearConsequence}
      </ConfirmDialog>
      <div ref={noticeRef} tabIndex={-1} data-testid={`${kind}-notice-focus`}>
        <NoticeView notice={notice} testId={kind} />
      </div>
    </Box>
  );
}
