/**
 * Differential test: the same command sequence against a real redis-server and against our RESP port; every
 * reply must be identical (values, integers, nils, and error texts word for word). redis-server listens on a
 * unix socket in a temp directory (no port to race for) and is killed by PID in cleanup. Skipped with a
 * message when redis-server is not installed (apt-get install redis-server).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RespTestClient, closeAllClients, describe } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';

const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasRedis) console.log('resp-redis-diff: redis-server is not installed (apt-get install redis-server): skipping the differential test');

/** Replies here do not depend on timing (TTLs are whole seconds far from a boundary) or on the server's identity. */
const SCRIPT: string[][] = [
  ['SET', 'k', 'v', 'PXAT', '1000'],
  ['GET', 'k'],
  ['SET', 'k', 'v'],
  ['GETEX', 'k', 'EXAT', '1'],
  ['EXISTS', 'k'],
  ['SET', 'k', 'v'],
  ['SET', 'k', 'w', 'NX', 'GET'],
  ['SET', 'k', 'w', 'XX', 'GET'],
  ['SET', 'z', 'w', 'XX', 'GET'],
  ['GET', 'z'],
  ['SET', 'k', 'v', 'EX', '10', 'EX', '20'],
  ['TTL', 'k'],
  ['SET', 'k', 'v', 'PX', '10', 'EX', '20'],
  ['SET', 'k', 'v', 'KEEPTTL', 'KEEPTTL'],
  ['SET', 'k', 'v', 'GET', 'GET'],
  ['SET', 'k', 'v', 'NX', 'NX'],
  ['SET', 'k', 'v', 'EXAT', '0'],
  ['SET', 'k', 'v', 'EXAT', '-1'],
  ['SET', 'k', 'v', 'EX', '1.5'],
  ['SET', 'k', 'v', 'EX', ' 1'],
  ['SET', 'k', 'v', 'EX', '9223372036854775807'],
  ['GETEX', 'k', 'PERSIST', 'PERSIST'],
  ['GETEX', 'k', 'EX'],
  ['GETEX', 'nokey', 'FOO'],
  ['GETEX', 'nokey', 'EX', '0'],
  ['GETEX', 'k', 'EX', '0'],
  ['EXPIRE', 'k', '10', 'XX', 'GT'],
  ['EXPIRE', 'k', '10', 'NX'],
  ['EXPIRE', 'k', '20', 'XX', 'GT'],
  ['TTL', 'k'],
  ['EXPIRE', 'k', '5', 'XX', 'LT'],
  ['TTL', 'k'],
  ['EXPIRE', 'nokey', '-1'],
  ['EXPIRE', 'k', '-1', 'GT'],
  ['EXISTS', 'k'],
  ['SET', 'k', 'v'],
  ['EXPIRE', 'k', '-1', 'LT'],
  ['EXISTS', 'k'],
  ['EXPIRE', 'k', '1', 'lt', 'gt'],
  // GETSET: the old value, and the new one loses the TTL; TOUCH counts the keys that exist, repeats too.
  ['SET', 'gs', 'one', 'EX', '100'],
  ['GETSET', 'gs', 'two'],
  ['TTL', 'gs'],
  ['GET', 'gs'],
  ['GETSET', 'gs-absent', 'x'],
  ['GETSET', 'gs'],
  ['TOUCH', 'gs', 'gs', 'gs-absent', 'nokey'],
  ['TOUCH'],
  // The int64 bounds of EXPIRE's time, exactly (refused: the key stays).
  ['SET', 'k', 'v'],
  ['EXPIRE', 'k', '-9223372036854776'],
  ['EXISTS', 'k'],
  ['EXPIRE', 'k', '9223372036854776'],
  ['EXPIRE', 'k', '9223372036854775'],
  ['EXPIRE', 'k', '-9223372036854775'],
  ['EXISTS', 'k'],
  ['SET', 'k', 'v'],
  ['PEXPIRE', 'k', '9223372036854775807'],
  ['PEXPIREAT', 'k', '9223372036854775807'],
  ['EXPIREAT', 'k', '-9223372036854775809'],
  ['EXPIREAT', 'k', '9223372036854775'],
  ['EXISTS', 'k'],
  ['EXPIRE', 'k', '1', 'nx', 'nx'],
  ['PEXPIRE', 'k', '1', 'xx', 'xx'],
  ['EXPIRE', 'k', '9223372036854775807'],
  ['EXPIRE', 'k', 'x', 'y'],
  ['SETEX', 'k', '-5', 'v'],
  ['SETEX', 'k', '5'],
  ['PSETEX', 'k', 'abc', 'v'],
  ['SETNX', 'a', '1'],
  ['SETNX', 'a', '2'],
  ['INCRBY', 'a', '-9223372036854775808'],
  ['DECRBY', 'a', '-9223372036854775808'],
  ['INCRBY', 'a', '9223372036854775807'],
  ['INCR', 'nonum'],
  ['SET', 'f', '1.5'],
  ['INCR', 'f'],
  ['SET', 'f', '-0'],
  ['INCR', 'f'],
  ['SET', 'f', '+1'],
  ['INCR', 'f'],
  ['SET', 'f', '99999999999999999999'],
  ['INCR', 'f'],
  ['INCRBY', 'f', ''],
  ['DECR', 'nonum'],
  ['MSET', 'x', '1', 'y'],
  ['MGET', 'x', 'y', 'zz'],
  ['MSET', 'x', '1', 'y', '2'],
  ['MGET', 'x', 'y', 'zz'],
  ['DEL', 'x', 'x', 'y'],
  ['EXISTS', 'x', 'x', 'a'],
  ['STRLEN', 'a'],
  ['STRLEN', 'nope'],
  ['TYPE', 'a'],
  ['TYPE', 'nope'],
  ['PERSIST', 'a'],
  ['PERSIST', 'nope'],
  ['TTL', 'nope'],
  ['PTTL', 'a'],
  ['UNLINK', 'a', 'nope'],
  ['SELECT', '0'],
  ['SELECT', '-1'],
  ['SELECT', '99999999999999999999'],
  ['ECHO', 'a', 'b'],
  ['PING', 'x'],
  ['PING'],
  ['PING', 'a', 'b'],
  ['AUTH', 'x'],
  ['AUTH', 'default', 'x'],
  ['AUTH', 'x', 'y'],
  ['AUTH', 'a', 'b', 'c'],
  ['HELLO', 'x'],
  ['HELLO', '4'],
  ['HELLO', '1'],
  ['HELLO', '2', 'FOO'],
  ['HELLO', '2', 'AUTH', 'a'],
  ['CLIENT', 'SETNAME', 'a b'],
  ['CLIENT', 'SETNAME', 'ok'],
  ['CLIENT', 'GETNAME'],
  ['CLIENT', 'SETNAME', ''],
  ['CLIENT', 'GETNAME'],
  ['CLIENT', 'NOPE'],
  ['CLIENT'],
  ['CLIENT', 'GETNAME', 'x'],
  ['CONFIG', 'GET', 'save'],
  ['CONFIG', 'GET', 'appendonly'],
  ['CONFIG', 'GET', 'zzz'],
  ['CONFIG', 'SET', 'zzz', '1'],
  ['CONFIG'],
  ['COMMAND', 'NOPE'],
  ['FLUSHALL', 'X'],
  ['FLUSHDB', 'ASYNC', 'X'],
  ['DBSIZE'],
  ['FLUSHDB', 'SYNC'],
  ['DBSIZE'],
  ['FLUSHALL'],
  ['GETDEL', 'nope'],
  ['NOPE'],
  ['NOPE', 'a', 'b'],
  ['get'],
  ['expire', 'k'],
  ['Mset'],
  ['TTL', 'a', 'b'],
  ['SET', 'k'],
];

