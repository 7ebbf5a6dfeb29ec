/**
 * The Valohai emulator's world: users and their tokens, organizations, projects with their
 * repository settings, and the commits fetches found. The stored private key stays inside this module
 * and the fetcher; what the state API hands out says only whether a key is set and its fingerprint.
 */
import { randomUUID } from 'node:crypto';
import { generateKeyPair, type SshKeyType } from '../../src/ssh/index';
import { checkPrivateKey } from './private-key';
import type { ValohaiSeed } from './seed-types';

export interface UserRecord {
  id: number;
  username: string;
  email: string;
  tokens: string[];
  ownershipOptions?: string[];
}

export interface OrganizationRecord {
  id: number;
  name: string;
  members: string[];
  teams: { name: string; members: string[] }[];
}

export interface RepositoryRecord {
  id: number;
  url: string;
  ref: string;
}

export interface ProjectRecord {
  id: string;
  name: string;
  description: string;
  /** A username or organization name. */
  owner: string;
  team: string | null;
  repository: RepositoryRecord | null;
  ctime: Date;
  mtime: Date;
}

export interface CommitRecord {
  id: number;
  identifier: string;
  ref: string;
  refNames: string[];
  commitTime: Date;
  projectId: string;
  repositoryId: number;
  ctime: Date;
}

export interface FetchRecord {
  projectId: string;
  at: Date;
  /** Identifiers of the commits this fetch found new. */
  newCommits: string[];
  errors: string[];
}

/** A project as the in-process state API shows it to tests: no private key, only its fingerprint. */
export interface ProjectView {
  id: string;
  name: string;
  description: string;
  owner: string;
  team: string | null;
  repository: RepositoryView | null;
}

export interface RepositoryView {
  id: number;
  url: string;
  ref: string;
  sshKeySet: boolean;
  /** OpenSSH `SHA256:...` fingerprint of the stored key's public half, or null when none is set. */
  sshKeyFingerprint: string | null;
  sshKeyType: string | null;
  /**
   * The public half of a key pair Valohai generated itself (Settings › Repository › Generate SSH Key),
   * as its page shows it; null when the key was written through the API, or none is set.
   */
  generatedPublicKey: string | null;
}

export interface CommitView {
  identifier: string;
  ref: string;
  refNames: string[];
  commitTime: string;
  repositoryId: number;
}

interface StoredKey {
  text: string;
  fingerprint: string;
  type: string;
}

export class UnknownValohaiUserError extends Error {
  constructor(readonly username: string) {
    super(`The seed names user or organization "${username}", which it does not define. Add it to users or organizations.`);
    this.name = 'UnknownValohaiUserError';
  }
}

export class DuplicateRepositoryIdError extends Error {
  constructor(readonly repositoryId: number) {
    super(`The seed gives repository id ${repositoryId} twice (or to a project listed after one that got it automatically). Give each project's repository its own id, or list projects with fixed ids first.`);
    this.name = 'DuplicateRepositoryIdError';
  }
}

export class ValohaiState {
  readonly users: UserRecord[] = [];
  readonly organizations: OrganizationRecord[] = [];
  readonly projects: ProjectRecord[] = [];
  readonly commitRecords: CommitRecord[] = [];
  readonly fetchRecords: FetchRecord[] = [];
  private readonly keys = new Map<number, StoredKey>();
  /** Public halves of the keys generated here, by repository id; the private halves are in `keys`. */
  private readonly generated = new Map<number, string>();
  private nextAccountId = 1;
  private nextRepositoryId = 1001;
  private nextCommitId = 1;

  constructor(
    seed: ValohaiSeed,
    readonly clock: () => Date = () => new Date(),
  ) {
    for (const u of seed.users) {
      this.users.push({ id: this.nextAccountId++, username: u.username, email: u.email, tokens: [...u.tokens], ownershipOptions: u.ownershipOptions });
    }
    for (const o of seed.organizations ?? []) {
      this.organizations.push({ id: this.nextAccountId++, name: o.name, members: [...o.members], teams: (o.teams ?? []).map((t) => ({ name: t.name, members: [...t.members] })) });
    }
    for (const p of seed.projects ?? []) {
      const [owner = '', team] = p.owner.split(':');
      if (!this.accountId(owner)) throw new UnknownValohaiUserError(owner);
      const project = this.addProject({ id: p.id, name: p.name, description: p.description ?? '', owner, team: team ?? null, withRepository: p.repository !== null });
      if (p.repository && project.repository) {
        if (p.repository.id !== undefined) {
          const holder = this.findRepository(p.repository.id);
          if (holder && holder.project !== project) throw new DuplicateRepositoryIdError(p.repository.id);
          project.repository.id = p.repository.id;
          this.nextRepositoryId = Math.max(this.nextRepositoryId, p.repository.id + 1);
        }
        project.repository.url = p.repository.url ?? '';
        project.repository.ref = p.repository.ref ?? '';
        if (p.repository.sshPrivateKey) this.setKey(project.repository.id, p.repository.sshPrivateKey);
      }
    }
  }

  // Accounts.

  userByToken(token: string): UserRecord | undefined {
    return token ? this.users.find((u) => u.tokens.includes(token)) : undefined;
  }

  /** Id of a user or organization (one id space, as Valohai's organizations are accounts too). */
  accountId(name: string): number | undefined {
    return (
      this.users.find((u) => u.username.toLowerCase() === name.toLowerCase())?.id ??
      this.organizations.find((o) => o.name.toLowerCase() === name.toLowerCase())?.id
    );
  }

