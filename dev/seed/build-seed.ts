/**
 * Turns a declarative Seed into real bare git repositories in a temporary directory and the live
 * emulator state over them. Repositories are built submodules first, so every gitlink names a commit
 * that exists in the repository it points to.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessKeyConflictError, BitbucketState, type RepoRecord, type UserRecord, type WorkspaceRecord } from '../bitbucket/state';
import { AccessKeyFormatError, parseAccessKey } from '../bitbucket/access-key-format';
import { runGit } from './git-cli';
import { initBareRepo, writeCommits, type CommitPlan, type TreeChange } from './git-writer';
import { uuidFor } from './deterministic';
import type { Seed, SeedCommit, SeedRepo, SeedSubmodule } from './seed-types';

export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

export interface BuiltSeed {
  state: BitbucketState;
  /** Directory holding the bare repositories (`<root>/<workspace>/<slug>.git`). */
  root: string;
  /** Removes every repository the build wrote. */
  cleanup(): Promise<void>;
}

export interface BuildSeedOptions {
  /** Clock for access-key timestamps and run-time pushes; seeded history has fixed dates regardless. */
  clock?: () => Date;
  /** Parent directory for the temporary root; defaults to the OS temp directory. */
  parentDir?: string;
}

/** Seeded history starts here and advances one minute per commit. */
export const SEED_EPOCH = new Date('2024-01-15T09:00:00Z');

const SHA = /^[0-9a-f]{40}$/;

function renderGitmodules(subs: SeedSubmodule[]): string {
  return subs
    .map((s) => {
      const lines = [`[submodule "${s.name ?? s.path}"]`, `\tpath = ${s.path}`, `\turl = ${s.url}`];
      if (s.branch) lines.push(`\tbranch = ${s.branch}`);
      return `${lines.join('\n')}\n`;
    })
    .join('');
}

interface BranchTips {
  main: string | undefined;
  branches: Map<string, string>;
}

interface RepoJob {
  ws: WorkspaceRecord;
  seed: SeedRepo;
  record: RepoRecord;
  deps: Set<string>;
}

const fullName = (ws: string, slug: string) => `${ws}/${slug}`.toLowerCase();

function submodulesOf(repo: SeedRepo): SeedSubmodule[] {
  const commits = [...(repo.commits ?? []), ...(repo.branches ?? []).flatMap((b) => b.commits)];
  return commits.flatMap((c) => c.submodules ?? []);
}

/** Orders repositories so that each comes after every seeded repository its submodules point to. */
function buildOrder(jobs: Map<string, RepoJob>): RepoJob[] {
  const order: RepoJob[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const job = jobs.get(name);
    if (!job) return;
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new SeedError(`Submodules form a cycle: ${[...chain, name].join(' -> ')}. Point one of them at a fixed { sha } instead.`);
    }
    state.set(name, 'visiting');
    for (const dep of job.deps) visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(job);
  };
  for (const name of [...jobs.keys()].sort()) visit(name, []);
  return order;
}

