/**
 * The set-up check: every assumption the app makes about the credentials and the two services,
 * tested live, each as one line that says pass, fail or unknown (or information), what it found and
 * the fix. The CLI's `doctor` and the workspace page's "Check the set-up" both run this. It changes
 * nothing: Bitbucket gets reads and the scope probe (which aims at a repository that does not exist),
 * Valohai gets reads and OPTIONS. The fetch is deliberately NOT triggered: it runs git and adds commits
 * to the project, so its route is only asked to describe itself. At most MAX_DOCTOR_REQUESTS requests,
 * counted as they are sent; a check that would go over is reported unknown instead.
 */
import {
  API_TOKEN_URL,
  BITBUCKET_TOKEN_SCOPES,
  countAccessKeys,
  probeAccessKeyScopes,
  tokenAdministersWorkspace,
  type BitbucketResponse,
  type BitbucketTransport,
} from '../bitbucket/index';
import { describeVerdict, judgeRepositoryWrite, KEY_MADE_IN_VALOHAI, type RepositoryWriteMetadata } from '../valohai/index';
import { messageOf } from './explain';
import type { Clock, ValohaiCommitInfo, ValohaiProjectInfo } from './ports';

export const MAX_DOCTOR_REQUESTS = 10;
/** A clock further off Bitbucket's than this fails: key ages and token expiry are counted with it. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export type DoctorStatus = 'pass' | 'fail' | 'unknown' | 'info';

export type DoctorCheck =
  | 'bitbucket-token'
  | 'bitbucket-scopes'
  | 'bitbucket-admin'
  | 'bitbucket-access-keys'
  | 'bitbucket-rate-limit'
  | 'clock'
  | 'valohai-egress'
  | 'valohai-host'
  | 'valohai-token'
  | 'valohai-repository-write'
  | 'valohai-commits'
  | 'valohai-fetch';

export interface DoctorLine {
  check: DoctorCheck;
  /** What was checked, in a few words. */
  title: string;
  status: DoctorStatus;
  /** What the check found. */
  found: string;
  /** What to do about it; absent on a pass. */
  fix?: string;
}

export interface DoctorReport {
  lines: DoctorLine[];
  /** Requests sent to Bitbucket and Valohai together. */
  requests: number;
  maxRequests: number;
  /** No line failed. */
  healthy: boolean;
}

/** The Valohai calls the check makes; each is one request (give a client that does not retry). ValohaiClient fits. */
export interface DoctorValohai {
  projectsPage(limit?: number): Promise<{ count: number; projects: ValohaiProjectInfo[] }>;
  getProject(id: string): Promise<ValohaiProjectInfo>;
  repositoryMetadata(repositoryId: number): Promise<RepositoryWriteMetadata>;
  listCommits(projectId: string, limit?: number): Promise<ValohaiCommitInfo[]>;
  fetchRouteMetadata(projectId: string): Promise<{ status: number; allow: string[] }>;
}

