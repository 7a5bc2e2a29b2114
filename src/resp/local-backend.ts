/**
 * RespBackend over one node's Store: the RESP translator (routed-backend.ts) in front of a KeyRouter without a
 * cluster, so every key is served by the one local command handler (routing/local-keys.ts) and every method
 * answers synchronously (no promise anywhere); GET/MGET copy values straight from the slab into the reply.
 *
 * Scope: DBSIZE, FLUSHDB/FLUSHALL and INFO keyspace speak for THIS NODE's store only; INFO says so in the
 * cluster section (dcache_keyspace_scope:node).
 *
 * Multi-key commands (MGET, MSET, DEL, EXISTS) check every key and value against the store's limits before
 * touching anything, so a bad argument leaves no partial effect and no partly written reply.
 *
 * Reply size (response-guard.ts, the guard the server hands over with useResponseGuard): an MGET whose reply
 * would pass maxResponseBytes is refused (-ERR response too large) from lookups and value lengths, before a
 * byte is copied; a GET or MGET reply over 1 MiB likewise while the node's output budget is over.
 */
import type { Store } from '../cache/store';
import { KeyRouter } from '../routing/key-router';
import { LocalKeys } from '../routing/local-keys';
import type { BackendInfo } from './backend';
import { bytesToHuman } from './info';
import { RoutedRespBackend } from './routed-backend';

export interface LocalRespBackendOptions {
  /** The store's clock (pass the same one the Store was given). Default Date.now. */
  clock?: () => number;
}

export class LocalRespBackend extends RoutedRespBackend {
  private readonly keys: LocalKeys;

  constructor(store: Store, options: LocalRespBackendOptions = {}) {
    const keys = new LocalKeys(store);
    super(new KeyRouter(keys), options.clock);
    this.keys = keys;
  }

  dbsize(): number {
    return this.keys.size;
  }

  flush(): void {
    this.keys.flush();
  }

  info(): BackendInfo {
    return nodeInfo(this.keys);
  }
}

/** INFO's memory, stats and keyspace sections for this node's store. */
export function nodeInfo(keys: Pick<LocalKeys, 'stats'>): BackendInfo {
  const s = keys.stats();
  const info: BackendInfo = {
    memory: {
      used_memory: s.bytesUsed,
      used_memory_human: bytesToHuman(s.bytesUsed),
      maxmemory: s.maxMemoryBytes,
      maxmemory_human: bytesToHuman(s.maxMemoryBytes),
      maxmemory_policy: 'allkeys-lru',
      mem_allocator: 'dcache-slab',
      dcache_allocated_bytes: s.allocatedBytes,
      dcache_page_bytes: s.pageBytes,
      dcache_pages: s.pages,
    },
    stats: {
      keyspace_hits: s.hits,
      keyspace_misses: s.misses,
      expired_keys: s.expired,
      evicted_keys: s.evicted,
      dcache_sets: s.sets,
      dcache_deletes: s.deletes,
    },
    keyspace: {},
    cluster: { dcache_keyspace_scope: 'node', dcache_cluster_nodes: 1 },
  };
  if (s.items > 0) info['keyspace']!['db0'] = `keys=${s.items},expires=${s.expiringItems},avg_ttl=0`;
  return info;
}
