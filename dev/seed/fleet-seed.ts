/**
 * A workspace the size ML teams keep: the demo world with workspace `acme` grown to 500 repositories,
 * for the fleet work (the access-key audit and bulk actions) and its benchmark.
 *
 * Built in about a second: the demo's repositories and a few superprojects with submodules are real,
 * separate git repositories (built by buildSeed); every other `fleet-NNN` repository is a record over
 * one shared bare repository with a single commit, so a fetch through the SSH host works for each of
 * them (the host checks each repository's own access keys), yet only one history is written. A push to
 * one of them lands in the shared history: the fleet tests never push.
 *
 * Keys of every kind sit on some repositories: old unused ones, weak RSA 2048 and DSA keys, one key
 * shared across many repositories, keys labelled like this app's that no connection recorded, and
 * ordinary young ones. `fleetFacts` says where, so tests check findings against the seed, not a copy.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { BitbucketState, RepoRecord } from '../bitbucket/state';
import { buildSeed, SEED_EPOCH, type BuiltSeed } from './build-seed';
import { demoBitbucketCredentials } from './demo-seed';
import { ed25519PublicKeyFor, uuidFor } from './deterministic';
import { demoWithRepos } from './extend-seed';
import { initBareRepo, writeCommits } from './git-writer';
import type { Seed, SeedRepo } from './seed-types';

export const FLEET_REPOSITORIES = 500;
const WORKSPACE = 'acme';
const DAY = 86_400_000;

/** `fleet-000`, `fleet-001`, … */
export const fleetSlug = (i: number) => `fleet-${String(i).padStart(3, '0')}`;

/** Repositories with their own history: a library and superprojects naming it as a submodule. */
const SUBMODULE_LIBRARY = 'fleet-shared-lib';
const SUPERPROJECTS = ['fleet-pipeline-a', 'fleet-pipeline-b', 'fleet-pipeline-c'];

export interface FleetKeyFact {
  repository: string;
  label: string;
  kind: 'old' | 'weak-rsa' | 'dsa' | 'shared' | 'lookalike' | 'fresh';
}

export interface FleetFacts {
  workspace: string;
  /** Every repository of the workspace, `acme/slug`, in slug order. */
  repositories: string[];
  /** The generated ones that share one history (fetchable, no submodules). */
  plain: string[];
  /** Superprojects whose `.gitmodules` names `acme/fleet-shared-lib`. */
  superprojects: string[];
  keys: FleetKeyFact[];
  /** Repositories the demo's writer (a collaborator, not a workspace admin) administers. */
  writerAdministers: string[];
}

export interface BuiltFleet extends BuiltSeed {
  facts: FleetFacts;
}

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

function mpint(buf: Buffer): Buffer {
  return sshString((buf[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), buf]) : buf);
}

function bytesFor(name: string, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < length; i++) parts.push(createHash('sha256').update(`${name}:${i}`).digest());
  return Buffer.concat(parts).subarray(0, length);
}

/**
 * An `ssh-rsa` public key line of exactly 2048 bits derived from `name`. Its modulus is no product of
 * two primes, which nothing here needs: Bitbucket and the audit read only its size and fingerprint.
 */
export function weakRsaKeyFor(name: string): string {
  const n = bytesFor(`rsa:${name}`, 256);
  n[0] = (n[0] as number) | 0x80;
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(Buffer.from([1, 0, 1])), mpint(n)]);
  return `ssh-rsa ${blob.toString('base64')}`;
}

/** An `ssh-dss` public key line derived from `name` (shaped like DSA-1024; never used to sign). */
export function dsaKeyFor(name: string): string {
  const p = bytesFor(`dsa-p:${name}`, 128);
  const q = bytesFor(`dsa-q:${name}`, 20);
  p[0] = (p[0] as number) | 0x80;
  q[0] = (q[0] as number) | 0x80;
  const blob = Buffer.concat([sshString(Buffer.from('ssh-dss')), mpint(p), mpint(q), mpint(bytesFor(`dsa-g:${name}`, 128)), mpint(bytesFor(`dsa-y:${name}`, 128))]);
  return `ssh-dss ${blob.toString('base64')}`;
}

const README = (slug: string) => ({ 'README.md': `# ${slug}\n`, 'valohai.yaml': '- step:\n    name: train\n    image: python:3.12\n    command: python train.py\n' });

function realRepos(): SeedRepo[] {
  return [
    { slug: SUBMODULE_LIBRARY, commits: [{ message: 'Shared code', files: { 'README.md': '# Shared library\n', 'lib.py': 'VALUE = 1\n' } }] },
    ...SUPERPROJECTS.map((slug) => ({
      slug,
      commits: [
        { message: 'Pipeline', files: README(slug) },
        { message: 'Vendor the shared library', submodules: [{ path: 'vendor/shared', url: `../${SUBMODULE_LIBRARY}.git`, target: { repo: `${WORKSPACE}/${SUBMODULE_LIBRARY}` } }] },
      ],
    })),
  ];
}

/** The part buildSeed writes: the demo and the repositories with submodules (and what `extend` adds). */
function baseSeed(extend?: (seed: Seed) => Seed): Seed {
  const seed = demoWithRepos(realRepos());
  return extend ? extend(seed) : seed;
}

interface KeyPlan {
  fact: FleetKeyFact;
  key: string;
  createdDaysAgo: number;
  lastUsedDaysAgo: number | null;
}

