/**
 * Ring routing cost per key, side by side: TS single-key lookup, native and TS batch lookups of 64 and 1024
 * keys per call, and the `hashring` package's get (ketama over md5) as the baseline. (What one native call
 * costs by itself is bench/hash.bench.ts's 1-byte row.)
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
import HashRingPackage = require('hashring');
import { HashRing } from '../src/consistent/ring';
import { nativeBinding } from '../src/consistent/native';
import { expectEqual, formatNs, measurePerItem, printTable, type PerItemTask } from './helpers/report';

const NODES = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000'];
const KEY_COUNT = 65536;
const KEY_BYTES = 16;

function makeKeys(): { joined: Buffer; strings: string[] } {
  const strings: string[] = [];
  for (let i = 0; i < KEY_COUNT; i++) strings.push(`k${i.toString(36).padStart(KEY_BYTES - 1, '0')}`);
  return { joined: Buffer.from(strings.join(''), 'latin1'), strings };
}

function spansFor(count: number, start: number): Uint32Array {
  const spans = new Uint32Array(count * 2);
  for (let i = 0; i < count; i++) {
    spans[2 * i] = (start + i) * KEY_BYTES;
    spans[2 * i + 1] = KEY_BYTES;
  }
  return spans;
}

async function main(): Promise<void> {
  const { joined, strings } = makeKeys();
  const jsRing = new HashRing({ native: false });
  const nativeRing = new HashRing();
  jsRing.setNodes(NODES);
  nativeRing.setNodes(NODES);
  const legacy = new HashRingPackage(NODES);
  const tasks: PerItemTask[] = [];
  let sink = 0;
  const PER = 1024;
  let cursor = 0;

  expectEqual(
    jsRing.lookupIndex(joined, 0, KEY_BYTES),
    nativeRing.lookupMany([strings[0]!]).map((id) => nativeRing.nodes.indexOf(id!))[0],
    'TS = native owner',
  );

  tasks.push({
    name: 'TS single-key lookup (bytes in a buffer)',
    perIteration: PER,
    run: () => {
      const base = cursor;
      cursor = (cursor + PER) % KEY_COUNT;
      for (let i = 0; i < PER; i++) sink ^= jsRing.lookupIndex(joined, ((base + i) & (KEY_COUNT - 1)) * KEY_BYTES, KEY_BYTES);
    },
  });
  tasks.push({
    name: 'TS single-key lookup (string key)',
    perIteration: PER,
    run: () => {
      const base = cursor;
      cursor = (cursor + PER) % KEY_COUNT;
      for (let i = 0; i < PER; i++) sink ^= jsRing.lookup(strings[(base + i) & (KEY_COUNT - 1)]!)!.length;
    },
  });
  for (const batch of [64, 1024]) {
    const spanSets = Array.from({ length: KEY_COUNT / batch }, (_, i) => spansFor(batch, i * batch));
    const out = new Int32Array(batch);
    for (const [label, ring] of [
      ['native', nativeRing],
      ['TS', jsRing],
    ] as const) {
      if (label === 'native' && !nativeBinding) continue;
      ring.lookupBatch(joined, spanSets[0]!, batch, out);
      expectEqual(out[batch - 1], jsRing.lookupIndex(joined, (batch - 1) * KEY_BYTES, KEY_BYTES), `${label} batch of ${batch}`);
      let set = 0;
      tasks.push({
        name: `${label} batch lookup, ${batch} keys per call`,
        perIteration: batch * 8,
        run: () => {
          for (let repeat = 0; repeat < 8; repeat++) {
            ring.lookupBatch(joined, spanSets[set]!, batch, out);
            set = (set + 1) % spanSets.length;
            sink ^= out[0]!;
          }
        },
      });
    }
  }
  // hashring keeps an LRU cache of 5000 results; cycling through 65536 distinct keys keeps its gets uncached.
  tasks.push({
    name: 'hashring get (ketama/md5, uncached), baseline',
    perIteration: 256,
    run: () => {
      const base = cursor;
      cursor = (cursor + 256) % KEY_COUNT;
      for (let i = 0; i < 256; i++) sink ^= legacy.get(strings[(base + i) & (KEY_COUNT - 1)]!).length;
    },
  });

  const results = await measurePerItem(tasks);
  const baseline = results[results.length - 1]!.nsPerItem;
  const tsSingle = results[0]!.nsPerItem;
  printTable(
    `Ring routing, ${NODES.length} nodes x 160 vnodes, ${KEY_BYTES}-byte keys (${nativeBinding ? 'native addon loaded' : 'native addon NOT loaded'})`,
    results.map((r) => ({
      path: r.name,
      'ns/key': formatNs(r.nsPerItem),
      'vs TS single': (r.nsPerItem / tsSingle).toFixed(2),
      'x faster than hashring': (baseline / r.nsPerItem).toFixed(1),
      '±%': r.rme.toFixed(1),
    })),
  );
  if (sink === 0.5) console.log(sink);
}

void main();
