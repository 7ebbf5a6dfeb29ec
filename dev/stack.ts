/**
 * All three stand-ins wired together: the Bitbucket API emulator over real bare repos, the SSH git host
 * that reads the emulator's access keys live, and the Valohai emulator whose fetch runs real git over
 * SSH against that host. Used by `npm start`, by end-to-end tests and by the benchmarks.
 */
import { BITBUCKET_HOST, parseRepoUrl, type ParsedRepoUrl } from '../src/git/index';
import { startBitbucketEmulator, type BitbucketState } from './bitbucket/index';
import { demoBitbucketCredentials, demoSeed, type BuiltSeed, type Seed } from './seed/index';
import { startSshGitHost, type SshGitHost } from './ssh-host/index';
import { demoValohaiCredentials, demoValohaiSeed, startValohaiEmulator, type HttpsRepositoryLookup, type ValohaiApiSettings, type ValohaiSeed } from './valohai/index';

export interface StackOptions {
  seed?: Seed;
  /** A world built beforehand (e.g. buildFleetSeed): served instead of `seed`, and removed on close. */
  built?: BuiltSeed;
  valohaiSeed?: ValohaiSeed;
  /** Where the Valohai stand-in's API differs from the default (repository field names, PATCH refused). */
  valohaiApi?: Partial<ValohaiApiSettings>;
  rateLimitPerHour?: number;
  /** Milliseconds the Bitbucket emulator holds a request before answering 429. */
  rateLimitHoldMs?: number;
  /** The Bitbucket emulator's clock (its rate limit's hour, key timestamps); default the real one. */
  bitbucketClock?: () => Date;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** What anonymous https finds on bitbucket.org: the emulator's repository, public or private, or nothing. */
export function bitbucketHttpsRepositories(state: Pick<BitbucketState, 'findRepo'>): HttpsRepositoryLookup {
  const parse = (url: string): ParsedRepoUrl | undefined => {
    try {
      return parseRepoUrl(url);
    } catch {
      return undefined;
    }
  };
  return (url) => {
    const parsed = parse(url);
    if (!parsed || parsed.protocol !== 'https' || parsed.host !== BITBUCKET_HOST || (parsed.port ?? 443) !== 443) return undefined;
    if (parsed.workspace === undefined || parsed.slug === undefined) return undefined;
    const repo = state.findRepo(parsed.workspace, parsed.slug);
    return repo ? { path: repo.path, isPrivate: repo.isPrivate } : undefined;
  };
}

export async function startStack(options: StackOptions = {}) {
  if (options.built && options.bitbucketClock) options.built.state.clock = options.bitbucketClock;
  const bitbucket = await startBitbucketEmulator({
    seed: options.built?.state ?? options.seed ?? demoSeed,
    rateLimitPerHour: options.rateLimitPerHour,
    ...(options.rateLimitHoldMs ? { rateLimitHoldMs: options.rateLimitHoldMs } : {}),
    ...(options.bitbucketClock ? { clock: options.bitbucketClock } : {}),
  }).catch(async (err: unknown) => {
    await options.built?.cleanup();
    throw err;
  });
  let ssh: SshGitHost | undefined;
  try {
    const state = bitbucket.state;
    ssh = await startSshGitHost({
      directory: state,
      repositories: () => state.repos.map((r) => ({ workspace: r.workspace.slug, slug: r.slug })),
    });
    const valohai = await startValohaiEmulator({
      seed: options.valohaiSeed ?? demoValohaiSeed,
      ssh: ssh.endpoint(),
      httpsRepository: bitbucketHttpsRepositories(state),
      ...(options.valohaiApi ? { api: options.valohaiApi } : {}),
    });
    const sshHost = ssh;
    return {
      bitbucket,
      ssh: sshHost,
      valohai,
      /** Environment for the CLI, acting as the demo admin. */
      env: {
        BITBUCKET_API_URL: bitbucket.url,
        BITBUCKET_EMAIL: demoBitbucketCredentials.admin.email,
        BITBUCKET_API_TOKEN: demoBitbucketCredentials.admin.token,
        VALOHAI_HOST: valohai.url,
        VALOHAI_TOKEN: demoValohaiCredentials.admin.token,
      },
      async close() {
        await valohai.close();
        await sshHost.close();
        await bitbucket.close();
        await options.built?.cleanup();
      },
    };
  } catch (err) {
    await ssh?.close();
    await bitbucket.close();
    await options.built?.cleanup();
    throw err;
  }
}