export interface DoctorInput {
  /** Bitbucket with the credentials to check (the stored or given API token), not retrying. */
  bitbucket: BitbucketTransport;
  valohai: DoctorValohai;
  /** `https://host` as configured. */
  valohaiHost: string;
  clock: Clock;
  /** The Bitbucket workspace: slug or `{uuid}`. */
  workspace: string;
  /** A repository whose access keys are read (`workspace/slug`); absent: that line is unknown. */
  repository?: string;
  /** A connected Valohai project (id, or owner/name); absent: the project's lines are unknown. */
  project?: string;
  /** Where the platform limits outbound calls (Forge's egress): the origins allowed and how to add one. */
  egress?: { allowed: readonly string[]; fix: string };
  /** How to replace each credential where this check runs (the page's form, the CLI's variables). */
  replace: { bitbucket: string; valohai: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Requests allowed (a check asks before each request it makes; Bitbucket's are set aside first, so
 * Valohai's checks take what is left) and requests actually sent, counted where they go out.
 */
class Budget {
  allotted = 0;
  sent = 0;
  take(n = 1): boolean {
    if (this.allotted + n > MAX_DOCTOR_REQUESTS) return false;
    this.allotted += n;
    return true;
  }
}

const overBudget = (check: DoctorCheck, title: string): DoctorLine => ({
  check,
  title,
  status: 'unknown',
  found: `Not checked: the set-up check makes at most ${MAX_DOCTOR_REQUESTS} requests and had spent them.`,
  fix: 'Run the check again for the rest, or check this by hand.',
});

/** What Bitbucket's answers carried that the check reads besides their bodies. */
interface Seen {
  date?: { header: string; receivedAt: Date };
  rateLimit: Record<string, string>;
}

function observing(transport: BitbucketTransport, clock: Clock, seen: Seen, budget: Budget): BitbucketTransport {
  return {
    ...(transport.baseUrl !== undefined ? { baseUrl: transport.baseUrl } : {}),
    request: async (req) => {
      budget.sent++;
      const res: BitbucketResponse = await transport.request(req);
      if (!seen.date && res.headers.date) seen.date = { header: res.headers.date, receivedAt: clock.now() };
      for (const [name, value] of Object.entries(res.headers)) if (name.startsWith('x-ratelimit-')) seen.rateLimit[name] = value;
      return res;
    },
  };
}

async function bitbucketLines(input: DoctorInput, budget: Budget): Promise<DoctorLine[]> {
  const seen: Seen = { rateLimit: {} };
  const t = observing(input.bitbucket, input.clock, seen, budget);
  const newToken = `Create an API token with scopes at ${API_TOKEN_URL} (app Bitbucket) ticking ${BITBUCKET_TOKEN_SCOPES.join(', ')}; ${input.replace.bitbucket}`;
  const lines: DoctorLine[] = [];
  // The scope probe (four requests) and the token's role (one), side by side; allotted by doctor().
  const [probe, admin] = await Promise.all([probeAccessKeyScopes(t, input.workspace), tokenAdministersWorkspace(t, input.workspace)]);

  const tokenTitle = 'Bitbucket API token';
  if (probe.kind === 'refused') {
    lines.push({ check: 'bitbucket-token', title: tokenTitle, status: 'fail', found: 'Bitbucket did not accept the email and API token (401): the pair is wrong, or the token expired or was revoked.', fix: newToken });
  } else if (probe.kind === 'unanswered') {
    lines.push({ check: 'bitbucket-token', title: tokenTitle, status: 'unknown', found: 'Bitbucket did not answer.', fix: 'Check the network (proxy, firewall) and the Bitbucket API address, then run the check again.' });
  } else {
    lines.push({ check: 'bitbucket-token', title: tokenTitle, status: 'pass', found: 'Bitbucket accepted the email and API token.' });
  }

  const scopesTitle = 'Token scopes';
  if (probe.kind === 'answered') {
    const missing = BITBUCKET_TOKEN_SCOPES.filter((s) => probe.missing.has(s));
    lines.push(
      missing.length
        ? { check: 'bitbucket-scopes', title: scopesTitle, status: 'fail', found: `The token lacks ${missing.join(', ')}.`, fix: `A token's scopes cannot be changed. ${newToken}` }
        : { check: 'bitbucket-scopes', title: scopesTitle, status: 'pass', found: `The token has ${BITBUCKET_TOKEN_SCOPES.join(', ')} (probed on a repository that does not exist; nothing changed).` },
    );
  } else {
    lines.push({ check: 'bitbucket-scopes', title: scopesTitle, status: 'unknown', found: 'Not known: Bitbucket did not accept the token or did not answer.', fix: 'Fix the token first.' });
  }

  const adminTitle = 'Token belongs to a workspace admin';
  lines.push(
    admin === true
      ? { check: 'bitbucket-admin', title: adminTitle, status: 'pass', found: `The token's account administers workspace ${input.workspace}.` }
      : admin === false
        ? { check: 'bitbucket-admin', title: adminTitle, status: 'fail', found: `The token's account is not an admin of workspace ${input.workspace}: it can put keys only on repositories it administers itself.`, fix: `Use a token of a workspace admin: ${input.replace.bitbucket}` }
        : {
            check: 'bitbucket-admin',
            title: adminTitle,
            status: 'unknown',
            found: "Bitbucket would not say (a token without read:workspace:bitbucket, which the app does not need, may not read its own role).",
            fix: 'Check in Bitbucket (Workspace settings › User groups) that the token\'s account is an admin.',
          },
  );

  lines.push(await accessKeyLine(input, t));
  lines.push(rateLimitLine(seen));
  lines.push(clockLine(seen));
  return lines;
}

async function accessKeyLine(input: DoctorInput, t: BitbucketTransport): Promise<DoctorLine> {
  const title = "Listing a repository's access keys";
  if (!input.repository) {
    return { check: 'bitbucket-access-keys', title, status: 'unknown', found: 'No repository to read: none is connected and none was given.', fix: 'Connect a repository (or name one) and run the check again.' };
  }
  const [workspace = '', slug = ''] = input.repository.split('/');
  try {
    const n = await countAccessKeys(t, workspace, slug);
    return { check: 'bitbucket-access-keys', title, status: 'pass', found: `The token lists the access keys of ${input.repository} (${n} there).` };
  } catch (err) {
    return { check: 'bitbucket-access-keys', title, status: 'fail', found: messageOf(err), fix: `The token needs admin:repository:bitbucket and admin rights on ${input.repository}.` };
  }
}

function rateLimitLine(seen: Seen): DoctorLine {
  const title = 'Bitbucket rate-limit headers';
  const names = Object.keys(seen.rateLimit).sort();
  return names.length
    ? { check: 'bitbucket-rate-limit', title, status: 'info', found: `Bitbucket sent ${names.map((n) => `${n}: ${seen.rateLimit[n]}`).join(', ')}.` }
    : {
        check: 'bitbucket-rate-limit',
        title,
        status: 'info',
        found: 'Bitbucket sent no rate-limit headers (it sends none to API tokens): the app counts its own requests against the 1,000 an hour the token\'s account has.',
      };
}

function clockLine(seen: Seen): DoctorLine {
  const title = "Clock against Bitbucket's";
  const theirs = seen.date ? Date.parse(seen.date.header) : Number.NaN;
  if (!seen.date || Number.isNaN(theirs)) {
    return { check: 'clock', title, status: 'unknown', found: "Bitbucket's answers carried no Date header to compare with.", fix: 'Check that this clock is set by NTP.' };
  }
  const skew = seen.date.receivedAt.getTime() - theirs;
  const minutes = Math.round(Math.abs(skew) / 60_000);
  const off = `${minutes} minute${minutes === 1 ? '' : 's'} ${skew > 0 ? 'ahead of' : 'behind'}`;
  if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
    return {
      check: 'clock',
      title,
      status: 'fail',
      found: `This clock is ${off} Bitbucket's (more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes): key ages, rotation and token expiry are counted with it.`,
      fix: 'Set the clock right (enable NTP time sync), then run the check again.',
    };
  }
  return { check: 'clock', title, status: 'pass', found: `Within ${Math.max(1, Math.ceil(Math.abs(skew) / 60_000))} minute of Bitbucket's clock.` };
}

function findInPage(projects: ValohaiProjectInfo[], wanted: string): ValohaiProjectInfo | undefined {
  const lower = wanted.toLowerCase();
  return projects.find((p) => p.id.toLowerCase() === lower || `${p.owner ?? ''}/${p.name}`.toLowerCase() === lower || p.name.toLowerCase() === lower);
}

async function valohaiLines(input: DoctorInput, budget: Budget): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  // Each call is the one request it is, counted as it goes out.
  const ask = <R>(call: (v: DoctorValohai) => Promise<R>): Promise<R> => {
    budget.sent++;
    return call(input.valohai);
  };
  const host = input.valohaiHost;
  const projectTitles: [DoctorCheck, string][] = [
    ['valohai-repository-write', 'Valohai takes the repository settings the app writes'],
    ['valohai-commits', "Valohai's commit list answers"],
    ['valohai-fetch', "Valohai's fetch route answers"],
  ];
  const skipRest = (from: DoctorCheck[], found: string, fix: string) => {
    for (const [check, title] of [['valohai-host', 'Valohai host reachable'], ['valohai-token', 'Valohai API token'], ...projectTitles] as [DoctorCheck, string][]) {
      if (from.includes(check)) lines.push({ check, title, status: 'unknown', found, fix });
    }
  };

  if (input.egress) {
    const origin = new URL(host).origin;
    const allowed = input.egress.allowed.includes(origin);
    lines.push(
      allowed
        ? { check: 'valohai-egress', title: "Valohai host in the app's egress", status: 'pass', found: `${origin} is among the hosts the app may call.` }
        : {
            check: 'valohai-egress',
            title: "Valohai host in the app's egress",
            status: 'fail',
            found: `${origin} is not among the hosts the app may call (${input.egress.allowed.join(', ') || 'none'}): Forge blocks every request to it.`,
            fix: input.egress.fix,
          },
    );
    if (!allowed) {
      skipRest(['valohai-host', 'valohai-token', ...projectTitles.map(([c]) => c)], 'Not tried: the app may not call this host.', 'Add the host to the egress list first.');
      return lines;
    }
  }

  if (!budget.take()) {
    skipRest(['valohai-host', 'valohai-token', ...projectTitles.map(([c]) => c)], overBudget('valohai-host', '').found, 'Run the check again.');
    return lines;
  }
  let page: { count: number; projects: ValohaiProjectInfo[] };
  try {
    page = await ask((v) => v.projectsPage(100));
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 0) {
      lines.push({ check: 'valohai-host', title: 'Valohai host reachable', status: 'fail', found: messageOf(err), fix: `Check the Valohai host (${host}) and the network.` });
      skipRest(['valohai-token', ...projectTitles.map(([c]) => c)], 'Not tried: Valohai could not be reached.', 'Fix the host first.');
    } else {
      lines.push({ check: 'valohai-host', title: 'Valohai host reachable', status: 'pass', found: `${host} answered.` });
      lines.push({ check: 'valohai-token', title: 'Valohai API token', status: 'fail', found: messageOf(err), fix: `Create a personal API token at ${host}/auth/tokens/; ${input.replace.valohai}` });
      skipRest(projectTitles.map(([c]) => c), 'Not tried: the Valohai token did not work.', 'Fix the token first.');
    }
    return lines;
  }
  lines.push({ check: 'valohai-host', title: 'Valohai host reachable', status: 'pass', found: `${host} answered.` });
  lines.push({ check: 'valohai-token', title: 'Valohai API token', status: 'pass', found: `The token lists projects (${page.count} visible).` });