export async function buildSeed(seed: Seed, options: BuildSeedOptions = {}): Promise<BuiltSeed> {
  const root = await mkdtemp(join(options.parentDir ?? tmpdir(), 'bb-seed-'));
  const state = new BitbucketState({ root, clock: options.clock });
  try {
    await populate(state, seed, root);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return { state, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

async function populate(state: BitbucketState, seed: Seed, root: string): Promise<void> {
  const users = new Map<string, UserRecord>();
  for (const u of seed.users) {
    const email = u.email.toLowerCase();
    if (users.has(email)) throw new SeedError(`User ${u.email} is listed twice; emails must be unique.`);
    const sshKeys = (u.sshKeys ?? []).map((k) => {
      try {
        return parseAccessKey(k).normalized;
      } catch (err) {
        const why = err instanceof AccessKeyFormatError ? err.message : String(err);
        throw new SeedError(`Account SSH key of ${u.email} is not usable: ${why}`);
      }
    });
    const record: UserRecord = {
      email: u.email,
      accountId: u.accountId,
      uuid: u.uuid ?? uuidFor(`user:${email}`),
      displayName: u.displayName,
      nickname: u.nickname,
      sshKeys,
      createdOn: SEED_EPOCH,
    };
    users.set(email, record);
    state.users.push(record);
  }
  const user = (email: string, where: string): UserRecord => {
    const found = users.get(email.toLowerCase());
    if (!found) throw new SeedError(`${where} names user ${email}, who is not in the seed's users.`);
    return found;
  };

  const jobs = new Map<string, RepoJob>();
  for (const w of seed.workspaces) {
    if (state.findWorkspace(w.slug)) throw new SeedError(`Workspace ${w.slug} is listed twice.`);
    const ws: WorkspaceRecord = { slug: w.slug, uuid: w.uuid ?? uuidFor(`workspace:${w.slug}`), name: w.name ?? w.slug, createdOn: SEED_EPOCH };
    state.workspaces.push(ws);
    await mkdir(join(root, w.slug), { recursive: true });
    for (const r of w.repos) {
      const name = fullName(w.slug, r.slug);
      if (jobs.has(name)) throw new SeedError(`Repository ${w.slug}/${r.slug} is listed twice.`);
      const record: RepoRecord = {
        workspace: ws,
        slug: r.slug,
        uuid: r.uuid ?? uuidFor(`repo:${name}`),
        name: r.name ?? r.slug,
        isPrivate: r.isPrivate ?? true,
        mainBranch: r.mainBranch ?? 'main',
        description: r.description ?? '',
        path: join(root, w.slug, `${r.slug}.git`),
        createdOn: SEED_EPOCH,
      };
      const deps = new Set<string>();
      for (const sub of submodulesOf(r)) {
        if ('repo' in sub.target) deps.add(sub.target.repo.toLowerCase());
        else if (!SHA.test(sub.target.sha)) {
          throw new SeedError(`Submodule ${sub.path} of ${w.slug}/${r.slug} names "${sub.target.sha}"; a fixed target must be a full 40-hex commit id.`);
        }
      }
      jobs.set(name, { ws, seed: r, record, deps });
    }
  }
  for (const job of jobs.values()) {
    for (const dep of job.deps) {
      if (!jobs.has(dep)) {
        throw new SeedError(`A submodule of ${job.ws.slug}/${job.seed.slug} points to ${dep}, which the seed does not define. Add that repository or use { sha }.`);
      }
    }
  }

  const tips = new Map<string, BranchTips>();
  let tick = 0;
  const nextDate = () => new Date(SEED_EPOCH.getTime() + 60_000 * tick++);
  for (const job of buildOrder(jobs)) {
    state.repos.push(job.record);
    tips.set(fullName(job.ws.slug, job.seed.slug), await buildRepo(job, tips, nextDate));
  }

  for (const m of seed.memberships ?? []) {
    const ws = state.findWorkspace(m.workspace);
    if (!ws) throw new SeedError(`Membership of ${m.email} names workspace ${m.workspace}, which the seed does not define.`);
    state.memberships.push({ workspace: ws, user: user(m.email, 'A membership'), role: m.role });
  }
  for (const p of seed.repoPermissions ?? []) {
    const repo = state.findRepo(p.workspace, p.repo);
    if (!repo) throw new SeedError(`A permission of ${p.email} names ${p.workspace}/${p.repo}, which the seed does not define.`);
    state.repoPermissions.push({ repo, user: user(p.email, 'A repository permission'), permission: p.permission });
  }
  for (const t of seed.apiTokens ?? []) {
    state.apiTokens.push({ user: user(t.email, 'An API token'), token: t.token, scopes: new Set(t.scopes) });
  }
  for (const t of seed.accessTokens ?? []) {
    const ws = state.findWorkspace(t.workspace);
    if (!ws) throw new SeedError(`An access token names workspace ${t.workspace}, which the seed does not define.`);
    let repo: RepoRecord | undefined;
    if (t.kind === 'repository') {
      repo = t.repo === undefined ? undefined : state.findRepo(ws, t.repo);
      if (!repo) throw new SeedError(`A repository access token must name a seeded repository in "repo" (got ${String(t.repo)}).`);
    }
    state.accessTokens.push({ token: t.token, kind: t.kind, workspace: ws, repo, scopes: new Set(t.scopes) });
  }
  for (const job of jobs.values()) {
    for (const k of job.seed.accessKeys ?? []) {
      try {
        state.addAccessKey(job.record, k);
      } catch (err) {
        if (err instanceof AccessKeyFormatError || err instanceof AccessKeyConflictError) {
          throw new SeedError(`Access key "${k.label}" on ${job.ws.slug}/${job.seed.slug} is refused: ${err.message}`);
        }
        throw err;
      }
    }
  }
}

async function buildRepo(
  job: RepoJob,
  tips: Map<string, BranchTips>,
  nextDate: () => Date,
): Promise<BranchTips> {
  const { seed, record } = job;
  const where = `${job.ws.slug}/${seed.slug}`;
  await initBareRepo(record.path, record.mainBranch);
  const plans: CommitPlan[] = [];
  // Per branch: index of its tip in `plans`, and the submodules it carries so far.
  const heads = new Map<string, { index: number; subs: SeedSubmodule[] }>();

  const resolveTarget = (sub: SeedSubmodule): string => {
    if ('sha' in sub.target) return sub.target.sha;
    const repoTips = tips.get(sub.target.repo.toLowerCase());
    const branch = sub.target.branch;
    const sha = branch ? repoTips?.branches.get(branch) : repoTips?.main;
    if (!sha) {
      throw new SeedError(
        `Submodule ${sub.path} of ${where} points to ${sub.target.repo}${branch ? ` branch ${branch}` : ''}, which has no commits there. Give that repository commits first.`,
      );
    }
    return sha;
  };

  const addCommits = (branch: string, start: { index: number; subs: SeedSubmodule[] } | undefined, commits: SeedCommit[]) => {
    let head = start;
    for (const c of commits) {
      const changes: TreeChange[] = [];
      const subs = [...(head?.subs ?? [])];
      for (const sub of c.submodules ?? []) {
        const at = subs.findIndex((s) => s.path === sub.path);
        if (at >= 0) subs.splice(at, 1, sub);
        else subs.push(sub);
        changes.push({ kind: 'gitlink', path: sub.path, sha: resolveTarget(sub) });
      }
      const files = c.files ?? {};
      let removed = false;
      for (const [path, content] of Object.entries(files)) {
        const at = content === null ? subs.findIndex((s) => s.path === path) : -1;
        if (at >= 0) {
          subs.splice(at, 1);
          removed = true;
        }
      }
      if ((c.submodules?.length || removed) && !('.gitmodules' in files)) {
        changes.push(subs.length ? { kind: 'file', path: '.gitmodules', content: renderGitmodules(subs) } : { kind: 'delete', path: '.gitmodules' });
      }
      for (const [path, content] of Object.entries(files)) {
        changes.push(content === null ? { kind: 'delete', path } : { kind: 'file', path, content });
      }
      plans.push({
        branch,
        parent: head ? { index: head.index } : undefined,
        message: c.message,
        date: c.date ? new Date(c.date) : nextDate(),
        changes,
      });
      head = { index: plans.length - 1, subs };
    }
    if (head) heads.set(branch, head);
  };

  addCommits(record.mainBranch, undefined, seed.commits ?? []);
  for (const b of seed.branches ?? []) {
    if (b.name === record.mainBranch || heads.has(b.name)) throw new SeedError(`Branch ${b.name} of ${where} is defined twice.`);
    const from = b.from ?? record.mainBranch;
    const start = heads.get(from);
    if (!start && b.from !== undefined) {
      throw new SeedError(`Branch ${b.name} of ${where} starts from ${from}, which is not defined before it.`);
    }
    if (b.commits.length === 0) {
      if (!start) throw new SeedError(`Branch ${b.name} of ${where} has no commits and nothing to start from.`);
      // A branch without commits of its own: point it at its start with a ref update after the import.
      heads.set(b.name, start);
      continue;
    }
    addCommits(b.name, start, b.commits);
  }

  const shas = await writeCommits(record.path, plans);
  const result = new Map<string, string>();
  for (const [branch, head] of heads) {
    const sha = shas[head.index] as string;
    result.set(branch, sha);
    if (plans[head.index]?.branch !== branch) await runGit(['update-ref', `refs/heads/${branch}`, sha], { gitDir: record.path });
  }
  return { main: result.get(record.mainBranch), branches: result };
}
