import { Store } from '../src/cache/store';
import { LRUCache } from 'lru-cache';
const N = 3_000_000, K = 100_000;
let sink = 0;
function t(name: string, f: () => void) {
  for (let r = 0; r < 4; r++) { const t0 = performance.now(); f(); const dt = performance.now() - t0; if (r === 3) console.log(name.padEnd(30), (dt * 1e6 / N).toFixed(1), 'ns/op'); }
}
const keys: string[] = []; const vals: Buffer[] = []; const kbufs: Buffer[] = [];
for (let i = 0; i < K; i++) { keys.push(Buffer.from('key:' + String(i).padStart(12,'0')).toString('latin1')); vals.push(Buffer.alloc(100, i & 255)); kbufs.push(Buffer.from(keys[i]!)); }
const store = new Store({ maxMemoryBytes: 128 * 2 ** 20, expiryIntervalMs: 0 });
const lru = new LRUCache<string, Buffer>({ max: K });
for (let i = 0; i < K; i++) { store.set(keys[i]!, vals[i]!); lru.set(keys[i]!, vals[i]!); }
const only = process.argv[2];
const kb = Buffer.concat(kbufs);
if (!only || only === 'lru') t('lru get', () => { for (let i = 0; i < N; i++) sink += lru.get(keys[i % K]!)!.length; });
if (!only || only === 'get') t('store get', () => { for (let i = 0; i < N; i++) sink += store.get(keys[i % K]!)!.length; });
if (!only || only === 'ttl') t('store ttl (hash+probe)', () => { for (let i = 0; i < N; i++) sink += store.ttl(keys[i % K]!); });
if (!only || only === 'lookup') t('store lookup (bytes)', () => { for (let i = 0; i < N; i++) sink += store.lookup(kb, (i % K) * 16, 16); });
if (!only || only === 'lruset') t('lru set', () => { for (let i = 0; i < N; i++) lru.set(keys[i % K]!, vals[(i + 7) % K]!); });
if (!only || only === 'set') t('store set', () => { for (let i = 0; i < N; i++) store.set(keys[i % K]!, vals[(i + 7) % K]!); });
console.log(sink > 0);
