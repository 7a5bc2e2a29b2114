import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { isNativeAccelerationEnabled } from '../src/consistent/native';
import { killAllChildren, runCli, startCliNode, waitForLog } from './helpers/cli';
import { RawPeer } from './helpers/raw-socket';
import { replicationHealth, replicationOf, transfersOf } from '../src/cli/status';

const Cli = suite('cli');
Cli.after.each(killAllChildren);

Cli('starts, serves SET/GET, and exits 0 on SIGTERM', async () => {
  const node = await startCliNode(['--max-memory', '16mb', '--log-level', 'info']);
  const peer = await RawPeer.connect(node.port);
  try {
    peer.write(
      Buffer.concat([
        encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'hello', value: 'world' }),
        encodeRequest({ opcode: Opcode.GET, requestId: 2, key: 'hello' }),
      ]),
    );
    const [set, get] = await peer.waitForResponses(2);
    assert.is(set!.status, Status.OK);
    assert.is(get!.value.toString(), 'world');
  } finally {
    peer.destroy();
  }
  process.kill(node.pid, 'SIGTERM');
  assert.is(await node.exited, 0);
  assert.match(node.stderr(), /SIGTERM/);
});

Cli(
  'the command tunes the C allocator when the native addon is loaded on glibc, and STATS says so (and how reads are buffered)',
  async () => {
    const node = await startCliNode(['--log-level', 'debug', '--read-buffer', '64kb']);
    const peer = await RawPeer.connect(node.port);
    try {
      peer.write(encodeRequest({ opcode: Opcode.STATS, requestId: 1, key: null }));
      const [stats] = await peer.waitForResponses(1);
      const { allocator, reads } = JSON.parse(stats!.value.toString()) as { allocator: { tuned: boolean }; reads: unknown };
      assert.equal(reads, { shared: true, bufferBytes: 64 * 1024 });
      const glibc =
        typeof (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime === 'string';
      assert.is(allocator.tuned, isNativeAccelerationEnabled && glibc);
      if (!allocator.tuned) assert.match(node.stderr(), /allocator settings not applied/);
    } finally {
      peer.destroy();
    }
  },
);

Cli('SIGINT also drains and exits 0; the Go-style single-dash flag works', async () => {
  const proc = runCli(['-addr', '127.0.0.1:0']);
  await waitForLog(proc, /listening on/);
  process.kill(proc.pid, 'SIGINT');
  assert.is(await proc.exited, 0);
});

for (const [args, pattern] of [
  [['--bogus'], /unknown flag --bogus/],
  [['--addr'], /--addr needs a value/],
  [['--addr', 'nonsense'], /has no port/],
  [['--addr', ':99999'], /bad port/],
  [['--max-memory', 'lots'], /--max-memory must be a size/],
  [['--max-memory', '1kb'], /maxMemoryBytes must be/],
  [['--max-value-size', '10'], /maxValueBytes must be/],
  [['--max-connections', '-3'], /unknown flag -3|must be a whole number|needs a value/],
  [['--log-level', 'loud'], /--log-level must be one of/],
  [['--transfer-share', '0'], /transferSharePercent must be an integer from 1 to 100/],
  [['extra'], /unexpected argument/],
] as Array<[string[], RegExp]>) {
  Cli(`a bad flag or value exits 2 with a message: ${args.join(' ')}`, async () => {
    const proc = runCli(args);
    assert.is(await proc.exited, 2);
    assert.match(proc.stderr(), pattern);
  });
}

Cli('--help and --version print and exit 0', async () => {
  const help = runCli(['--help']);
  assert.is(await help.exited, 0);
  assert.match(help.stdout(), /--addr HOST:PORT/);
  assert.match(help.stdout(), /--max-memory/);
  const version = runCli(['--version']);
  assert.is(await version.exited, 0);
  assert.match(version.stdout(), /^\d+\.\d+\.\d+\n$/);
});

Cli('status --server prints the member table (address, state, incarnation, keys) and the ring checksum', async () => {
  const seed = await startCliNode();
  const other = await startCliNode(['--join', seed.address]);
  const statusOutput = async () => {
    const status = runCli(['status', '--server', seed.address]);
    assert.is(await status.exited, 0);
    return status.stdout();
  };
  let output = '';
  for (let attempt = 0; attempt < 50 && (output.match(/alive/g) ?? []).length < 2; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    output = await statusOutput();
  }
  // Once both own their ranges, one key written through the seed lands on its owner only.
  const peer = await RawPeer.connect(seed.port);
  try {
    peer.write(encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: 'v', flags: 0 }));
    assert.is((await peer.waitForResponses(1))[0]!.status, Status.OK);
  } finally {
    peer.destroy();
  }
  output = await statusOutput();
  assert.match(output, /ADDRESS\s+STATE\s+INCARNATION\s+KEYS/);
  assert.match(output, new RegExp(`${seed.address.replace(/\./g, '\\.')} \\(self\\)\\s+alive\\s+\\d+\\s+\\d+`));
  assert.match(output, new RegExp(`${other.address.replace(/\./g, '\\.')}\\s+alive`));
  assert.match(output, /ring: epoch \d+, checksum [0-9a-f]{8}, 160 vnodes per member/);
  const keys = [...output.matchAll(/alive\s+\d+\s+(\d+)/g)].map((m) => Number(m[1]));
  assert.is(
    keys.reduce((a, b) => a + b, 0),
    1,
    'the one key is counted once, on its owner',
  );
});

