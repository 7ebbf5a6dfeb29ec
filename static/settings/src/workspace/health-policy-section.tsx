import { useState, type FormEvent } from 'react';
import Button from '@atlaskit/button/new';
import { ErrorMessage, Fieldset, HelperMessage, Label } from '@atlaskit/form';
import Heading from '@atlaskit/heading';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';
import { RadioGroup } from '@atlaskit/radio';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import {
  FIELD_NAMES,
  HEALTH_POLICY_LIMITS,
  type AutomationView,
  type HealthPolicyView,
  type ResolverError,
} from '../../../../src/forge/contract';
import { call, errorDetail } from '../api';
import { formatDateTime, plural, relativeTime } from '../format';
import { LinkedText } from '../components/linked-text';
import { ProblemMessage } from '../components/problem-message';
import { StatusRegion } from '../components/status-region';
import { formStyles, sectionStyles } from '../styles';

const numberStyles = xcss({ maxWidth: '160px' });

type NumberField = 'autoRotate.everyDays' | 'autoRotate.perDay' | 'unusedDays';
const NUMBER_FIELDS: readonly NumberField[] = ['autoRotate.everyDays', 'autoRotate.perDay', 'unusedDays'];
const limitsOf: Record<NumberField, { min: number; max: number }> = {
  'autoRotate.everyDays': HEALTH_POLICY_LIMITS.everyDays,
  'autoRotate.perDay': HEALTH_POLICY_LIMITS.perDay,
  unusedDays: HEALTH_POLICY_LIMITS.unusedDays,
};
const idOf: Record<NumberField, string> = {
  'autoRotate.everyDays': 'policy-every-days',
  'autoRotate.perDay': 'policy-per-day',
  unusedDays: 'policy-unused-days',
};

/** The same rule the resolver applies (HEALTH_POLICY_LIMITS), in the same words, before anything is sent. */
function numberProblem(field: NumberField, text: string): string | null {
  const { min, max } = limitsOf[field];
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    return `${FIELD_NAMES[field]} must be a whole number from ${min} to ${max}.`;
  }
  return null;
}

function policySentences(policy: HealthPolicyView): string[] {
  return [
    policy.drift === 'repair'
      ? 'A key removed by hand is put back, and a submodule repository added later gets the key.'
      : 'A key removed by hand, or a submodule repository added later, is only reported.',
    policy.unneededKeys === 'remove' ? 'Keys no connection needs any more are removed.' : 'Keys no connection needs any more are listed for removal.',
    policy.autoRotate.enabled
      ? `Keys are rotated automatically every ${plural(policy.autoRotate.everyDays, 'day')}, at most ${plural(policy.autoRotate.perDay, 'connection')} a day.`
      : 'Keys are not rotated automatically.',
    `A key unused for ${plural(policy.unusedDays, 'day')} is listed.`,
  ];
}

function Automation({ automation, perDay }: { automation: AutomationView; perDay: number | null }) {
  return (
    <Stack space="space.100" testId="automation">
      {automation.paused && (
        <SectionMessage appearance="warning" title="Automatic checks are paused" testId="automation-paused">
          <Stack space="space.100">
            <Text as="p">
              <LinkedText text={automation.paused.reason} />
            </Text>
            <Text as="p">
              <LinkedText text={automation.paused.fix} />
            </Text>
          </Stack>
        </SectionMessage>
      )}
      <Text as="p" testId="automation-runs">
        {automation.lastRunAt
          ? `The scheduled check last ran ${relativeTime(automation.lastRunAt)} (${formatDateTime(automation.lastRunAt)}): it checked ${plural(
              automation.lastRunChecked,
              'connection',
            )}${automation.lastRunDeferred ? ` and left ${automation.lastRunDeferred} for the next run` : ''}.`
          : 'The scheduled check has not run yet.'}{' '}
        {automation.nextRunAt
          ? `Next run ${relativeTime(automation.nextRunAt)} (${formatDateTime(automation.nextRunAt)}).`
          : automation.paused
            ? 'No run is scheduled while it is paused.'
            : ''}
      </Text>
      <Text as="p" testId="automation-rotations">
        {perDay === null
          ? `Automatic rotation is off${automation.rotationsToday ? `; ${plural(automation.rotationsToday, 'rotation')} started today` : ''}.`
          : `Automatic rotations today: ${automation.rotationsToday} of at most ${perDay}.`}
      </Text>
    </Stack>
  );
}

