/**
 * `doctor`: tests every assumption the app makes, live, with the credentials in the environment (the
 * shared check in connect/doctor.ts). Changes nothing; at most ten requests.
 * Exit status: 0 every line passed; 1 a line failed; 2 usage or configuration; 3 something unknown.
 */
import type { Command } from 'commander';
import { createFetchTransport } from '../../bitbucket/index';
import { doctor, type DoctorReport } from '../../connect/index';
import { ValohaiClient } from '../../valohai/index';
import { bitbucketConfig, ConfigError, parseRepoArg, valohaiConfig } from '../config';
import { FileConnectionStore, stateDir } from '../state';
import { guard, processIO, type CliIO, type CommonFlags } from './workflows';

function printReport(io: CliIO, report: DoctorReport, json: boolean): void {
  if (json) {
    io.stdout.json(report, 2);
  } else {
    const out: string[] = [];
    for (const line of report.lines) {
      out.push(`${line.status.padEnd(8)} ${line.title}: ${line.found}`);
      if (line.fix) out.push(`         fix: ${line.fix}`);
    }
    out.push(`${report.requests} requests (at most ${report.maxRequests}); nothing was changed.`);
    io.stdout.write(`${out.join('\n')}\n`);
  }
  const unknown = report.lines.some((l) => l.status === 'unknown');
  io.setExitCode(!report.healthy ? 1 : unknown ? 3 : 0);
}

export function registerDoctor(program: Command, io: CliIO = processIO()): void {
  program
    .command('doctor')
    .description("Check the set-up live: the tokens, their scopes and role, the clock, Valohai's routes (changes nothing, at most 10 requests)")
    .argument('[workspace/repo]', 'a repository whose access keys are read (default: the first connection recorded here)')
    .option('--project <project>', "a connected Valohai project, its id or owner/name (default: the repository's recorded connection)")
    .option('--json', 'print one JSON object on stdout')
    .option('--bitbucket-api-url <url>', 'Bitbucket API root (env BITBUCKET_API_URL)')
    .option('--valohai-host <url>', 'Valohai host (env VALOHAI_HOST)')
    .action((repoArg: string | undefined, opts: CommonFlags) =>
      guard(io, async () => {
        const bb = bitbucketConfig(io.env, opts);
        const vh = valohaiConfig(io.env, opts);
        const records = await new FileConnectionStore(stateDir(io.env)).list();
        const given = repoArg ? parseRepoArg(repoArg) : undefined;
        const repository = given ? `${given.workspace}/${given.repo}` : records[0]?.repository;
        if (!repository) {
          throw new ConfigError('doctor needs a repository (<workspace>/<repo>) to read: no connection is recorded here yet.');
        }
        const recorded = records.find((r) => r.repository.toLowerCase() === repository.toLowerCase()) ?? (given ? undefined : records[0]);
        // One request per call: no retries, so the count it reports is what was sent.
        const report = await doctor({
          bitbucket: createFetchTransport({ baseUrl: bb.apiUrl, email: bb.email, apiToken: bb.apiToken }),
          valohai: new ValohaiClient({ host: vh.host, token: vh.token, retry: { maxAttempts: 1 } }),
          valohaiHost: vh.host,
          clock: { now: () => new Date() },
          workspace: repository.split('/')[0] as string,
          repository,
          ...(opts.project ?? recorded?.projectId ? { project: (opts.project ?? recorded?.projectId) as string } : {}),
          replace: {
            bitbucket: 'then export it as BITBUCKET_API_TOKEN (with BITBUCKET_EMAIL, the email of its Atlassian account).',
            valohai: 'then export it as VALOHAI_TOKEN.',
          },
        });
        printReport(io, report, Boolean(opts.json));
      }),
    );
}
