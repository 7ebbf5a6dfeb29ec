/**
 * `check`: the health of one connection, for people and for cron jobs or pipelines.
 * Exit status: 0 healthy; 1 broken (Valohai cannot fetch what it must, or the check could not run);
 * 2 usage or configuration; 3 degraded (it works, with warnings such as key age or old keys).
 */
import type { Command } from 'commander';
import { check, type CheckResult } from '../../connect/index';
import { parseRepoArg } from '../config';
import { guard, processIO, projectFor, wire, withConnectionFlags, type CliIO, type CommonFlags } from './workflows';

const EXIT: Record<CheckResult['health'], number> = { healthy: 0, broken: 1, degraded: 3 };

function fetchLine(r: CheckResult): string {
  if (!r.fetch) return r.repairPlanned ? 'not asked to fetch (dry run)' : 'not asked to fetch';
  if (r.fetch.errors.length) return 'its fetch failed';
  return r.fetch.headSeen ? `fetched; has ${r.headCommit.slice(0, 12)}` : `fetched; lacks ${r.headCommit.slice(0, 12)}`;
}

function printCheck(io: CliIO, r: CheckResult, json: boolean): void {
  if (json) {
    // What the check read on its way is for a caller that acts on it; the report is the rest.
    const { listings: _listings, verdicts: _verdicts, ...report } = r;
    io.stdout.json(report, 2);
  } else {
    const out = [
      `Repository:   ${r.repository}, ${r.ref} at ${r.headCommit}`,
      `Valohai:      ${r.projectName}, ${fetchLine(r)}`,
      `Key age:      ${r.keyAgeDays === null ? 'unknown' : r.keyAgeDays === 0 ? 'today' : `${r.keyAgeDays} days`}`,
      `Health:       ${r.health}`,
    ];
    if (r.repairPlanned) out.push('Dry run: nothing was changed.');
    for (const x of r.repairPlanned ?? []) out.push(`would repair: put the connection's key back on ${x}`);
    for (const x of r.repaired) out.push(`repaired: the connection's key is back on ${x.repository} (key ${x.keyId})`);
    for (const f of r.findings) out.push(`${f.severity === 'broken' ? 'broken' : 'warning'}: ${f.message}`);
    io.stdout.write(`${out.join('\n')}\n`);
  }
  io.setExitCode(EXIT[r.health]);
}

export function registerCheck(program: Command, io: CliIO = processIO()): void {
  withConnectionFlags(
    program
      .command('check')
      .description("Check that the connection works: the key on every repository, Valohai's fetch, the head commit seen, the key's age")
      .argument('<repository>', 'the Bitbucket repository: acme/ml-models, or its URL'),
  )
    .option('--repair', "put the connection's own public key back where it is missing (no new key; nothing removed)")
    .option('--dry-run', 'change nothing: Valohai is not asked to fetch, and with --repair the keys it would put back are named')
    .action((repoArg: string, opts: CommonFlags & { repair?: boolean; dryRun?: boolean }) =>
      guard(io, async () => {
        const repo = parseRepoArg(repoArg);
        const deps = wire(io, opts);
        const project = await projectFor(io, `${repo.workspace}/${repo.repo}`, opts.project, 'check');
        const result = await check(deps, { ...repo, project, repair: Boolean(opts.repair), dryRun: Boolean(opts.dryRun) });
        printCheck(io, result, Boolean(opts.json));
      }),
    );
}
