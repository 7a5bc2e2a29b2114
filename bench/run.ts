/**
 * `npm run bench`: runs each microbenchmark in its own process (so one's heap and JIT state do not colour
 * the next). Pass file name fragments to run a subset: `npm run bench -- ring`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const files = fs
  .readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

let failed = 0;
for (const file of files) {
  console.log(`\n=== bench/${file}`);
  const result = spawnSync(process.execPath, ['--expose-gc', '-r', 'tsx/cjs', path.join(__dirname, file), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