function NumberInput(props: {
  field: NumberField;
  label: string;
  value: string;
  onChange: (value: string) => void;
  disabled: boolean;
  error?: string;
  help: string;
}) {
  const id = idOf[props.field];
  return (
    <Stack space="space.050">
      <Label htmlFor={id}>{props.label}</Label>
      <Box xcss={numberStyles}>
        <Textfield
          id={id}
          name={props.field}
          type="number"
          min={limitsOf[props.field].min}
          max={limitsOf[props.field].max}
          value={props.value}
          onChange={(e) => props.onChange(e.currentTarget.value)}
          isInvalid={Boolean(props.error)}
          isDisabled={props.disabled}
          aria-describedby={`${id}-help`}
          testId={id}
        />
      </Box>
      {props.error ? (
        <ErrorMessage testId={`${id}-error`}>{props.error}</ErrorMessage>
      ) : (
        <HelperMessage>
          <span id={`${id}-help`}>{props.help}</span>
        </HelperMessage>
      )}
    </Stack>
  );
}

/**
 * How connections look after themselves: drift repair, unneeded keys, automatic rotation and the
 * unused-key age, with when the scheduled checks ran. Workspace admins change it; others read it.
 */
export function HealthPolicySection({
  policy,
  automation,
  disabled,
  onSaved,
}: {
  policy: HealthPolicyView;
  automation: AutomationView;
  disabled: boolean;
  onSaved: (policy: HealthPolicyView) => void;
}) {
  const [drift, setDrift] = useState(policy.drift);
  const [unneeded, setUnneeded] = useState(policy.unneededKeys);
  const [rotate, setRotate] = useState(policy.autoRotate.enabled);
  const [numbers, setNumbers] = useState<Record<NumberField, string>>({
    'autoRotate.everyDays': String(policy.autoRotate.everyDays),
    'autoRotate.perDay': String(policy.autoRotate.perDay),
    unusedDays: String(policy.unusedDays),
  });
  const [fieldError, setFieldError] = useState<Partial<Record<NumberField, string>>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ResolverError | null>(null);
  const [saved, setSaved] = useState(false);
  const setNumber = (field: NumberField) => (value: string) => setNumbers((n) => ({ ...n, [field]: value }));

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    // The rotation fields count only while rotation is on: otherwise the stored values go back unchanged.
    const checked = NUMBER_FIELDS.filter((f) => rotate || f === 'unusedDays');
    const errors: Partial<Record<NumberField, string>> = {};
    for (const field of checked) {
      const problem = numberProblem(field, numbers[field]);
      if (problem) errors[field] = problem;
    }
    setFieldError(errors);
    if (Object.keys(errors).length) return;
    setBusy(true);
    try {
      const next = await call('saveHealthPolicy', {
        drift,
        unneededKeys: unneeded,
        autoRotate: {
          enabled: rotate,
          everyDays: rotate ? Number(numbers['autoRotate.everyDays']) : policy.autoRotate.everyDays,
          perDay: rotate ? Number(numbers['autoRotate.perDay']) : policy.autoRotate.perDay,
        },
        unusedDays: Number(numbers.unusedDays),
      });
      setSaved(true);
      onSaved(next);
    } catch (err) {
      const detail = errorDetail(err);
      // The server's word on one field goes on that field.
      if (detail.field && (NUMBER_FIELDS as readonly string[]).includes(detail.field)) setFieldError({ [detail.field]: detail.message });
      else setError(detail);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="section" xcss={sectionStyles} aria-labelledby="policy-heading" testId="policy-section">
      <Stack space="space.200">
        <Heading size="medium" as="h2" id="policy-heading">
          Looking after connections
        </Heading>
        <Text as="p">
          A scheduled check looks at every connection each day, and each push to a connected repository checks it too: whether each
          repository still has the key, whether Valohai can fetch, how old the key is and which keys are no longer needed.
        </Text>
        <Automation automation={automation} perDay={policy.autoRotate.enabled ? policy.autoRotate.perDay : null} />
        {disabled ? (
          <Box as="ul" testId="policy-summary">
            {policySentences(policy).map((s) => (
              <li key={s}>{s}</li>
            ))}
          </Box>
        ) : (
          <form onSubmit={onSubmit} noValidate aria-label="Looking after connections">
            <Box xcss={formStyles}>
              <Stack space="space.200">
                <Fieldset legend="When a key goes missing or a submodule repository is added">
                  <RadioGroup
                    name="drift"
                    value={drift}
                    isDisabled={busy}
                    onChange={(e) => setDrift(e.currentTarget.value as HealthPolicyView['drift'])}
                    options={[
                      { name: 'drift', value: 'repair', label: 'Put the key there', testId: 'policy-drift-repair' },
                      { name: 'drift', value: 'alert', label: 'Only tell me', testId: 'policy-drift-alert' },
                    ]}
                  />
                </Fieldset>
                <Fieldset legend="Keys no connection needs any more">
                  <RadioGroup
                    name="unneeded"
                    value={unneeded}
                    isDisabled={busy}
                    onChange={(e) => setUnneeded(e.currentTarget.value as HealthPolicyView['unneededKeys'])}
                    options={[
                      { name: 'unneeded', value: 'offer', label: 'List them with a Remove button', testId: 'policy-unneeded-offer' },
                      { name: 'unneeded', value: 'remove', label: 'Remove them', testId: 'policy-unneeded-remove' },
                    ]}
                  />
                </Fieldset>
                <Fieldset legend="Automatic rotation">
                  <RadioGroup
                    name="rotate"
                    value={rotate ? 'on' : 'off'}
                    isDisabled={busy}
                    onChange={(e) => setRotate(e.currentTarget.value === 'on')}
                    options={[
                      { name: 'rotate', value: 'off', label: 'Off: admins rotate keys themselves', testId: 'policy-rotate-off' },
                      { name: 'rotate', value: 'on', label: 'On: a new key replaces an old one with no break', testId: 'policy-rotate-on' },
                    ]}
                  />
                </Fieldset>
                <NumberInput
                  field="autoRotate.everyDays"
                  label="Rotate keys this many days old"
                  value={numbers['autoRotate.everyDays']}
                  onChange={setNumber('autoRotate.everyDays')}
                  disabled={busy || !rotate}
                  error={fieldError['autoRotate.everyDays']}
                  help={`From ${HEALTH_POLICY_LIMITS.everyDays.min} to ${HEALTH_POLICY_LIMITS.everyDays.max} days.`}
                />
                <NumberInput
                  field="autoRotate.perDay"
                  label="At most this many rotations a day"
                  value={numbers['autoRotate.perDay']}
                  onChange={setNumber('autoRotate.perDay')}
                  disabled={busy || !rotate}
                  error={fieldError['autoRotate.perDay']}
                  help={`From ${HEALTH_POLICY_LIMITS.perDay.min} to ${HEALTH_POLICY_LIMITS.perDay.max}, across the workspace.`}
                />
                <NumberInput
                  field="unusedDays"
                  label="List a key unused for this many days"
                  value={numbers.unusedDays}
                  onChange={setNumber('unusedDays')}
                  disabled={busy}
                  error={fieldError.unusedDays}
                  help={`From ${HEALTH_POLICY_LIMITS.unusedDays.min} to ${HEALTH_POLICY_LIMITS.unusedDays.max} days.`}
                />
                <Inline space="space.100">
                  <Button type="submit" appearance="primary" isLoading={busy} testId="policy-save">
                    Save
                  </Button>
                </Inline>
              </Stack>
            </Box>
          </form>
        )}
      </Stack>
      <StatusRegion testId="policy-status">
        {saved && (
          <SectionMessage appearance="success" title="Saved how connections look after themselves" testId="policy-saved">
            <Text as="p">The next check of each connection follows it.</Text>
          </SectionMessage>
        )}
        {error && <ProblemMessage error={error} testId="policy-error" />}
      </StatusRegion>
    </Box>
  );
}
