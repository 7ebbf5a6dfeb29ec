/**
 * Access-key labels. A label starts with "Valohai", names the Valohai project and the date, and ends with
 * a marker derived from the project id, so status, rotate and disconnect find this connection's keys
 * and never touch another connection's (a shared label once let one installation overwrite another's).
 *
 * The app and the CLI keep separate records, so each must tell the other's keys from its own: the CLI
 * writes "cli" between the date and the marker (`Valohai ml-models 2026-05-01 cli [vh:…]`), the app
 * writes nothing there. Labels written before the word existed read as the app's: they are recognised,
 * and whose they are is then a question only a record answers.
 */

const MARKER = /\[vh:([0-9a-z]{12})\]\s*$/i;
/** Any label of the app's shape (`Valohai … [vh:xxxxxxxxxxxx]`), whatever the project and the case. */
const APP_LABEL = /^Valohai\b.*\[vh:[0-9a-z]{12}\]\s*$/i;
/** The CLI's word, after the date the label carries (the project name comes before the date, so it cannot fake it). */
const CLI_WORD = /\s\d{4}-\d{2}-\d{2} cli \[vh:[0-9a-z]{12}\]\s*$/i;

/** Who writes a label: the app (Forge), or the CLI. */
export type LabelMaker = 'app' | 'cli';

/** Twelve characters of the project id: unique per project, short enough for Bitbucket's label field. */
export function projectMarker(projectId: string): string {
  const compact = projectId.toLowerCase().replace(/[^0-9a-z]/g, '');
  return compact.padEnd(12, '0').slice(0, 12);
}

export function accessKeyLabel(projectName: string, projectId: string, date: Date, maker: LabelMaker = 'app'): string {
  const day = date.toISOString().slice(0, 10);
  const name = projectName.replace(/[\r\n[\]]/g, ' ').trim().slice(0, 60);
  return `Valohai ${name} ${day}${maker === 'cli' ? ' cli' : ''} [vh:${projectMarker(projectId)}]`;
}

/**
 * True when the label is shaped like one this app writes, for any project, whoever wrote it (the app or
 * the CLI). A shape proves nothing about who wrote it: such a key is reported, never trusted, unless a
 * connection recorded its public key.
 */
export function looksLikeAppLabel(label: string): boolean {
  return APP_LABEL.test(label);
}

/**
 * Who the label says wrote it: 'cli' for the CLI's word, 'app' for any other label of the shape (the
 * app's, and every label written before the CLI had a word of its own), undefined for any other label.
 * What a label says is a claim, not proof.
 */
export function labelMaker(label: string): LabelMaker | undefined {
  if (!APP_LABEL.test(label)) return undefined;
  return CLI_WORD.test(label) ? 'cli' : 'app';
}

/** The project marker a label of the shape carries, or undefined. */
export function labelProjectMarker(label: string): string | undefined {
  if (!APP_LABEL.test(label)) return undefined;
  return MARKER.exec(label)?.[1]?.toLowerCase();
}

/** True when the label was written by this app for this Valohai project. */
export function isLabelFor(label: string, projectId: string): boolean {
  if (!label.startsWith('Valohai')) return false;
  const m = MARKER.exec(label);
  return m !== null && (m[1] as string).toLowerCase() === projectMarker(projectId);
}
