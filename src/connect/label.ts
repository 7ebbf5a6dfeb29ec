/**
 * Access-key labels. A label starts with "Valohai", names the Valohai project and the date, and ends with
 * a marker derived from the project id, so status, rotate and disconnect find this connection's keys
 * and never touch another connection's (a shared label once let one installation overwrite another's).
 */

const MARKER = /\[vh:([0-9a-z]{12})\]\s*$/i;

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

/** True when the label was written by this app for this Valohai project. */
export function isLabelFor(label: string, projectId: string): boolean {
  if (!label.startsWith('Valohai')) return false;
  const m = MARKER.exec(label);
  return m !== null && (m[1] as string).toLowerCase() === projectMarker(projectId);
}