  let project: ValohaiProjectInfo | undefined = input.project ? findInPage(page.projects, input.project) : undefined;
  if (!input.project) {
    skipRest(projectTitles.map(([c]) => c), 'No connected Valohai project to check these routes on.', 'Connect a repository (or name a project) and run the check again.');
    return lines;
  }
  if (!project && UUID.test(input.project)) {
    if (!budget.take()) {
      skipRest(projectTitles.map(([c]) => c), overBudget('valohai-commits', '').found, 'Run the check again.');
      return lines;
    }
    try {
      project = await ask((v) => v.getProject(input.project as string));
    } catch (err) {
      skipRest(projectTitles.map(([c]) => c), messageOf(err), 'Check that the token\'s user can see the connected project.');
      return lines;
    }
  }
  if (!project) {
    skipRest(projectTitles.map(([c]) => c), `Valohai project ${input.project} is not among the projects the token lists.`, 'Give the project by its id, or check that the token\'s user can see it.');
    return lines;
  }
  const found = project;
  const [writeTitle, commitsTitle, fetchTitle] = projectTitles.map(([, t]) => t) as [string, string, string];

  const writeLine = async (): Promise<DoctorLine> => {
    if (!found.repository) {
      return { check: 'valohai-repository-write', title: writeTitle, status: 'unknown', found: `Project ${found.name} has no repository settings yet.`, fix: "Open the project's Settings › Repository in Valohai once, then run the check again." };
    }
    if (!budget.take()) return overBudget('valohai-repository-write', writeTitle);
    const repositoryId = found.repository.id;
    try {
      const verdict = judgeRepositoryWrite(await ask((v) => v.repositoryMetadata(repositoryId)));
      return verdict.ok
        ? { check: 'valohai-repository-write', title: writeTitle, status: 'pass', found: describeVerdict(verdict) }
        : { check: 'valohai-repository-write', title: writeTitle, status: 'fail', found: describeVerdict(verdict), fix: `Connecting with a key made here would stop before any change: instead, ${KEY_MADE_IN_VALOHAI}.` };
    } catch (err) {
      return { check: 'valohai-repository-write', title: writeTitle, status: 'unknown', found: messageOf(err), fix: 'Run the check again; if it persists, connect with a key made in Valohai.' };
    }
  };
  const commitsLine = async (): Promise<DoctorLine> => {
    if (!budget.take()) return overBudget('valohai-commits', commitsTitle);
    try {
      const commits = await ask((v) => v.listCommits(found.id, 1));
      return { check: 'valohai-commits', title: commitsTitle, status: 'pass', found: `Project ${found.name}: ${commits[0] ? `newest commit ${commits[0].identifier.slice(0, 12)}` : 'no commits fetched yet'}.` };
    } catch (err) {
      return { check: 'valohai-commits', title: commitsTitle, status: 'fail', found: messageOf(err), fix: "Check that the token's user can see the project's commits." };
    }
  };
  const fetchLine = async (): Promise<DoctorLine> => {
    if (!budget.take()) return overBudget('valohai-fetch', fetchTitle);
    const how = 'asked with OPTIONS; no fetch was started, since one runs git and adds commits';
    try {
      const route = await ask((v) => v.fetchRouteMetadata(found.id));
      const takesPost = route.allow.length === 0 || route.allow.includes('POST');
      return route.status === 200 && takesPost
        ? { check: 'valohai-fetch', title: fetchTitle, status: 'pass', found: `Project ${found.name}'s fetch route answers (${how}).` }
        : { check: 'valohai-fetch', title: fetchTitle, status: 'unknown', found: `The fetch route answered OPTIONS with ${route.status}${route.allow.length ? ` allowing ${route.allow.join(', ')}` : ''} (${how}).`, fix: "Use the repository page's Sync to try a real fetch." };
    } catch (err) {
      return { check: 'valohai-fetch', title: fetchTitle, status: 'fail', found: messageOf(err), fix: "Check that the token's user can see the project." };
    }
  };
  lines.push(...(await Promise.all([writeLine(), commitsLine(), fetchLine()])));
  return lines;
}

/** Runs every check; never throws for what it finds (a failed request is a line). */
export async function doctor(input: DoctorInput): Promise<DoctorReport> {
  const budget = new Budget();
  // The scope probe (four), the token's role (one) and, with a repository, its access keys (one).
  budget.take(input.repository ? 6 : 5);
  const [bitbucket, valohai] = await Promise.all([bitbucketLines(input, budget), valohaiLines(input, budget)]);
  const lines = [...bitbucket, ...valohai];
  return { lines, requests: budget.sent, maxRequests: MAX_DOCTOR_REQUESTS, healthy: !lines.some((l) => l.status === 'fail') };
}