/** Which generated repository gets which keys: a fixed pattern by index, so runs agree. */
function keyPlans(plain: string[]): KeyPlan[] {
  const plans: KeyPlan[] = [];
  const add = (repository: string, kind: FleetKeyFact['kind'], label: string, key: string, createdDaysAgo: number, lastUsedDaysAgo: number | null) =>
    plans.push({ fact: { repository, label, kind }, key, createdDaysAgo, lastUsedDaysAgo });
  const shared = ed25519PublicKeyFor('fleet:shared-ci-key', 'ci@build');
  plain.forEach((repository, i) => {
    if (i % 10 === 3) add(repository, 'old', 'jenkins (2022)', ed25519PublicKeyFor(`fleet:old:${repository}`, 'jenkins'), 900, 700);
    if (i % 50 === 7) add(repository, 'weak-rsa', 'legacy deploy rsa', weakRsaKeyFor(`fleet:weak:${repository}`), 400, 2);
    if (i % 100 === 11) add(repository, 'dsa', 'very old dsa', dsaKeyFor(`fleet:dsa:${repository}`), 2000, null);
    if (i % 20 === 5) add(repository, 'shared', 'ci', shared, 200, 1);
    if (i % 60 === 13) {
      // One of them hides a right-to-left override in its label, as a label meant to mislead a reader would.
      const name = i === 13 ? `${repository.split('/')[1]}\u202e1202\u202c` : repository.split('/')[1];
      add(repository, 'lookalike', `Valohai ${name} 2024-03-01 [vh:${createHash('sha256').update(repository).digest('hex').slice(0, 12)}]`, ed25519PublicKeyFor(`fleet:lookalike:${repository}`), 300, 30);
    }
    if (i % 25 === 17) add(repository, 'fresh', 'monitoring', ed25519PublicKeyFor(`fleet:fresh:${repository}`, 'monitor'), 10, 1);
  });
  return plans;
}

export interface FleetSeedOptions {
  /** Repositories in workspace acme, the demo's included (default 500). */
  repositories?: number;
  clock?: () => Date;
  parentDir?: string;
  /** Adds to the written part (people, repositories with their own history); the generated ones fill acme up to `repositories`. */
  extend?: (seed: Seed) => Seed;
}

/** The demo world with acme grown to `repositories` repositories, keys of every kind on some of them. */
export async function buildFleetSeed(options: FleetSeedOptions = {}): Promise<BuiltFleet> {
  const total = options.repositories ?? FLEET_REPOSITORIES;
  const clock = options.clock ?? (() => new Date());
  const base = baseSeed(options.extend);
  const written = base.workspaces.find((w) => w.slug === WORKSPACE)?.repos.length ?? 0;
  const generated = total - written;
  if (generated < 1) throw new Error(`A fleet needs more than ${written} repositories (got ${total}).`);
  const plain = Array.from({ length: generated }, (_, i) => `${WORKSPACE}/${fleetSlug(i)}`);
  const writerAdministers = [plain[0], plain[1], plain[2]].filter((r): r is string => r !== undefined);

  const built = await buildSeed(base, { clock, parentDir: options.parentDir });
  try {
    const { state } = built;
    const ws = state.findWorkspace(WORKSPACE);
    if (!ws) throw new Error('The demo seed lost workspace acme.');
    const shared = join(built.root, '_shared', 'fleet.git');
    await initBareRepo(shared, 'main');
    await writeCommits(shared, [{ branch: 'main', message: 'Fleet repository', date: SEED_EPOCH, changes: Object.entries(README('fleet')).map(([path, content]) => ({ kind: 'file' as const, path, content })) }]);
    const writer = state.findUser(demoBitbucketCredentials.writer.email);
    for (const full of plain) {
      const slug = full.split('/')[1] as string;
      const record: RepoRecord = { workspace: ws, slug, uuid: uuidFor(`repo:${full}`), name: slug, isPrivate: true, mainBranch: 'main', description: '', path: shared, createdOn: SEED_EPOCH };
      state.repos.push(record);
      if (writer && writerAdministers.includes(full)) state.repoPermissions.push({ repo: record, user: writer, permission: 'admin' });
    }
    const plans = keyPlans(plain);
    addKeys(state, plans, clock());
    const repositories = state.repos
      .filter((r) => r.workspace === ws)
      .map((r) => `${WORKSPACE}/${r.slug}`)
      .sort();
    return {
      ...built,
      facts: {
        workspace: WORKSPACE,
        repositories,
        plain,
        superprojects: SUPERPROJECTS.map((s) => `${WORKSPACE}/${s}`),
        keys: plans.map((p) => p.fact),
        writerAdministers,
      },
    };
  } catch (err) {
    await built.cleanup();
    throw err;
  }
}

/** Adds the planned keys, then backdates them: Bitbucket stamps a key when it is added. */
function addKeys(state: BitbucketState, plans: KeyPlan[], now: Date): void {
  for (const plan of plans) {
    const [ws = '', slug = ''] = plan.fact.repository.split('/');
    const repo = state.findRepo(ws, slug);
    if (!repo) throw new Error(`The fleet plan names ${plan.fact.repository}, which was not made.`);
    const entry = state.addAccessKey(repo, { key: plan.key, label: plan.fact.label });
    entry.createdOn = new Date(now.getTime() - plan.createdDaysAgo * DAY);
    entry.lastUsed = plan.lastUsedDaysAgo === null ? null : new Date(now.getTime() - plan.lastUsedDaysAgo * DAY);
  }
}
