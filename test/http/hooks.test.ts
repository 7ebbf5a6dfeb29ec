import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hooked, watchMethods, type MethodCall, type RequestHooks } from '../../src/http/hooks';
import { countRequests, noteRefusal, type BitbucketRequest, type BitbucketResponse, type BitbucketTransport } from '../../src/bitbucket/index';

type Req = { path: string };
type Res = { status: number };

/** A hook writing what it was asked into `seen`, by its name. */
function recorder(name: string, seen: string[]): RequestHooks<Req, Res> {
  return {
    before: (req) => void seen.push(`${name}.before ${req.path}`),
    after: (req, res) => void seen.push(`${name}.after ${req.path} ${res.status}`),
    failed: (req, err) => void seen.push(`${name}.failed ${req.path} ${(err as Error).message}`),
  };
}

function answering(status: number, sent: string[] = []) {
  return { baseUrl: 'https://api.example/2.0', request: async (req: Req) => (sent.push(req.path), { status }) };
}

describe('hooked transport', () => {
  it('asks every hook in the order given, before and after the request', async () => {
    const seen: string[] = [];
    const sent: string[] = [];
    const transport = hooked(answering(204, sent), recorder('a', seen), recorder('b', seen));
    assert.deepEqual(await transport.request({ path: '/x' }), { status: 204 });
    assert.deepEqual(seen, ['a.before /x', 'b.before /x', 'a.after /x 204', 'b.after /x 204']);
    assert.deepEqual(sent, ['/x']);
    assert.equal(transport.baseUrl, 'https://api.example/2.0', 'the API root stays, so links are followed below it');
  });

  it('keeps no base URL the transport did not have', () => {
    const transport = hooked({ request: async () => ({ status: 200 }) }, recorder('a', []));
    assert.equal('baseUrl' in transport, false);
  });

  it('a before that throws sends nothing and asks no later hook', async () => {
    const seen: string[] = [];
    const sent: string[] = [];
    const refuse: RequestHooks<Req, Res> = {
      before: () => {
        throw new Error('over the limit');
      },
    };
    const transport = hooked(answering(200, sent), recorder('a', seen), refuse, recorder('b', seen));
    await assert.rejects(transport.request({ path: '/x' }), /over the limit/);
    assert.deepEqual(sent, []);
    assert.deepEqual(seen, ['a.before /x'], 'no after or failed of any hook: nothing was sent');
  });

  it('a request without an answer is told to every hook as failed, and its error reaches the caller', async () => {
    const seen: string[] = [];
    const broken = { request: async (): Promise<Res> => Promise.reject(new Error('ECONNRESET')) };
    const transport = hooked(broken, recorder('a', seen), recorder('b', seen));
    await assert.rejects(transport.request({ path: '/x' }), /ECONNRESET/);
    assert.deepEqual(seen, ['a.before /x', 'b.before /x', 'a.failed /x ECONNRESET', 'b.failed /x ECONNRESET']);
  });

  it("an after that throws reaches the caller, and the hooks after it are not asked", async () => {
    const seen: string[] = [];
    const faulty: RequestHooks<Req, Res> = {
      after: () => {
        throw new Error('hook fault');
      },
    };
    const transport = hooked(answering(200), recorder('a', seen), faulty, recorder('b', seen));
    await assert.rejects(transport.request({ path: '/x' }), /hook fault/);
    assert.deepEqual(seen, ['a.before /x', 'b.before /x', 'a.after /x 200']);
  });

  it('waits for an asynchronous before', async () => {
    const seen: string[] = [];
    const slow: RequestHooks<Req, Res> = { before: () => new Promise((resolve) => setTimeout(() => resolve(void seen.push('slow')), 5)) };
    await hooked(answering(200, seen), slow).request({ path: '/x' });
    assert.deepEqual(seen, ['slow', '/x']);
  });
});

describe('Bitbucket hooks', () => {
  const get: BitbucketRequest = { method: 'GET', path: '/user' };
  function replying(...answers: BitbucketResponse[]): BitbucketTransport {
    return { request: async () => answers.shift() ?? { status: 200, headers: {}, text: '' } };
  }

  it('counts each request sent, answered or not, and none a hook before it refused', async () => {
    let counted = 0;
    let limit = 2;
    const transport = hooked(
      replying({ status: 500, headers: {}, text: '' }),
      {
        before: () => {
          if (counted >= limit) throw new Error('share spent');
        },
      },
      countRequests(() => counted++),
    );
    await transport.request(get);
    await transport.request(get);
    await assert.rejects(transport.request(get), /share spent/);
    assert.equal(counted, 2);
    limit = 3;
    await transport.request(get);
    assert.equal(counted, 3);
  });

  it('notes a refusal of the credentials: 401, or a kind of token Bitbucket never takes; not another 403', async () => {
    const refusals: number[] = [];
    const transport = hooked(
      replying(
        { status: 403, headers: {}, text: '{"type":"error","error":{"message":"You may not have access to this repository"}}' },
        { status: 401, headers: {}, text: '' },
        { status: 403, headers: {}, text: '{"type":"error","error":{"message":"This API is not accessible by this authentication mechanism"}}' },
      ),
      noteRefusal(() => refusals.push(refusals.length)),
    );
    await transport.request(get);
    assert.equal(refusals.length, 0, 'a plain 403 is about the repository, not the token');
    await transport.request(get);
    await transport.request(get);
    assert.equal(refusals.length, 2);
  });
});

describe('watchMethods', () => {
  class Port {
    readonly #calls: string[] = [];
    async one(n: number): Promise<number> {
      this.#calls.push('one');
      return n + 1;
    }
    async both(n: number): Promise<number> {
      return (await this.one(n)) * 10;
    }
    async refuse(): Promise<never> {
      throw new Error('refused');
    }
    get calls(): readonly string[] {
      return this.#calls;
    }
  }

  it('asks the hooks around each method called through it, with its name and arguments, in order', async () => {
    const seen: string[] = [];
    const hook = (name: string): RequestHooks<MethodCall, unknown> => ({
      before: (call) => void seen.push(`${name}.before ${call.method}(${call.args.join(',')})`),
      after: (call, res) => void seen.push(`${name}.after ${call.method} ${String(res)}`),
      failed: (call, err) => void seen.push(`${name}.failed ${call.method} ${(err as Error).message}`),
    });
    const port = watchMethods(new Port(), hook('a'), hook('b'));
    assert.equal(await port.one(1), 2);
    await assert.rejects(port.refuse(), /refused/);
    assert.deepEqual(seen, ['a.before one(1)', 'b.before one(1)', 'a.after one 2', 'b.after one 2', 'a.before refuse()', 'b.before refuse()', 'a.failed refuse refused', 'b.failed refuse refused']);
  });

  it("counts one call for a method that calls another of the port's own, and keeps the port's private state", async () => {
    let calls = 0;
    const inner = new Port();
    const port = watchMethods(inner, { before: () => void calls++ });
    assert.equal(await port.both(1), 20);
    assert.equal(calls, 1);
    assert.deepEqual(port.calls, ['one'], 'a getter reads the port itself');
  });

  it('a before that throws leaves the method uncalled', async () => {
    const inner = new Port();
    const port = watchMethods(inner, {
      before: () => {
        throw new Error('no');
      },
    });
    await assert.rejects(port.one(1), /no/);
    assert.deepEqual(inner.calls, []);
  });
});