const Diff = suite('resp vs redis-server');
let redis: ChildProcess | undefined;
let dir: string | undefined;

Diff.after.each(async () => {
  closeAllClients();
  await closeAllRespServers();
  if (redis?.pid !== undefined && redis.exitCode === null) {
    const exited = once(redis, 'exit');
    process.kill(redis.pid, 'SIGKILL');
    await exited;
  }
  redis = undefined;
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Starts redis-server on a unix socket; resolves with the socket path once it accepts connections. */
async function startRedis(): Promise<string> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dcache-redis-'));
  const socketPath = path.join(dir, 'redis.sock');
  redis = spawn('redis-server', ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000);
    redis!.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/ready to accept connections/i.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    redis!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${log}`));
    });
  });
  return socketPath;
}

async function replies(target: number | string): Promise<string[]> {
  const client = await RespTestClient.connect(target);
  const out: string[] = [];
  for (const command of SCRIPT) out.push(describe(await client.call(...command)));
  client.destroy();
  return out;
}

/** Raw requests and the replies to them, as text: for what a client library would never send. */
const RAW: string[] = ['*-0\r\n', '*-10\r\n*1\r\n$4\r\nPING\r\n', '*-1\r\nPING\r\n', '*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n'];

async function rawReplies(target: number | string): Promise<string[]> {
  const out: string[] = [];
  for (const request of RAW) {
    const client = await RespTestClient.connect(target);
    client.sendRaw(request);
    out.push((await client.take(1)).map(describe).join(' '));
    client.destroy();
  }
  return out;
}

if (hasRedis) {
  Diff('negative multibulk counts are ignored as redis-server ignores them', async () => {
    const theirs = await rawReplies(await startRedis());
    const t = await startRespTestServer();
    assert.equal(await rawReplies(t.port), theirs);
  });

  Diff("every reply of the script equals redis-server's, error texts included", async () => {
    const theirs = await replies(await startRedis());
    const t = await startRespTestServer();
    t.clock.now = Date.now(); // EXAT/PXAT arguments are compared with the real time in redis-server
    const ours = await replies(t.port);
    const differences = SCRIPT.map((command, i) => ({ command: command.join(' '), redis: theirs[i], ours: ours[i] })).filter(
      (d) => d.redis !== d.ours,
    );
    assert.equal(differences, []);
  });
}

Diff.run();
