/**
 * The RESP port driven by ioredis, the client most Node services already hold. Skipped (with a message) when
 * ioredis is not installed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type RedisClient from 'ioredis';
import { loadIoredis } from './helpers/ioredis';
import { closeAllRespServers, startRespTestServer, type TestRespServer } from './helpers/resp-server';
import { ScrambledBackend } from './helpers/resp-async-backend';

const Redis = loadIoredis('resp-ioredis');

const clients = new Set<RedisClient>();

async function connect(t: TestRespServer, options: Record<string, unknown> = {}): Promise<RedisClient> {
  const redis = new Redis!({
    host: '127.0.0.1',
    port: t.port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    ...options,
  });
  clients.add(redis);
  await redis.connect();
  return redis;
}

async function rejects(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    const text = (error as Error).message;
    if (typeof message === 'string') assert.is(text, message);
    else assert.match(text, message);
    return;
  }
  assert.unreachable(`expected the error ${String(message)}`);
}

const IO = suite('resp via ioredis');

IO.after.each(async () => {
  for (const redis of clients) redis.disconnect();
  clients.clear();
  await closeAllRespServers();
});

if (Redis !== undefined) {
  IO('connects (ready check via INFO, connectionName via CLIENT SETNAME) and runs the string commands', async () => {
    const t = await startRespTestServer();
    const redis = await connect(t, { connectionName: 'io-test' });
    assert.is(await redis.client('GETNAME'), 'io-test');
    assert.is(await redis.ping(), 'PONG');
    assert.is(await redis.ping('hi'), 'hi');
    assert.is(await redis.echo('echo'), 'echo');
    assert.is(await redis.set('k', 'v'), 'OK');
    assert.is(await redis.get('k'), 'v');
    assert.is(await redis.set('k', 'v2', 'NX'), null);
    assert.is(await redis.set('k', 'v2', 'XX'), 'OK');
    assert.is(await redis.set('k', 'v3', 'GET'), 'v2');
    assert.is(await redis.set('e', 'v', 'EX', 10), 'OK');
    assert.is(await redis.pttl('e'), 10_000);
    assert.is(await redis.set('e', 'w', 'KEEPTTL'), 'OK');
    assert.is(await redis.ttl('e'), 10);
    assert.is(await redis.setex('s', 5, 'v'), 'OK');
    assert.is(await redis.psetex('p', 500, 'v'), 'OK');
    assert.is(await redis.pttl('p'), 500);
    assert.is(await redis.setnx('s', 'x'), 0);
    assert.is(await redis.setnx('new', 'x'), 1);
    assert.is(await redis.getdel('new'), 'x');
    assert.is(await redis.getdel('new'), null);
    assert.is(await redis.getex('s', 'PERSIST'), 'v');
    assert.is(await redis.ttl('s'), -1);
    assert.is(await redis.getex('s', 'PX', 300), 'v');
    assert.is(await redis.pttl('s'), 300);
    assert.is(await redis.mset('a', '1', 'b', '2'), 'OK');
    assert.equal(await redis.mget('a', 'nope', 'b'), ['1', null, '2']);
    assert.is(await redis.exists('a', 'b', 'nope', 'a'), 3);
    assert.is(await redis.del('a', 'nope'), 1);
    assert.is(await redis.unlink('b'), 1);
    assert.is(await redis.strlen('k'), 2);
    assert.is(await redis.type('k'), 'string');
    assert.is(await redis.expire('k', 100), 1);
    assert.is(await redis.expire('k', 50, 'GT'), 0);
    assert.is(await redis.pexpire('k', 200_000, 'GT'), 1);
    assert.is(await redis.ttl('k'), 200);
    assert.is(await redis.persist('k'), 1);
    assert.is(await redis.persist('k'), 0);
    assert.is(await redis.ttl('missing'), -2);
    assert.is(await redis.dbsize(), 4); // k, e, s, p
    assert.is(await redis.select(0), 'OK');
    assert.is(await redis.flushdb(), 'OK');
    assert.is(await redis.dbsize(), 0);
    assert.is(await redis.flushall(), 'OK');
  });

  IO('counters, errors and expiry as ioredis reports them', async () => {
    const t = await startRespTestServer({ store: { maxValueBytes: 1024 } });
    const redis = await connect(t);
    assert.is(await redis.incr('n'), 1);
    assert.is(await redis.incrby('n', 9), 10);
    assert.is(await redis.decr('n'), 9);
    assert.is(await redis.decrby('n', 19), -10);
    await redis.set('s', 'text');
    await rejects(redis.incr('s'), 'ERR value is not an integer or out of range');
    await redis.set('max', '9223372036854775807');
    await rejects(redis.incr('max'), 'ERR increment or decrement would overflow');
    await rejects(redis.set('k', 'v', 'EX', 0), "ERR invalid expire time in 'set' command");
    await rejects(redis.set('k', 'v', 'EX', -1), "ERR invalid expire time in 'set' command");
    await rejects(redis.call('set', 'k', 'v', 'NX', 'XX'), 'ERR syntax error');
    await rejects(redis.select(3), 'ERR DB index is out of range');
    await rejects(redis.call('nosuch', 'a'), "ERR unknown command 'nosuch', with args beginning with: 'a' ");
    await rejects(redis.call('get'), "ERR wrong number of arguments for 'get' command");
    await rejects(redis.call('hello', '3'), 'NOPROTO unsupported protocol version');
    await rejects(redis.set('big', 'x'.repeat(1025)), /^ERR value is 1025 bytes; the limit is 1024 bytes/);
    assert.is(await redis.ping(), 'PONG', 'the connection survives every error');

    // Negative and zero TTLs delete, as in Redis.
    await redis.set('gone', 'v');
    assert.is(await redis.expire('gone', -5), 1);
    assert.is(await redis.exists('gone'), 0);
    // Expiry on the server's fake clock.
    await redis.set('short', 'v', 'PX', 50);
    t.clock.advance(50);
    assert.is(await redis.get('short'), null);
  });

  IO('binary keys and values (Buffers) round-trip byte for byte', async () => {
    const t = await startRespTestServer();
    const redis = await connect(t);
    const key = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x24, 0x2a]);
    const value = Buffer.alloc(10_000);
    for (let i = 0; i < value.length; i++) value[i] = (i * 13 + 7) & 0xff;
    assert.is(await redis.set(key, value), 'OK');
    const got = await redis.getBuffer(key);
    assert.ok(got !== null && got.equals(value));
    const both = await redis.mgetBuffer(key, Buffer.from('none'));
    assert.ok(both[0]!.equals(value) && both[1] === null);
    assert.is(await redis.strlen(key), value.length);
  });

  IO('a pipeline of 1,000 commands answers in order', async () => {
    const t = await startRespTestServer();
    const redis = await connect(t);
    const pipeline = redis.pipeline();
    for (let i = 0; i < 500; i++) {
      pipeline.set(`key:${i}`, `value:${i}`);
      pipeline.get(`key:${i}`);
    }
    const results = (await pipeline.exec())!;
    assert.is(results.length, 1000);
    for (let i = 0; i < 500; i++) {
      assert.equal(results[2 * i], [null, 'OK']);
      assert.equal(results[2 * i + 1], [null, `value:${i}`]);
    }
    assert.is(await redis.dbsize(), 500);
  });

  IO('a pipeline of 1,000 against a backend answering out of order still matches up', async () => {
    const t = await startRespTestServer({ wrap: (local) => new ScrambledBackend(local, 99) });
    const redis = await connect(t);
    const pipeline = redis.pipeline();
    for (let i = 0; i < 250; i++) {
      pipeline.set(`k${i}`, String(i));
      pipeline.incrby(`k${i}`, i);
      pipeline.get(`k${i}`);
      pipeline.exists(`k${i}`, 'nope');
    }
    const results = (await pipeline.exec())!;
    for (let i = 0; i < 250; i++) {
      assert.equal(results.slice(4 * i, 4 * i + 4), [
        [null, 'OK'],
        [null, 2 * i],
        [null, String(2 * i)],
        [null, 1],
      ]);
    }
    // Concurrent (non-pipelined) commands from many clients too.
    const others = await Promise.all(Array.from({ length: 5 }, () => connect(t)));
    const values = await Promise.all(
      others.flatMap((other, c) => Array.from({ length: 50 }, (_, i) => other.incr(`counter:${c}`).then((n) => [c, i, n]))),
    );
    for (const [, i, n] of values) assert.is(n, i! + 1);
  });

  IO('INFO parses for ioredis and has the keyspace', async () => {
    const t = await startRespTestServer();
    const redis = await connect(t);
    await redis.set('a', '1');
    const info = await redis.info();
    assert.match(info, /redis_version:7\.2\.0/);
    assert.match(info, /db0:keys=1,expires=0,avg_ttl=0/);
    assert.match(await redis.info('keyspace'), /^# Keyspace\r\ndb0:keys=1/);
    assert.equal(await redis.config('GET', 'save'), ['save', '']);
    const id = await redis.client('ID');
    assert.ok(typeof id === 'number' && id > 0);
  });
}

IO.run();
