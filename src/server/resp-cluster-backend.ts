/**
 * RespBackend for a cluster node (docs/ARCHITECTURE.md, "How a request flows"): a Redis client pointed at any
 * node's RESP port sees the whole cluster as one cache. Its key commands are translated into the request model
 * (resp/routed-backend.ts) and routed by the node's one KeyRouter, the binary port's too: keys this node owns
 * are served synchronously, the others forwarded once to their owner (or composed from binary requests, and
 * split per owner for MGET, MSET, DEL and EXISTS). DBSIZE, FLUSHDB/FLUSHALL and INFO speak for the whole
 * cluster (resp-cluster-scope.ts).
 */
import { UnavailableError } from '../errors';
import type { KeyRouter } from '../routing/key-router';
import { messageOf, type RawResponse } from '../routing/peer-answers';
import type { BackendInfo, MaybePromise } from '../resp/backend';
import { nodeInfo } from '../resp/local-backend';
import { RoutedRespBackend } from '../resp/routed-backend';
import { ClusterScope } from './resp-cluster-scope';
import type { RespClusterView } from './resp-cluster-wire';

export type { RespClusterView } from './resp-cluster-wire';

export class ClusterRespBackend extends RoutedRespBackend {
  private readonly scope: ClusterScope;

  constructor(cluster: RespClusterView, router: KeyRouter, clock?: () => number) {
    super(router, clock);
    const counters = router.counters;
    const ask = (peer: string, opcode: number): Promise<RawResponse> => {
      let pending: Promise<RawResponse>;
      try {
        pending = cluster.peers.request(peer, opcode, 0, null, null, 0);
      } catch (error) {
        pending = Promise.reject(error);
      }
      return pending.catch((error: unknown) => {
        counters.forwardFailures++;
        throw new UnavailableError(`the member ${peer} is unreachable: ${messageOf(error)}`);
      });
    };
    this.scope = new ClusterScope(cluster, router.local, counters, ask, () => nodeInfo(router.local));
  }

  /** Key requests sent to owners, requests that got no answer, and commands composed of two round trips. */
  get counters(): KeyRouter['counters'] {
    return this.router.counters;
  }

  dbsize(): MaybePromise<number> {
    return this.scope.dbsize();
  }

  flush(): MaybePromise<void> {
    return this.scope.flush();
  }

  info(): MaybePromise<BackendInfo> {
    return this.scope.info();
  }
}
