/**
 * Reads .cpuprofile files (node --cpu-prof, as written by `bench/compare.ts --cpu-prof`) and prints where the
 * time went: self time per function (file:line function), and total time per file, as % of all samples
 * (idle included, so the figures say how busy the process was, too).
 *
 *   npx tsx bench/compare/profile-summary.ts bench/results/profiles/node-*.cpuprofile [--top 25] [--callers NAME]
 *
 * --callers NAME: for the functions called NAME, their self time split by the call path (up to 4 JS callers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const callersIndex = args.indexOf('--callers');
const callersOf = callersIndex >= 0 ? args[callersIndex + 1] : undefined;
const files = args.filter((a, i) => a.endsWith('.cpuprofile') && i !== topIndex + 1);

function short(url: string): string {
  if (url === '') return '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const rel = path.relative(process.cwd(), clean);
  return rel.startsWith('..') ? clean.replace(/^.*node_modules\//, 'node_modules/') : rel;
}

for (const file of files) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, t] of self) {
    const frame = byId.get(id)!.callFrame;
    const name = `${short(frame.url)}:${frame.lineNumber + 1} ${frame.functionName || '(anonymous)'}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + t);
    const fileKey = frame.url === '' ? `(${frame.functionName})` : short(frame.url);
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + t);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log('  self time by function:');
  for (const [name, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(t)}  ${name}`);
  if (callersOf !== undefined) {
    const paths = new Map<string, number>();
    for (const [id, t] of self) {
      if (byId.get(id)!.callFrame.functionName !== callersOf) continue;
      const chain: string[] = [];
      for (let p = parent.get(id); p !== undefined && chain.length < 4; p = parent.get(p)) {
        const f = byId.get(p)!.callFrame;
        if (f.url === '') continue;
        chain.push(`${f.functionName || '(anonymous)'} (${short(f.url)}:${f.lineNumber + 1})`);
      }
      const key = chain.join(' ← ');
      paths.set(key, (paths.get(key) ?? 0) + t);
    }
    console.log(`  ${callersOf} by call path:`);
    for (const [name, t] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${pct(t)}  ← ${name}`);
  }
  console.log('  self time by file:');
  for (const [name, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(t)}  ${name}`);
}
