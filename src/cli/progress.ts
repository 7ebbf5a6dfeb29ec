/**
 * Progress on stderr: each step once, as it ends, on a terminal; nothing in a pipe (stdout stays for
 * results and --json). Colour only on a terminal and never with NO_COLOR. A step's start is not a line
 * of its own: steps run side by side (a key added to several repositories at once), so a start line
 * could not be replaced by its end, and printing both showed every step twice.
 */
import type { ProgressEvent, ProgressSink } from '../connect/index';
import type { Screen } from './screen';

export function useColour(stream: Screen, env: Record<string, string | undefined>): boolean {
  return stream.isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

const MARKS: Record<ProgressEvent['status'], string> = {
  running: '…',
  done: '✓',
  failed: '✗',
  undone: '↺',
  skipped: '-',
};
const COLOURS: Record<ProgressEvent['status'], string> = {
  running: '\x1b[2m',
  done: '\x1b[32m',
  failed: '\x1b[31m',
  undone: '\x1b[33m',
  skipped: '\x1b[2m',
};

export function terminalProgress(stream: Screen, env: Record<string, string | undefined>): ProgressSink {
  if (!stream.isTTY) return () => {};
  const colour = useColour(stream, env);
  return (event) => {
    if (event.status === 'running') return;
    const mark = MARKS[event.status];
    const line = `${mark} ${event.message}`;
    if (colour) {
      stream.styled(COLOURS[event.status], line);
      stream.write('\n');
    } else {
      stream.write(`${line}\n`);
    }
  };
}
