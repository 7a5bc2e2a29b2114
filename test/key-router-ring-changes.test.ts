/**
 * The key router during ring changes (docs/ARCHITECTURE.md, "Data movement") with the ring, the peers and data
 * movement faked: a request that read its key through is answered however the ring moves meanwhile, and the
 * requests queued behind it on the key are answered after it; a node still joining serves only what members
 * forward to it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../src/cache/store';
import { HashRing } from '../src/consistent/ring';
import { Status } from '../src/protocol/constants';
import { KeyRouter } from '../src/routing/key-router';
import { LocalKeys } from '../src/routing/local-keys';
import { KeyOp, KeyRequest } from '../src/routing/request';
import type { RawResponse, ReplySink } from '../src/routing/sink';
import { eventually } from './helpers/wait';

const ReadThroughRouting = suite('key router across ring changes');

const SELF = '127.0.0.1:7101';
const OTHER = '127.0.0.1:7102';

/** A sink that records the first answer it gets, as text. */
class Answer implements ReplySink {
  text: string | undefined;
  readonly sizer = { header: () => 0, item: () => 0 };
  private set(text: string): void {
    this.text ??= text;
  }
  stored(): void {
    this.set('stored');
  }
  value(bytes: Uint8Array | null): void {
    this.set(bytes === null ? 'null' : Buffer.from(bytes).toString());
  }
  flag(done: boolean): void {
    this.set(`flag ${done}`);
  }
  number(n: number): void {
    this.set(`number ${n}`);
  }
  bigint(n: bigint): void {
    this.set(`bigint ${n}`);
  }
  ok(): void {
    this.set('ok');
  }
  beginValues(): void {}
  missing(): void {}
  endValues(): void {
    this.set('values');
  }
  values(): void {
    this.set('values');
  }
  error(error: unknown): void {
    this.set(`error ${String(error)}`);
  }
  relay(response: RawResponse, owner: string): void {
    this.set(`relay from ${owner}: ${response.value.toString()}`);
  }
  mayRefuse(): boolean {
    return false;
  }
  refused(): boolean {
    return false;
  }
  later(): ReplySink {
    return this;
  }
}

function get(key: string): KeyRequest {
  const r = new KeyRequest();
  r.op = KeyOp.GET;
  r.keyBuf = Buffer.from(key);
  r.keyLen = r.keyBuf.length;
  return r;
}

ReadThroughRouting('a read-through whose key moves to another member meanwhile goes on to it, and the next request too', async () => {
  const ring = new HashRing();
  ring.setNodes([SELF, OTHER]);
  let i = 0;
  while (ring.lookup(`moving:${i}`) !== SELF) i++;
  const key = `moving:${i}`;
  const cluster = {
    selfId: SELF,
    ring,
    hasQuorum: true,
    joining: false,
    staleGuard: { refusedWithoutQuorum: 0 },
    replicas: 1,
    isSuspect: () => false,
  };
  const sent: string[] = [];
  const peers = {
    request(peer: string, _opcode: number, _flags: number, k: Uint8Array | null): Promise<RawResponse> {
      sent.push(`${peer} ${Buffer.from(k!).toString()}`);
      return Promise.resolve({ status: Status.OK, extrasHigh: 0, extrasLow: 0, value: Buffer.from('from the new owner') });
    },
  };
  let fillDone!: () => void;
  const fill = new Promise<void>((resolve) => (fillDone = resolve));
  const readThrough = { active: true, sourceOf: () => OTHER, fill: () => fill };
  const router = new KeyRouter(new LocalKeys(new Store()), cluster, peers, readThrough);
  const first = new Answer();
  router.route(get(key), first);
  const second = new Answer();
  router.route(get(key), second);
  // While the copy is on its way, this node leaves the ring: the key is the other member's now.
  ring.setNodes([OTHER]);
  fillDone();
  await eventually(() => first.text !== undefined && second.text !== undefined, 'both requests to be answered', 2000);
  assert.is(first.text, `relay from ${OTHER}: from the new owner`);
  assert.is(second.text, `relay from ${OTHER}: from the new owner`);
  assert.equal(sent, [`${OTHER} ${key}`, `${OTHER} ${key}`]);
  assert.is(router.keysHeldInOrder, 0);
});

ReadThroughRouting('while joining, a client request is refused and one a member forwards is served', () => {
  // The ring of a node that has met only its seed: the key may be a member's it has not heard of yet.
  const ring = new HashRing();
  ring.setNodes([SELF, OTHER]);
  let i = 0;
  while (ring.lookup(`joining:${i}`) !== SELF) i++;
  const cluster = {
    selfId: SELF,
    ring,
    hasQuorum: true,
    joining: true,
    staleGuard: { refusedWithoutQuorum: 0 },
    replicas: 1,
    isSuspect: () => false,
  };
  const store = new Store();
  store.set(`joining:${i}`, 'here');
  const router = new KeyRouter(new LocalKeys(store), cluster, undefined, undefined);
  const fromClient = new Answer();
  router.route(get(`joining:${i}`), fromClient);
  assert.match(fromClient.text ?? '', /UnavailableError: this node is joining the cluster/);
  const forwarded = get(`joining:${i}`);
  forwarded.forwarded = true;
  const fromMember = new Answer();
  router.route(forwarded, fromMember);
  assert.is(fromMember.text, 'stored');
  cluster.joining = false;
  const afterJoin = new Answer();
  router.route(get(`joining:${i}`), afterJoin);
  assert.is(afterJoin.text, 'stored');
  assert.is(router.counters.refusedWhileJoining, 1);
});

ReadThroughRouting.run();
