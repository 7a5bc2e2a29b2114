/**
 * Routing the keys of one MGET body to their owners, the way a node splits a multi-key request: per key with
 * the TypeScript lookup (what the key router does below BATCH_ROUTING_MIN_KEYS), against one native batch call
 * over the whole body (spans built from the body, then ring.lookupBatch: what it does from there up), at the sizes a client sends (up to 62 keys of 1 MiB values per frame,
 * 256 of small ones). Checks that both give the same owners before timing them.
 */
import { HashRing } from '../src/consistent/ring';
import { isNativeAccelerationEnabled } from '../src/consistent/native';
import { encodeMgetBody, MultiKeyCursor } from '../src/protocol/multi';
import { formatNs, measurePerItem, printTable, type PerItemTask } from './helpers/report';

const NODES = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000'];
const SIZES = [4, 16, 62, 256];

async function main(): Promise<void> {
  if (!isNativeAccelerationEnabled) console.log('the native addon is not loaded: the batch path below is the TypeScript one');
  const ring = new HashRing();
  ring.setNodes(NODES);
  const cursor = new MultiKeyCursor();
  const spans = new Uint32Array(2 * 256);
  const owners = new Int32Array(256);
  const perKey = new Int32Array(256);
  const tasks: PerItemTask[] = [];
  for (const size of SIZES) {
    const body = encodeMgetBody(Array.from({ length: size }, (_, i) => `user:${String(i).padStart(11, '0')}`));
    const single = (): void => {
      cursor.begin(body, 0, body.length);
      let i = 0;
      while (cursor.nextKey()) perKey[i++] = ring.lookupIndex(body, cursor.keyOffset, cursor.keyLength);
    };
    const batch = (): void => {
      cursor.begin(body, 0, body.length);
      let i = 0;
      while (cursor.nextKey()) {
        spans[2 * i] = cursor.keyOffset;
        spans[2 * i + 1] = cursor.keyLength;
        i++;
      }
      ring.lookupBatch(body, spans, i, owners);
    };
    single();
    batch();
    for (let i = 0; i < size; i++) if (perKey[i] !== owners[i]) throw new Error(`bench self-check failed: key ${i} of ${size}`);
    tasks.push({ name: `${size} keys, per key (TS)`, perIteration: size, run: single });
    tasks.push({ name: `${size} keys, one batch call`, perIteration: size, run: batch });
  }
  const results = await measurePerItem(tasks);
  const rows = SIZES.map((size, i) => {
    const perKeyNs = results[2 * i]!.nsPerItem;
    const batchNs = results[2 * i + 1]!.nsPerItem;
    return {
      keys: size,
      'per key, ns/key': formatNs(perKeyNs),
      'batch, ns/key': formatNs(batchNs),
      'batch vs per key': `${(perKeyNs / batchNs).toFixed(2)}x`,
    };
  });
  printTable(`Routing an MGET body's keys (16-byte keys, 3 members x 160 vnodes; native addon: ${isNativeAccelerationEnabled})`, rows);
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
