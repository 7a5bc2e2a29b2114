/**
 * Every file in examples/ runs as a user would run it from a clone (`node examples/<file>`, against the built
 * package in dist/), exits 0 and prints what the README says it prints. Each example runs twice where it can: on
 * a node of its own, and against nodes this test started and named to it (argument or environment variable).
 * Children are killed by PID on a timeout and after every test, so a failed assertion never leaks a process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isNativeAccelerationEnabled } from '../src/consistent/native';
import { startCluster } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';

const ROOT = path.join(__dirname, '..');
const EXAMPLES = path.join(ROOT, 'examples');
const BUILT = fs.existsSync(path.join(ROOT, 'dist', 'index.js'));
const TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Runs `node examples/<file> [...args]` from the repository root; rejects (after killing it) on a timeout. */
function runExample(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  // Addresses in the test's own environment must not redirect an example that should start its own node.
  const inherited = { ...process.env };
  delete inherited.DCACHE_ADDR;
  delete inherited.DCACHE_NODES;
  delete inherited.DCACHE_RESP_ADDR;
  // The runner may force colours; the examples' output is compared as plain text.
  delete inherited.FORCE_COLOR;
  const child = spawn(process.execPath, [path.join(EXAMPLES, file), ...args], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${file} did not exit within ${TIMEOUT_MS} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Asserts exit code 0 and returns stdout's lines. */
function succeeded(file: string, run: Run): string[] {
  assert.is(run.code, 0, `${file} exited ${run.code ?? run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return run.stdout.trimEnd().split('\n');
}

/** Each line equals its string or matches its pattern, and there are as many lines as expected. */
function expectLines(file: string, lines: string[], expected: Array<string | RegExp>): void {
  const shown = `${file} printed:\n${lines.join('\n')}`;
  assert.is(lines.length, expected.length, `line count\n${shown}`);
  expected.forEach((want, i) => {
    if (typeof want === 'string') assert.is(lines[i], want, shown);
    else assert.match(lines[i]!, want, shown);
  });
}

function numberIn(line: string, pattern: RegExp): number {
  const match = pattern.exec(line);
  assert.ok(match, `"${line}" matches ${pattern}`);
  return Number(match[1]);
}

const QUICK_START: Array<string | RegExp> = [
  'get user:42 -> {"name":"Ada"}',
  /^ttl user:42 -> \d+ ms$/,
  'set nx user:42 -> false',
  'incr visits -> 1',
  'incr visits 10 -> 11',
  'mget -> [ <Buffer 7b 22 6e 61 6d 65 22 3a 22 41 64 61 22 7d>, null ]',
  'delete user:42 -> true',
  'get user:42 -> null',
  'incr greeting -> ERR_NOT_INTEGER',
];

function checkQuickStart(lines: string[]): void {
  expectLines('quick-start.js', lines, QUICK_START);
  const ttl = numberIn(lines[1]!, /-> (\d+) ms/);
  assert.ok(ttl > 0 && ttl <= 60_000, `a TTL of at most 60000 ms left, got ${ttl}`);
}

const RING = [
  'nodes: 10.0.0.1:7000 10.0.0.2:7000 10.0.0.3:7000 | size: 3 | epoch: 3',
  '100000 keys: 10.0.0.1:7000 22980, 10.0.0.2:7000 24584, 10.0.0.3:7000 52436',
  'owner of user:42: b:7000',
  "two owners of user:42: [ 'b:7000', 'c:7000' ]",
  "owners of user:1 user:2: [ 'b:7000', 'b:7000' ]",
  'lookupBatch of user:0 user:1 user:4: a:7000 b:7000 c:7000',
  'checksum: 8389c0f9 | epoch: 4',
  "hash32('abc'): 0x32d153ff",
  `native addon: ${isNativeAccelerationEnabled}`,
];

const REDIS_CLIENT: Array<string | RegExp> = [
  'SET greeting hello -> OK',
  'GET greeting -> hello',
  /^TTL greeting -> (59|60)$/,
  'INCR visits -> 1',
  'MSET a b -> OK',
  "MGET a b nope -> [ '1', '2', null ]",
  "pipeline -> [ 'OK', 'x', 1 ]",
  /^LPUSH -> ERR unknown command 'lpush'/,
];

const AUTH = ['with the token -> only for token holders', 'without a token -> ERR_AUTH', 'with a wrong token -> ERR_AUTH'];

const ESM: Array<string | RegExp> = ['get esm -> imported', /^ping -> \d+\.\d\d ms$/];

/** cluster.js: three members, 1000 keys spread over them; with its own nodes, one leaves and hands its keys over. */
function checkCluster(lines: string[], ownNodes: boolean): void {
  const shown = `cluster.js printed:\n${lines.join('\n')}`;
  assert.is(lines[0], 'members: 3 alive', shown);
  assert.is(lines[1], 'mset: 1000 keys', shown);
  const held = new Map<string, number>();
  for (const line of lines.slice(2, 5)) {
    const match = /^ {2}(\S+) holds (\d+) keys$/.exec(line);
    assert.ok(match, shown);
    held.set(match[1]!, Number(match[2]));
  }
  assert.is(held.size, 3, shown);
  assert.is(
    [...held.values()].reduce((a, b) => a + b, 0),
    1000,
    `every key is held by exactly one member\n${shown}`,
  );
  for (const keys of held.values()) assert.ok(keys > 150, `each member holds a share of the keys\n${shown}`);
  const owner = /^owner of key:42: (\S+)$/.exec(lines[5] ?? '');
  assert.ok(owner && held.has(owner[1]!), shown);
  if (!ownNodes) {
    assert.is(lines.length, 6, shown);
    return;
  }
  assert.is(lines.length, 8, shown);
  const left = /^(\S+) left: 2 members alive$/.exec(lines[6]!);
  assert.ok(left && held.has(left[1]!), shown);
  const hits = numberIn(lines[7]!, /^mget after the leave: (\d+) hits, \d+ misses$/);
  const misses = numberIn(lines[7]!, /^mget after the leave: \d+ hits, (\d+) misses$/);
  assert.is(misses, 0, `the leaving node handed every key over\n${shown}`);
  assert.is(hits + misses, 1000, shown);
}

/** Every example, with the checks for a run on nodes of its own. */
const OWN_NODES: Record<string, (lines: string[]) => void> = {
  'quick-start.js': checkQuickStart,
  'cluster.js': (lines) => checkCluster(lines, true),
  'ring.js': (lines) => expectLines('ring.js', lines, RING),
  'redis-client.js': (lines) => expectLines('redis-client.js', lines, REDIS_CLIENT),
  'auth.js': (lines) => expectLines('auth.js', lines, AUTH),
  'esm.mjs': (lines) => expectLines('esm.mjs', lines, ESM),
};

const Examples = suite('examples');
Examples.after.each(async () => {
  killChildren();
  await closeAllNodes();
});

if (!BUILT) {
  console.log('examples: skipped, dist/ is missing (the examples load the built package: run `npm run build` or `npm ci`)');
} else {
  Examples('every file in examples/ has its checks here', () => {
    const files = fs.readdirSync(EXAMPLES).filter((file) => /\.(js|mjs)$/.test(file));
    assert.equal(files.sort(), Object.keys(OWN_NODES).sort());
  });

  Examples('every js snippet in the README is a verbatim part of a file in examples/', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const snippets = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
    assert.ok(snippets.length >= 4, `the README quotes the examples (found ${snippets.length} js snippets)`);
    // Lines compare without their indentation: an excerpt from inside a function is shown dedented.
    const linesOf = (text: string) =>
      text
        .trimEnd()
        .split('\n')
        .map((line) => line.trim());
    const files = Object.keys(OWN_NODES).map((file) => linesOf(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')));
    for (const snippet of snippets) {
      const want = linesOf(snippet);
      const found = files.some((lines) => lines.some((_, start) => want.every((line, i) => lines[start + i] === line)));
      assert.ok(found, `this README snippet is not a contiguous part of any file in examples/:\n${snippet}`);
    }
    // ring.js prints the same everywhere (but for its last line, native or not): the README shows that output.
    assert.ok(readme.includes(RING.slice(0, -1).join('\n')), 'the README shows what ring.js prints');
  });

  for (const [file, check] of Object.entries(OWN_NODES)) {
    Examples(`${file} runs on its own and prints what the README shows`, async () => {
      check(succeeded(file, await runExample(file)));
    });
  }

  Examples('quick-start.js against a node named by its argument', async () => {
    const node = await startTestNode();
    checkQuickStart(succeeded('quick-start.js', await runExample('quick-start.js', [node.address])));
  });

  Examples('esm.mjs against a node named by DCACHE_ADDR', async () => {
    const node = await startTestNode();
    expectLines('esm.mjs', succeeded('esm.mjs', await runExample('esm.mjs', [], { DCACHE_ADDR: node.address })), ESM);
  });

  Examples('redis-client.js against a RESP port named by DCACHE_RESP_ADDR', async () => {
    const node = await startTestNode({ respAddr: '127.0.0.1:0' });
    const run = await runExample('redis-client.js', [], { DCACHE_RESP_ADDR: node.respAddress });
    expectLines('redis-client.js', succeeded('redis-client.js', run), REDIS_CLIENT);
  });

  Examples('cluster.js against a running three-node cluster named by DCACHE_NODES', async () => {
    const nodes = await startCluster(3);
    const run = await runExample('cluster.js', [], { DCACHE_NODES: nodes.map((node) => node.address).join(',') });
    checkCluster(succeeded('cluster.js', run), false);
  });
}

Examples.run();