Cli('status against a node that is not there exits 1 with a message', async () => {
  const status = runCli(['status', '--server', '127.0.0.1:1']);
  assert.is(await status.exited, 1);
  assert.match(status.stderr(), /distributed-cache status:/);
});

Cli('status names the range pulls a member runs and the members it hands ranges to', () => {
  assert.is(transfersOf({}), '-');
  assert.is(transfersOf({ cluster: { movement: { pullsInProgress: [], awaitingConfirmation: [] } } }), '-');
  assert.is(
    transfersOf({
      cluster: { movement: { pullsInProgress: [{ from: '127.0.0.1:7001', items: 1200 }], awaitingConfirmation: ['127.0.0.1:7002'] } },
    }),
    'pulling from 127.0.0.1:7001 (1200 items), handing over to 127.0.0.1:7002',
  );
});

Cli('status shows the replication health: copies per key, ranges being restored, replica acknowledgements', () => {
  assert.is(replicationOf({}, 1), '-');
  assert.is(replicationOf({ replication: { underReplicatedRanges: 0, replicaAckP99Ms: 0.5 } }, 2), 'ok, ack p99 0.5 ms');
  assert.is(replicationOf({ replication: { underReplicatedRanges: 12 } }, 2), 'restoring 12 ranges');
  assert.is(replicationHealth(1, 3, 0, 0), 'replication: 1 copy of each key (--replicas 1)\n');
  assert.is(replicationHealth(2, 3, 0, 0), 'replication: 2 copies of each key; healthy: every key has its copies\n');
  assert.is(replicationHealth(2, 3, 5, 0), 'replication: 2 copies of each key; degraded: 5 ranges being restored\n');
  assert.is(replicationHealth(3, 2, 0, 0), 'replication: 3 copies of each key; degraded: 2 members own keys, fewer than 3 copies\n');
  assert.match(replicationHealth(2, 3, 0, 1), /unknown for 1 unreachable member/);
});

Cli('status of a cluster with --replicas 2 says each key has its 2 copies', async () => {
  const seed = await startCliNode(['--replicas', '2']);
  const other = await startCliNode(['--replicas', '2', '--join', seed.address]);
  let output = '';
  for (let attempt = 0; attempt < 50 && !/healthy/.test(output); attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const status = runCli(['status', '--server', other.address]);
    assert.is(await status.exited, 0);
    output = status.stdout();
  }
  assert.match(output, /ADDRESS\s+STATE\s+INCARNATION\s+KEYS\s+TRANSFERS\s+REPLICATION/);
  assert.match(output, /replication: 2 copies of each key; healthy: every key has its copies/);
  assert.match(output, /alive\s+\d+\s+\d+\s+-\s+ok, ack p99/);
});

Cli.run();
