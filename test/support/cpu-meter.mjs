// Loaded into each test file's process by scripts/run-tests.mjs (`--import`). When the process ends it
// adds its CPU time to VB_TEST_WORK/cpu.jsonl: its own and that of every process it started and waited
// for (git, ssh, Chromium, the CLI, the bundlers). On a shared machine a file's wall clock says how busy
// the machine was as much as what the file costs; its CPU seconds say what it costs. Linux only (it
// reads /proc); elsewhere nothing is written.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Linux counts process times in clock ticks of 1/100 s (USER_HZ). */
const MS_PER_TICK = 10;

const work = process.env.VB_TEST_WORK;
const file = process.argv[1];
// Only the processes Node's test runner starts for a file, not the runner itself.
if (work && file && process.env.NODE_TEST_CONTEXT) {
  process.on('exit', () => {
    try {
      const stat = readFileSync('/proc/self/stat', 'utf8');
      // After "pid (comm) ": state is field 3, so utime (14), stime, cutime, cstime (17) are at 11 to 14.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
      if (Number.isFinite(ticks)) appendFileSync(join(work, 'cpu.jsonl'), `${JSON.stringify({ file, ms: ticks * MS_PER_TICK })}\n`);
    } catch {
      // no /proc: no CPU column
    }
  });
}
