/**
 * Access-key labels. A label starts with "Valohai", names the Valohai project and the date, and ends with
 * a marker derived from the project id, so status, rotate and disconnect find this connection's keys
 * and never touch another connection's (a shared label once let one installation overwrite another's).
 */

const MARKER = /\[vh:([0-9a-z]{12})\]\s*$/i;
/** Any label of the app's shape (`Valohai … [vh:xxxxxxxxxxxx]`), whatever the project and the case. */
const APP_LABEL = /^Valohai\b.*\[vh:[0-9a-z]{12}\]\s*$/i;

/** Twelve characters of the project id: unique per project, short enough for Bitbucket's label field. */
export function projectMarker(projectId: string): string {
  const compact = projectId.toLowerCase().replace(/[^0-9a-z]/g, '');
  return compact.padEnd(12, '0').slice(0, 12);
}

export function accessKeyLabel(projectName: string, projectId: string, date: Date): string {
  const day = date.toISOString().slice(0, 10);
  const name = projectName.replace(/[\r\n[\]]/g, ' ').trim().slice(0, 60);
  return `Valohai ${name} ${day} [vh:${projectMarker(projectId)}]`;
}

/**
 * True when the label is shaped like one this app writes, for any project. A shape proves nothing about
 * who wrote it: such a key is reported, never trusted, unless a connection recorded its public key.
 */
export function looksLikeAppLabel(label: string): boolean {
  return APP_LABEL.test(label);
}

/** True when the label was written by this app for this Valohai project. */
export function isLabelFor(label: string, projectId: string): boolean {
  if (!label.startsWith('Valohai')) return false;
  const m = MARKER.exec(label);
  return m !== null && (m[1] as string).toLowerCase() === projectMarker(projectId);
}
