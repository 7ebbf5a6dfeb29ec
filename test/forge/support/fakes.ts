/**
 * Small in-test stand-ins for the unit tests that need no emulator: a Bitbucket transport answering
 * the two reads the resolvers make (the caller's permission, the repository), and an adjustable clock.
 */
import type { BitbucketRequest, BitbucketResponse, BitbucketTransport } from '../../../src/bitbucket/index';
import type { Clock } from '../../../src/connect/index';
import { createMemoryBackend, type MemoryPlatform } from '../../../dev/forge/memory-platform';
import type { Backend } from '../../../src/forge/backend';
import type { TrustedContext } from '../../../src/forge/platform/ports';

export const WS = '{11111111-1111-4111-8111-111111111111}';
export const REPO = '{22222222-2222-4222-8222-222222222222}';

export class TestClock implements Clock {
  private t: number;
  constructor(start = Date.parse('2025-06-01T12:00:00Z')) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const json = (status: number, body: unknown): BitbucketResponse => ({ status, headers: { 'content-type': 'application/json' }, text: JSON.stringify(body) });

/** Answers as Bitbucket would for one repository, `acme/models`, with a permission per account. */
export function fakeBitbucket(permissions: Record<string, 'admin' | 'write' | 'read'>, seen: { accountId: string; path: string }[] = []) {
  const repository = {
    uuid: REPO,
    full_name: 'acme/models',
    slug: 'models',
    name: 'models',
    is_private: true,
    mainbranch: { name: 'main', type: 'branch' },
    workspace: { slug: 'acme', name: 'Acme', uuid: WS },
    links: { clone: [{ name: 'ssh', href: 'git@bitbucket.org:acme/models.git' }] },
  };
  const answer = (accountId: string, req: BitbucketRequest): BitbucketResponse => {
    seen.push({ accountId, path: req.path });
    const path = decodeURIComponent(req.path);
    if (path.startsWith(`/user/workspaces/${WS}/permissions/repositories`)) {
      const permission = permissions[accountId];
      return json(200, { values: permission ? [{ permission, repository: { uuid: REPO, full_name: 'acme/models' } }] : [] });
    }
    if (path === `/repositories/${WS}/${REPO}`) return json(200, repository);
    return json(404, { type: 'error', error: { message: `No fake for ${req.method} ${path}` } });
  };
  const asUser = (context: TrustedContext): BitbucketTransport => ({ request: async (req) => answer(context.accountId, req) });
  const asApp: BitbucketTransport = { request: async (req) => answer('app', req) };
  return { asUser, asApp };
}

export function fakeBackend(
  permissions: Record<string, 'admin' | 'write' | 'read'> = { admin: 'admin', writer: 'write' },
  options: { holdQueue?: boolean } = {},
): { platform: MemoryPlatform; backend: Backend; clock: TestClock; seen: { accountId: string; path: string }[] } {
  const clock = new TestClock();
  const seen: { accountId: string; path: string }[] = [];
  const bitbucket = fakeBitbucket(permissions, seen);
  const { platform, backend } = createMemoryBackend({
    bitbucketAsApp: bitbucket.asApp,
    bitbucketAsUser: bitbucket.asUser,
    clock,
    holdQueue: options.holdQueue,
    makeBitbucketWithToken: () => {
      throw new Error('no API token in these tests');
    },
    makeValohai: () => {
      throw new Error('no Valohai in these tests');
    },
    generateKey: () => Promise.reject(new Error('no keys in these tests')),
  });
  return { platform, backend, clock, seen };
}

export const ctx = (accountId: string): TrustedContext => ({ workspaceId: WS, repositoryUuid: REPO, accountId });
