/**
 * `npm run bench`: runs each microbenchmark (bench/*.bench.ts) in its own process (so one's heap and JIT state
 * do not colour the next), then the side-by-side comparison with redis-server and memcached (bench/compare.ts).
 * Pass file name fragments to run a subset: `npm run bench -- ring`, `npm run bench -- compare`.
 * `npm run bench -- --quick` gives the short version of every one of them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Options whose next argument is their value, not a file name fragment (compare.ts and resp.bench.ts take them). */
const VALUE_OPTIONS = new Set([
  '--baseline',
  '--rounds',
  '--requests',
  '--phase-ms',
  '--memory-keys',
  '--systems',
  '--sizes',
  '--modes',
  '--phases',
  '--node-flags',
  '--loadgen-flags',
]);
const args = process.argv.slice(2);
const filters = args.filter((arg, i) => !arg.startsWith('--') && !(i > 0 && VALUE_OPTIONS.has(args[i - 1]!)));
const selected = (file: string): boolean => filters.length === 0 || filters.some((filter) => file.includes(filter));
const files = fs
  .readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter(selected)
  .sort();
// The comparison runs last: it takes longest, and its table is what a reader looks for first.
if (selected('compare.ts')) files.push('compare.ts');

let failed = 0;
for (const file of files) {
  console.log(`\n=== bench/${file}`);
  const result = spawnSync(process.execPath, ['--expose-gc', '-r', 'tsx/cjs', path.join(__dirname, file), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
