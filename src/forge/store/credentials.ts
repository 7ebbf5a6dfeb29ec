/**
 * The workspace's stored credentials: secrets in the SecretStore, their non-secret summary in the
 * record store. Reading a secret is only ever done to make a client with it.
 */
import type { ResolverError } from '../contract';
import { keys } from './keys';
import type { ForgePlatform } from '../platform/ports';
import type { BitbucketSecret, ValohaiSecret, WorkspaceSummary } from './records';

function isValohaiSecret(value: unknown): value is ValohaiSecret {
  const v = value as Partial<ValohaiSecret> | null;
  return typeof v === 'object' && v !== null && typeof v.host === 'string' && typeof v.token === 'string' && v.token !== '';
}

function isBitbucketSecret(value: unknown): value is BitbucketSecret {
  const v = value as Partial<BitbucketSecret> | null;
  return typeof v === 'object' && v !== null && typeof v.email === 'string' && typeof v.token === 'string' && v.token !== '';
}

export class Credentials {
  constructor(
    private readonly platform: ForgePlatform,
    readonly workspaceUuid: string,
  ) {}

  async valohai(): Promise<ValohaiSecret | undefined> {
    const value = await this.platform.secrets.get(keys.valohaiSecret(this.workspaceUuid));
    return isValohaiSecret(value) ? value : undefined;
  }

  async bitbucket(): Promise<BitbucketSecret | undefined> {
    const value = await this.platform.secrets.get(keys.bitbucketSecret(this.workspaceUuid));
    return isBitbucketSecret(value) ? value : undefined;
  }

  async summary(): Promise<WorkspaceSummary> {
    return (await this.platform.store.get<WorkspaceSummary>(keys.settings(this.workspaceUuid))) ?? {};
  }

  /** The stored API token, unless a job found Bitbucket refusing it: then connecting goes the manual way. */
  async usableBitbucket(): Promise<BitbucketSecret | undefined> {
    const [secret, summary] = await Promise.all([this.bitbucket(), this.summary()]);
    return secret && !summary.bitbucket?.problem ? secret : undefined;
  }

  async saveValohai(secret: ValohaiSecret, username: string | null, expiresOn: string | null = null): Promise<WorkspaceSummary['valohai']> {
    await this.platform.secrets.set(keys.valohaiSecret(this.workspaceUuid), secret);
    const entry = { host: secret.host, username, savedAt: this.platform.clock.now().toISOString(), expiresOn };
    await this.update((s) => ({ ...s, valohai: entry }));
    return entry;
  }

  async saveBitbucket(
    secret: BitbucketSecret,
    check: { accountName: string | null; accountId?: string | null; missingScopes: string[]; workspaceAdmin: boolean | null },
    expiresOn: string | null = null,
  ): Promise<WorkspaceSummary['bitbucket']> {
    await this.platform.secrets.set(keys.bitbucketSecret(this.workspaceUuid), secret);
    const entry = { email: secret.email, ...check, savedAt: this.platform.clock.now().toISOString(), expiresOn };
    await this.update((s) => ({ ...s, bitbucket: entry }));
    return entry;
  }

  async clear(which: 'valohai' | 'bitbucket' | 'all'): Promise<void> {
    if (which !== 'bitbucket') await this.platform.secrets.delete(keys.valohaiSecret(this.workspaceUuid));
    if (which !== 'valohai') await this.platform.secrets.delete(keys.bitbucketSecret(this.workspaceUuid));
    await this.update((s) => ({
      ...(which === 'bitbucket' ? { valohai: s.valohai } : {}),
      ...(which === 'valohai' ? { bitbucket: s.bitbucket } : {}),
    }));
  }

  /** Remembers that a stored token stopped working, so the pages say so and offer the fix. */
  async recordProblem(which: 'valohai' | 'bitbucket', problem: ResolverError): Promise<void> {
    await this.update((s) => {
      const entry = s[which];
      return entry ? { ...s, [which]: { ...entry, problem } } : s;
    });
  }

  private async update(change: (summary: WorkspaceSummary) => WorkspaceSummary): Promise<void> {
    const key = keys.settings(this.workspaceUuid);
    const next = change(await this.summary());
    if (!next.valohai && !next.bitbucket) await this.platform.store.delete(key);
    else await this.platform.store.set(key, next);
  }
}
