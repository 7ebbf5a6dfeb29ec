/**
 * `audit <workspace>`: every access key on every repository of the workspace, as a table, JSON or CSV.
 * Exit status: 0 nothing to look at; 3 findings (unused, weak, shared or lookalike keys); 1 some
 * repository's keys could not be read (or the workspace could not be listed); 2 usage or configuration.
 */
import type { Command } from 'commander';
import { audit, auditCsv, DEFAULT_UNUSED_DAYS, type AuditResult } from '../../connect/audit';
import { ConfigError } from '../config';
import { FileConnectionStore, stateDir } from '../state';
import { bitbucketOf, guard, processIO, type CliIO, type CommonFlags } from './workflows';

const FINDING_WORDS: Record<string, string> = {
  unused: 'unused',
  weak: 'weak',
  shared: 'same key elsewhere',
  lookalike: "labelled like this app's, not recorded",
};

function printAudit(io: CliIO, r: AuditResult, format: 'text' | 'json' | 'csv'): void {
  if (format === 'json') io.stdout.json(r, 2);
  else if (format === 'csv') io.stdout.write(auditCsv(r));
  else {
    const out = [`Workspace ${r.workspace}: ${r.repositories} repositories, ${r.keys.length} access keys (unused means no use for ${r.unusedDays} days).`];
    for (const k of r.keys) {
      const size = k.bits === null ? k.type : `${k.type} ${k.bits}`;
      const owner = k.connection ? `Valohai ${k.connection.projectName}${k.connection.current ? '' : ', retired'}` : 'no connection';
      const notes = k.findings.length ? `  [${k.findings.map((f) => FINDING_WORDS[f] ?? f).join(', ')}]` : '';
      out.push(`  ${k.repository}  key ${k.id}  ${size}  ${k.fingerprint}  ${k.ageDays ?? '?'} days, last used ${k.lastUsed ?? 'never'}  ${owner}  "${k.label}"${notes}`);
    }
    io.stdout.write(`${out.join('\n')}\n`);
  }
  for (const u of r.unreadable) io.stderr.write(`not read: ${u.repository}: ${u.error}\n`);
  io.setExitCode(r.unreadable.length ? 1 : r.keys.some((k) => k.findings.length) ? 3 : 0);
}

export function registerAudit(program: Command, io: CliIO = processIO()): void {
  program
    .command('audit')
    .description('List every access key on every repository of a workspace, with its age, use, owner and what needs a look')
    .argument('<workspace>', 'the Bitbucket workspace, e.g. acme')
    .option('--json', 'print one JSON object on stdout')
    .option('--csv', 'print CSV on stdout (one row per access key)')
    .option('--unused-days <days>', 'a key not used for this many days is "unused"', String(DEFAULT_UNUSED_DAYS))
    .option('--bitbucket-api-url <url>', 'Bitbucket API root (env BITBUCKET_API_URL)')
    .action((workspace: string, opts: CommonFlags & { csv?: boolean; unusedDays: string }) =>
      guard(io, async () => {
        if (!/^[A-Za-z0-9_.-]+$/.test(workspace)) throw new ConfigError(`"${workspace}" is not a workspace name: give the workspace's slug, e.g. acme.`);
        if (opts.json && opts.csv) throw new ConfigError('Choose one of --json and --csv.');
        const unusedDays = Number(opts.unusedDays);
        if (!Number.isInteger(unusedDays) || unusedDays < 1) throw new ConfigError(`--unused-days must be a whole number of days, not "${opts.unusedDays}".`);
        const store = new FileConnectionStore(stateDir(io.env));
        const result = await audit({ bitbucket: bitbucketOf(io, opts), connections: () => store.list() }, { workspace, unusedDays });
        printAudit(io, result, opts.json ? 'json' : opts.csv ? 'csv' : 'text');
      }),
    );
}
