/**
 * `npm install` works on every machine (`npm run test:install`, run by .ci/run after `npm run prebuild`):
 * - the package is packed, then installed into an empty folder with a PATH that holds only node, npm, sh and
 *   bash (no compiler, no python, no make), as on a Mac without the command-line tools or an Alpine image
 *   without build-base;
 * - without prebuilds the install still exits 0, says once that the TypeScript fallback will be used, and
 *   `require` and `import` both work with the fallback: a node starts and serves SET/GET;
 * - with the prebuild for this machine it loads the prebuilt binary and compiles nothing;
 * - the package holds only what a user needs (a stray test, benchmark or build output fails this).
 * Installs prefer npm's cache (`npm ci` filled it with the dependencies' tarballs); only their metadata may come
 * from the npm registry.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = path.join(__dirname, '..', '..');
const Install = suite('install');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dcache-install-'));
let tarball = '';

/** A folder of links to just node, npm, sh and bash: the PATH of a machine without build tools. */
function barePath(): string {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const which = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  for (const tool of ['node', 'npm', 'sh', 'bash']) {
    const link = path.join(bin, tool);
    if (!fs.existsSync(link)) fs.symlinkSync(fs.realpathSync(which(tool)), link);
  }
  return bin;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Installs a tarball into a fresh folder with the bare PATH; returns the folder and npm's output. */
function installInto(name: string, tgz: string): { app: string; output: string } {
  const app = path.join(work, name);
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: `app-${name}`, version: '1.0.0', private: true }));
  const bin = barePath();
  const { status, output } = run(
    path.join(bin, 'npm'),
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', tgz],
    app,
    {
      PATH: bin,
      DCACHE_REQUIRE_NATIVE: '',
      DCACHE_FORCE_JS: '',
      PREBUILDS_ONLY: '',
    },
  );
  assert.is(status, 0, `npm install failed:\n${output}`);
  return { app, output };
}

/** Runs a script in the app folder with the bare PATH: it requires or imports the package, serves SET/GET. */
function exercise(app: string, file: string, source: string): string {
  fs.writeFileSync(path.join(app, file), source);
  const { status, output } = run(path.join(work, 'bin', 'node'), [file], app, {
    PATH: path.join(work, 'bin'),
    DCACHE_REQUIRE_NATIVE: '',
    DCACHE_FORCE_JS: '',
    PREBUILDS_ONLY: '',
  });
  assert.is(status, 0, `${file} failed:\n${output}`);
  return output;
}

const SERVE = `
  const node = await startNode({ addr: '127.0.0.1:0', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  const client = new Client({ nodes: [node.address] });
  await client.set('k', 'v');
  const value = String(await client.get('k'));
  await client.close();
  await node.close();
  console.log(JSON.stringify({ native: isNativeAccelerationEnabled, value }));
`;
const CJS = `const { Client, startNode, isNativeAccelerationEnabled } = require('distributed-cache');\n(async () => {${SERVE}})();\n`;
const ESM = `import { Client, startNode, isNativeAccelerationEnabled } from 'distributed-cache';\n${SERVE}\n`;

function result(output: string): { native: boolean; value: string } {
  return JSON.parse(output.trim().split('\n').pop()!) as { native: boolean; value: string };
}

Install.before(() => {
  const { status, output } = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  assert.is(status, 0, output);
  const packed = JSON.parse(output.slice(output.indexOf('['))) as Array<{ filename: string }>;
  tarball = path.join(work, packed[0]!.filename);
});

Install.after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

Install('the package holds only what a user needs', () => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  const allowed = [
    /^dist\/.+\.(js|d\.ts)$/,
    /^native\/[^/]+\.(cc|h)$/,
    /^binding\.gyp$/,
    /^prebuilds\/[a-z0-9]+-[a-z0-9]+\/[^/]+\.node$/,
    /^docs\/[A-Z]+\.md$/,
    /^scripts\/install\.js$/,
    /^(package\.json|README\.md|LICENSE)$/,
  ];
  const stray = files.filter((file) => !allowed.some((pattern) => pattern.test(file)));
  assert.equal(stray, [], `files a user does not need: ${stray.join(', ')}`);
  for (const needed of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/main.js',
    'native/binding.cc',
    'binding.gyp',
    'scripts/install.js',
    'LICENSE',
    'README.md',
    'package.json',
  ]) {
    assert.ok(files.includes(needed), `the package holds ${needed}`);
  }
  assert.ok(!files.some((file) => /(^|\/)(test|bench|src)\//.test(file)), 'no tests, benchmarks or TypeScript sources');
});

Install('without a prebuild and without a compiler: the install exits 0, and require and import work with the TypeScript fallback', () => {
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
  fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  const bare = path.join(work, 'without-prebuilds.tgz');
  execFileSync('tar', ['czf', bare, '-C', unpacked, 'package']);
  const { app, output } = installInto('fallback', bare);
  assert.match(output, /no native addon for .* the TypeScript fallback will be used/);
  assert.equal(result(exercise(app, 'check.cjs', CJS)), { native: false, value: 'v' });
  assert.equal(result(exercise(app, 'check.mjs', ESM)), { native: false, value: 'v' });
  // TypeScript users resolve the typings through `exports` with node16 and bundler resolution, from ESM and CJS.
  fs.writeFileSync(
    path.join(app, 'typed.mts'),
    "import { Client, type ClientOptions } from 'distributed-cache';\nconst options: ClientOptions = { nodes: ['127.0.0.1:1'] };\nexport const client: Client = new Client(options);\n",
  );
  fs.writeFileSync(
    path.join(app, 'typed.cts'),
    "import { startNode } from 'distributed-cache';\nexport const start: typeof startNode = startNode;\n",
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [module, resolution] of [
    ['node16', 'node16'],
    ['esnext', 'bundler'],
  ] as const) {
    const files = resolution === 'bundler' ? ['typed.mts'] : ['typed.mts', 'typed.cts'];
    const typed = run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--types',
        'node',
        '--typeRoots',
        path.join(ROOT, 'node_modules', '@types'),
        '--module',
        module,
        '--moduleResolution',
        resolution,
        ...files,
      ],
      app,
    );
    assert.is(typed.status, 0, `tsc --moduleResolution ${resolution}:\n${typed.output}`);
  }
  // Asking for certainty turns the fallback into an error at run time.
  const required = run(path.join(work, 'bin', 'node'), ['-e', "require('distributed-cache')"], app, {
    PATH: path.join(work, 'bin'),
    DCACHE_REQUIRE_NATIVE: '1',
  });
  assert.is.not(required.status, 0, 'DCACHE_REQUIRE_NATIVE=1 fails without a native addon');
});

Install('with the prebuild for this machine and no compiler: the prebuilt binary loads', () => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
  const platform = `${process.platform}-${process.arch}`;
  if (!files.includes(`package/prebuilds/${platform}/`)) {
    console.log(`install: no prebuilds/${platform} in the package (run \`npm run prebuild\` first): skipping the prebuild install`);
    return;
  }
  const { app } = installInto('prebuilt', tarball);
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'distributed-cache', 'build')), 'nothing was compiled');
  assert.equal(result(exercise(app, 'check.cjs', CJS)), { native: true, value: 'v' });
  assert.equal(result(exercise(app, 'check.mjs', ESM)), { native: true, value: 'v' });
});

Install.run();
