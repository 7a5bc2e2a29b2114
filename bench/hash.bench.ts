/** ns per key for xxHash32: the TypeScript implementation vs one native call per key. */
import { xxh32 } from '../src/consistent/xxhash32';
import { nativeBinding } from '../src/consistent/native';
import { expectEqual, formatNs, measurePerItem, printTable, type PerItemTask } from './helpers/report';

const KEYS_PER_ITERATION = 1024;

function keysOf(length: number): Buffer {
  const joined = Buffer.alloc(length * KEYS_PER_ITERATION);
  for (let i = 0; i < joined.length; i++) joined[i] = (i * 2654435761) >>> 24;
  return joined;
}

async function main(): Promise<void> {
  const tasks: PerItemTask[] = [];
  let sink = 0;
  for (const length of [1, 16, 64]) {
    const keys = keysOf(length);
    tasks.push({
      name: `TS xxh32, ${length}-byte key`,
      perIteration: KEYS_PER_ITERATION,
      run: () => {
        for (let i = 0; i < KEYS_PER_ITERATION; i++) sink ^= xxh32(keys, i * length, length, 0);
      },
    });
    if (nativeBinding) {
      const native = nativeBinding;
      expectEqual(native.hash32(keys, 0, length, 0), xxh32(keys, 0, length, 0), `native = TS for ${length} bytes`);
      tasks.push({
        name: `native hash32, ${length}-byte key (one call per key)`,
        perIteration: KEYS_PER_ITERATION,
        run: () => {
          for (let i = 0; i < KEYS_PER_ITERATION; i++) sink ^= native.hash32(keys, i * length, length, 0);
        },
      });
    }
  }
  const results = await measurePerItem(tasks);
  printTable(
    `xxHash32, ns per key (${nativeBinding ? 'native addon loaded' : 'native addon NOT loaded'})`,
    results.map((r) => ({
      path: r.name,
      'ns/key': formatNs(r.nsPerItem),
      'Mkeys/s': (r.opsPerSecond / 1e6).toFixed(1),
      '±%': r.rme.toFixed(1),
    })),
  );
  if (sink === 0.5) console.log(sink); // keeps the hashes observable so they are not optimised away
}

void main();