  ownershipOptions(user: UserRecord): string[] {
    if (user.ownershipOptions) return [...user.ownershipOptions];
    const orgs = this.organizations.filter((o) => o.members.includes(user.username));
    return [
      ...orgs.map((o) => o.name),
      ...orgs.flatMap((o) => o.teams.filter((t) => t.members.includes(user.username)).map((t) => `${o.name}:${t.name}`)),
      user.username,
    ];
  }

  canSee(user: UserRecord, project: ProjectRecord): boolean {
    if (project.owner.toLowerCase() === user.username.toLowerCase()) return true;
    return this.organizations.some((o) => o.name.toLowerCase() === project.owner.toLowerCase() && o.members.includes(user.username));
  }

  // Projects and repositories.

  addProject(input: { id?: string; name: string; description: string; owner: string; team: string | null; withRepository?: boolean }): ProjectRecord {
    const now = this.clock();
    const project: ProjectRecord = {
      id: input.id ?? randomUUID(),
      name: input.name,
      description: input.description,
      owner: input.owner,
      team: input.team,
      repository: input.withRepository === false ? null : { id: this.nextRepositoryId++, url: '', ref: '' },
      ctime: now,
      mtime: now,
    };
    this.projects.push(project);
    return project;
  }

  findProject(id: string): ProjectRecord | undefined {
    return this.projects.find((p) => p.id.toLowerCase() === id.toLowerCase());
  }

  findRepository(id: number): { project: ProjectRecord; repository: RepositoryRecord } | undefined {
    for (const project of this.projects) if (project.repository?.id === id) return { project, repository: project.repository };
    return undefined;
  }

  /** Stores a key after checking it (throws SshPrivateKeyError); an empty string removes the key. */
  setKey(repositoryId: number, key: string): void {
    this.generated.delete(repositoryId);
    if (key === '') {
      this.keys.delete(repositoryId);
      return;
    }
    const checked = checkPrivateKey(key);
    this.keys.set(repositoryId, { text: checked.normalised, fingerprint: checked.fingerprint, type: checked.type });
  }

  /**
   * "Generate SSH Key": a new key pair replaces whatever key the repository had. The private half stays
   * here (the fetcher uses it); the public half is returned, for Bitbucket.
   */
  async generateKey(repositoryId: number, type: SshKeyType = 'ed25519'): Promise<{ publicKey: string; fingerprint: string }> {
    const found = this.findRepository(repositoryId);
    if (!found) throw new Error(`No repository ${repositoryId}.`);
    const pair = await generateKeyPair({ type, comment: `valohai-${found.project.owner}-${found.project.name}` });
    this.setKey(repositoryId, pair.privateKey);
    this.generated.set(repositoryId, pair.publicKey);
    found.project.mtime = this.clock();
    return { publicKey: pair.publicKey, fingerprint: pair.fingerprint };
  }

  /** The public half of the key generated here, if the repository's key is one. */
  generatedPublicKey(repositoryId: number): string | undefined {
    return this.generated.get(repositoryId);
  }

  hasKey(repositoryId: number): boolean {
    return this.keys.has(repositoryId);
  }

  /** The key itself, for the fetcher only. */
  keyFor(repositoryId: number): string | undefined {
    return this.keys.get(repositoryId)?.text;
  }

  // Commits.

  commitsOf(projectId: string): CommitRecord[] {
    return this.commitRecords.filter((c) => c.projectId === projectId);
  }

  addCommit(input: Omit<CommitRecord, 'id' | 'ctime'>): CommitRecord {
    const commit: CommitRecord = { ...input, id: this.nextCommitId++, ctime: this.clock() };
    this.commitRecords.push(commit);
    return commit;
  }

  // The in-process view for tests: never the key.

  project(id: string): ProjectView | undefined {
    const p = this.findProject(id);
    return p && this.view(p);
  }

  projectByName(owner: string, name: string): ProjectView | undefined {
    const p = this.projects.find((x) => x.owner.toLowerCase() === owner.toLowerCase() && x.name === name);
    return p && this.view(p);
  }

  repository(id: number): RepositoryView | undefined {
    const found = this.findRepository(id);
    return found && this.repositoryView(found.repository);
  }

  /** The project's commits, newest first. */
  commits(projectId: string): CommitView[] {
    return this.commitsOf(projectId)
      .sort((a, b) => b.commitTime.getTime() - a.commitTime.getTime() || b.id - a.id)
      .map((c) => ({ identifier: c.identifier, ref: c.ref, refNames: [...c.refNames], commitTime: c.commitTime.toISOString(), repositoryId: c.repositoryId }));
  }

  fetches(projectId: string): FetchRecord[] {
    return this.fetchRecords.filter((f) => f.projectId === projectId).map((f) => ({ ...f, newCommits: [...f.newCommits], errors: [...f.errors] }));
  }

  private repositoryView(r: RepositoryRecord): RepositoryView {
    const key = this.keys.get(r.id);
    return { id: r.id, url: r.url, ref: r.ref, sshKeySet: key !== undefined, sshKeyFingerprint: key?.fingerprint ?? null, sshKeyType: key?.type ?? null, generatedPublicKey: this.generated.get(r.id) ?? null };
  }

  private view(p: ProjectRecord): ProjectView {
    return { id: p.id, name: p.name, description: p.description, owner: p.owner, team: p.team, repository: p.repository && this.repositoryView(p.repository) };
  }
}
