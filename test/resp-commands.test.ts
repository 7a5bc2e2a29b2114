import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RespReplyError, RespTestClient, closeAllClients, text } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer, type TestRespServer } from './helpers/resp-server';

interface Ctx {
  t: TestRespServer;
  c: RespTestClient;
}

const Commands = suite<Ctx>('resp commands');

Commands.before.each(async (ctx) => {
  ctx.t = await startRespTestServer({ store: { maxValueBytes: 4096, maxKeyBytes: 64 } });
  ctx.c = await RespTestClient.connect(ctx.t.port);
});

Commands.after.each(async () => {
  closeAllClients();
  await closeAllRespServers();
});

Commands('PING, ECHO, SELECT, HELLO, AUTH', async ({ c }) => {
  assert.is(await c.call('PING'), 'PONG');
  assert.is(await c.str('ping', 'hello world'), 'hello world');
  assert.is(await c.err('PING', 'a', 'b'), "ERR wrong number of arguments for 'ping' command");
  assert.is(await c.str('ECHO', Buffer.from([0, 13, 10, 255])), '\u0000\r\n\ufffd');
  assert.is(await c.err('ECHO'), "ERR wrong number of arguments for 'echo' command");
  assert.is(await c.call('SELECT', '0'), 'OK');
  assert.is(await c.err('SELECT', '1'), 'ERR DB index is out of range');
  assert.is(await c.err('SELECT', 'x'), 'ERR value is not an integer or out of range');
  const hello = text(await c.call('HELLO', '2')) as unknown[];
  assert.equal(hello.slice(0, 6), ['server', 'redis', 'version', '7.2.0', 'proto', 2]);
  assert.equal(hello.slice(8), ['mode', 'standalone', 'role', 'master', 'modules', []]);
  assert.is(typeof hello[7], 'number');
  assert.is((text(await c.call('HELLO')) as unknown[]).length, 14);
  assert.is(await c.err('HELLO', '3'), 'NOPROTO unsupported protocol version');
  assert.is(await c.err('HELLO', '1'), 'NOPROTO unsupported protocol version');
  assert.is(await c.err('HELLO', 'x'), 'ERR Protocol version is not an integer or out of range');
  assert.is(await c.err('HELLO', '2', 'FOO'), "ERR Syntax error in HELLO option 'FOO'");
  assert.is((text(await c.call('HELLO', '2', 'AUTH', 'default', 'any', 'SETNAME', 'me')) as unknown[]).length, 14);
  assert.is(await c.str('CLIENT', 'GETNAME'), 'me');
  assert.is(await c.err('HELLO', '2', 'AUTH', 'alice', 'pw'), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.is(
    await c.err('AUTH', 'secret'),
    'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  );
  assert.is(await c.call('AUTH', 'default', 'whatever'), 'OK');
  assert.is(await c.err('AUTH', 'bob', 'pw'), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.is(await c.err('AUTH', 'a', 'b', 'c'), 'ERR syntax error');
});

Commands('unknown commands and wrong arity, exactly as Redis 7 words them', async ({ c }) => {
  assert.is(await c.err('FOO'), "ERR unknown command 'FOO', with args beginning with: ");
  assert.is(await c.err('foo', 'a', 'b c'), "ERR unknown command 'foo', with args beginning with: 'a' 'b c' ");
  // Newlines in an echoed argument become spaces: the framing cannot be broken.
  assert.is(await c.err('nope', 'x\r\ny'), "ERR unknown command 'nope', with args beginning with: 'x  y' ");
  const long = await c.err('nope', 'a'.repeat(300), 'b');
  assert.ok(long.length < 300, 'arguments are cut at about 128 bytes');
  assert.is(await c.err('GET'), "ERR wrong number of arguments for 'get' command");
  assert.is(await c.err('get', 'a', 'b'), "ERR wrong number of arguments for 'get' command");
  assert.is(await c.err('SET', 'k'), "ERR wrong number of arguments for 'set' command");
  assert.is(await c.err('MSET', 'a'), "ERR wrong number of arguments for 'mset' command");
  assert.is(await c.err('MSET', 'a', 'b', 'c'), "ERR wrong number of arguments for 'mset' command");
  assert.is(await c.err('CLIENT'), "ERR wrong number of arguments for 'client' command");
  assert.is(await c.err('CLIENT', 'SETNAME'), "ERR wrong number of arguments for 'client|setname' command");
  assert.is(await c.err('CLIENT', 'FOO'), "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
  assert.is(await c.err('CONFIG', 'foo'), "ERR unknown subcommand 'foo'. Try CONFIG HELP.");
  assert.is(await c.err('COMMAND', 'foo'), "ERR unknown subcommand 'foo'. Try COMMAND HELP.");
  assert.is(await c.err('DBSIZE', 'x'), "ERR wrong number of arguments for 'dbsize' command");
  // Command names are case-insensitive.
  assert.is(await c.call('sEt', 'k', 'v'), 'OK');
  assert.is(await c.str('gEt', 'k'), 'v');
});

Commands('GET/SET with NX, XX, GET, KEEPTTL and the expire options', async ({ c, t }) => {
  assert.is(await c.str('GET', 'k'), null);
  assert.is(await c.call('SET', 'k', 'v1'), 'OK');
  assert.is(await c.call('SET', 'k', 'v2', 'NX'), null);
  assert.is(await c.call('SET', 'new', 'x', 'XX'), null);
  assert.is(await c.str('GET', 'new'), null);
  assert.is(await c.call('SET', 'k', 'v3', 'xx'), 'OK');
  assert.is(await c.str('SET', 'k', 'v4', 'GET'), 'v3');
  assert.is(await c.str('SET', 'fresh', 'f', 'GET'), null);
  assert.is(await c.str('SET', 'k', 'v5', 'NX', 'GET'), 'v4', 'NX GET: nothing set, old value returned');
  assert.is(await c.str('GET', 'k'), 'v4');
  assert.is(await c.str('SET', 'absent', 'a', 'XX', 'GET'), null);
  assert.is(await c.str('GET', 'absent'), null);

  assert.is(await c.call('SET', 'e', 'v', 'EX', '10'), 'OK');
  assert.is(await c.call('PTTL', 'e'), 10_000);
  assert.is(await c.call('SET', 'e', 'v', 'PX', '1500'), 'OK');
  assert.is(await c.call('PTTL', 'e'), 1500);
  assert.is(await c.call('SET', 'e', 'v2', 'KEEPTTL'), 'OK');
  assert.is(await c.call('PTTL', 'e'), 1500, 'KEEPTTL keeps the TTL');
  assert.is(await c.call('SET', 'e', 'v3'), 'OK');
  assert.is(await c.call('PTTL', 'e'), -1, 'a plain SET clears the TTL');
  const nowSec = Math.floor(t.clock.now / 1000);
  assert.is(await c.call('SET', 'e', 'v', 'EXAT', String(nowSec + 100)), 'OK');
  const left = (await c.call('PTTL', 'e')) as number;
  assert.ok(left > 99_000 && left <= 100_000, `EXAT ttl ${left}`);
  assert.is(await c.call('SET', 'e', 'v', 'PXAT', String(t.clock.now + 2500)), 'OK');
  assert.is(await c.call('PTTL', 'e'), 2500);
  assert.is(await c.call('SET', 'e', 'v', 'PXAT', String(t.clock.now - 1)), 'OK', 'an absolute time in the past sets...');
  assert.is(await c.str('GET', 'e'), null, '...and the key is gone at once');
  assert.is(await c.call('SET', 'e', 'v', 'EX', '5', 'EX', '7'), 'OK', 'the same option twice: the last wins');
  assert.is(await c.call('PTTL', 'e'), 7000);

  t.clock.advance(7000);
  assert.is(await c.str('GET', 'e'), null, 'expired on the fake clock');
});

Commands('SET errors: syntax, integers and expire times as Redis words them', async ({ c }) => {
  const syntax = 'ERR syntax error';
  assert.is(await c.err('SET', 'k', 'v', 'NX', 'XX'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'XX', 'NX'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'EX', '10', 'PX', '100'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'KEEPTTL', 'EX', '1'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'EX', '1', 'KEEPTTL'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'EX'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'PERSIST'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'FOO'), syntax);
  assert.is(await c.err('SET', 'k', 'v', 'EX', '0'), "ERR invalid expire time in 'set' command");
  assert.is(await c.err('SET', 'k', 'v', 'EX', '-5'), "ERR invalid expire time in 'set' command");
  assert.is(await c.err('SET', 'k', 'v', 'PX', '0'), "ERR invalid expire time in 'set' command");
  assert.is(await c.err('SET', 'k', 'v', 'EX', '9223372036854776'), "ERR invalid expire time in 'set' command");
  assert.is(await c.err('SET', 'k', 'v', 'EX', 'abc'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('SET', 'k', 'v', 'EX', '1.5'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('SET', 'k', 'v', 'EX', '01'), 'ERR value is not an integer or out of range');
  assert.is(await c.str('GET', 'k'), null, 'no error left a key behind');
});

Commands('SETEX, PSETEX, SETNX, GETDEL, GETEX', async ({ c, t }) => {
  assert.is(await c.call('SETEX', 'a', '10', 'v'), 'OK');
  assert.is(await c.call('PTTL', 'a'), 10_000);
  assert.is(await c.err('SETEX', 'a', '0', 'v'), "ERR invalid expire time in 'setex' command");
  assert.is(await c.err('SETEX', 'a', '-1', 'v'), "ERR invalid expire time in 'setex' command");
  assert.is(await c.err('SETEX', 'a', 'x', 'v'), 'ERR value is not an integer or out of range');
  assert.is(await c.call('PSETEX', 'b', '250', 'v'), 'OK');
  assert.is(await c.call('PTTL', 'b'), 250);
  assert.is(await c.err('PSETEX', 'b', '0', 'v'), "ERR invalid expire time in 'psetex' command");
  assert.is(await c.call('SETNX', 'n', '1'), 1);
  assert.is(await c.call('SETNX', 'n', '2'), 0);
  assert.is(await c.str('GET', 'n'), '1');

  assert.is(await c.str('GETDEL', 'n'), '1');
  assert.is(await c.str('GETDEL', 'n'), null);
  assert.is(await c.call('EXISTS', 'n'), 0);

  await c.call('SET', 'g', 'v');
  assert.is(await c.str('GETEX', 'g'), 'v');
  assert.is(await c.call('PTTL', 'g'), -1);
  assert.is(await c.str('GETEX', 'g', 'EX', '30'), 'v');
  assert.is(await c.call('PTTL', 'g'), 30_000);
  assert.is(await c.str('GETEX', 'g', 'PX', '700'), 'v');
  assert.is(await c.call('PTTL', 'g'), 700);
  assert.is(await c.str('GETEX', 'g', 'PERSIST'), 'v');
  assert.is(await c.call('PTTL', 'g'), -1);
  assert.is(await c.str('GETEX', 'g', 'PXAT', String(t.clock.now + 900)), 'v');
  assert.is(await c.call('PTTL', 'g'), 900);
  assert.is(await c.str('GETEX', 'g', 'EXAT', String(Math.floor(t.clock.now / 1000) - 10)), 'v', 'a past EXAT returns the value...');
  assert.is(await c.call('EXISTS', 'g'), 0, '...and deletes the key');
  assert.is(await c.str('GETEX', 'missing', 'EX', '10'), null);
  assert.is(await c.call('GETEX', 'g', 'EX', '0'), null, 'a missing key answers nil before the time is checked (Redis order)');
  await c.call('SET', 'g', 'v');
  assert.is(await c.err('GETEX', 'g', 'EX', '0'), "ERR invalid expire time in 'getex' command");
  assert.is(await c.err('GETEX', 'g', 'NX'), 'ERR syntax error');
  assert.is(await c.err('GETEX', 'g', 'PERSIST', 'EX', '1'), 'ERR syntax error');
  assert.is(await c.err('GETEX', 'g', 'EX', '1', 'PERSIST'), 'ERR syntax error');
  assert.is(await c.err('GETEX', 'g', 'KEEPTTL'), 'ERR syntax error');
});

Commands('DEL, UNLINK, EXISTS and TYPE with several keys', async ({ c }) => {
  assert.is(await c.call('MSET', 'a', '1', 'b', '2', 'c', '3'), 'OK');
  assert.is(await c.call('EXISTS', 'a', 'b', 'x', 'a'), 3, 'a repeated key counts each time');
  assert.is(await c.call('DEL', 'a', 'x', 'a'), 1, 'a repeated key is deleted once');
  assert.is(await c.call('UNLINK', 'b', 'c'), 2);
  assert.is(await c.call('EXISTS', 'a', 'b', 'c'), 0);
  assert.is(await c.err('DEL'), "ERR wrong number of arguments for 'del' command");
  await c.call('SET', 't', 'v');
  assert.is(await c.call('TYPE', 't'), 'string');
  assert.is(await c.call('TYPE', 'nope'), 'none');
});

Commands('EXPIRE, PEXPIRE, EXPIREAT, PERSIST, TTL, PTTL with Redis semantics', async ({ c, t }) => {
  assert.is(await c.call('EXPIRE', 'missing', '10'), 0);
  assert.is(await c.call('TTL', 'missing'), -2);
  assert.is(await c.call('PTTL', 'missing'), -2);
  await c.call('SET', 'k', 'v');
  assert.is(await c.call('TTL', 'k'), -1);
  assert.is(await c.call('PERSIST', 'k'), 0, 'no TTL to remove');
  assert.is(await c.call('EXPIRE', 'k', '100'), 1);
  assert.is(await c.call('TTL', 'k'), 100);
  t.clock.advance(1400);
  assert.is(await c.call('TTL', 'k'), 99, 'TTL rounds to the nearest second (98.6 → 99)');
  assert.is(await c.call('PTTL', 'k'), 98_600);
  assert.is(await c.call('PEXPIRE', 'k', '1234'), 1);
  assert.is(await c.call('PTTL', 'k'), 1234);
  assert.is(await c.call('PERSIST', 'k'), 1);
  assert.is(await c.call('PTTL', 'k'), -1);
  assert.is(await c.call('EXPIREAT', 'k', String(Math.floor(t.clock.now / 1000) + 50)), 1);
  const left = (await c.call('PTTL', 'k')) as number;
  assert.ok(left > 49_000 && left <= 50_000, `EXPIREAT ttl ${left}`);
  assert.is(await c.call('PEXPIREAT', 'k', String(t.clock.now + 5000)), 1);
  assert.is(await c.call('PTTL', 'k'), 5000);

  // Non-positive TTLs delete the key (and count as done).
  assert.is(await c.call('EXPIRE', 'k', '0'), 1);
  assert.is(await c.call('EXISTS', 'k'), 0);
  await c.call('SET', 'k', 'v');
  assert.is(await c.call('PEXPIRE', 'k', '-100'), 1);
  assert.is(await c.call('EXISTS', 'k'), 0);
  await c.call('SET', 'k', 'v');
  assert.is(await c.call('EXPIREAT', 'k', '1'), 1);
  assert.is(await c.call('EXISTS', 'k'), 0);

  // Expiry on the fake clock.
  await c.call('SET', 'k', 'v', 'PX', '100');
  t.clock.advance(99);
  assert.is(await c.str('GET', 'k'), 'v');
  t.clock.advance(1);
  assert.is(await c.str('GET', 'k'), null);
  assert.is(await c.call('TTL', 'k'), -2);

  assert.is(await c.err('EXPIRE', 'k', 'abc'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('EXPIRE', 'k', '99999999999999999'), "ERR invalid expire time in 'expire' command");
  assert.is(await c.err('EXPIRE', 'k'), "ERR wrong number of arguments for 'expire' command");
});

Commands('EXPIRE NX / XX / GT / LT', async ({ c }) => {
  await c.call('SET', 'k', 'v');
  assert.is(await c.call('EXPIRE', 'k', '100', 'XX'), 0, 'XX: no TTL yet');
  assert.is(await c.call('EXPIRE', 'k', '100', 'GT'), 0, 'GT: no TTL counts as infinite');
  assert.is(await c.call('EXPIRE', 'k', '100', 'NX'), 1);
  assert.is(await c.call('EXPIRE', 'k', '200', 'NX'), 0);
  assert.is(await c.call('EXPIRE', 'k', '50', 'GT'), 0);
  assert.is(await c.call('EXPIRE', 'k', '200', 'GT'), 1);
  assert.is(await c.call('TTL', 'k'), 200);
  assert.is(await c.call('EXPIRE', 'k', '300', 'LT'), 0);
  assert.is(await c.call('EXPIRE', 'k', '150', 'lt'), 1);
  assert.is(await c.call('EXPIRE', 'k', '120', 'XX', 'LT'), 1);
  assert.is(await c.call('TTL', 'k'), 120);
  await c.call('SET', 'p', 'v');
  assert.is(await c.call('EXPIRE', 'p', '10', 'LT'), 1, 'LT on a key without TTL: any TTL is less than infinite');
  await c.call('PERSIST', 'p');
  assert.is(await c.call('EXPIRE', 'p', '10', 'XX', 'LT'), 0, 'XX LT needs a TTL');
  assert.is(await c.err('EXPIRE', 'k', '10', 'NX', 'XX'), 'ERR NX and XX, GT or LT options at the same time are not compatible');
  assert.is(await c.err('EXPIRE', 'k', '10', 'NX', 'GT'), 'ERR NX and XX, GT or LT options at the same time are not compatible');
  assert.is(await c.err('EXPIRE', 'k', '10', 'GT', 'LT'), 'ERR GT and LT options at the same time are not compatible');
  assert.is(await c.err('EXPIRE', 'k', '10', 'FOO'), 'ERR Unsupported option FOO');
  assert.is(await c.err('EXPIRE', 'k', 'x', 'FOO'), 'ERR Unsupported option FOO', 'options are checked before the time');
});

Commands('INCR, DECR, INCRBY, DECRBY: integers, errors, overflow, TTL kept', async ({ c }) => {
  assert.is(await c.call('INCR', 'n'), 1);
  assert.is(await c.call('INCRBY', 'n', '41'), 42);
  assert.is(await c.call('DECR', 'n'), 41);
  assert.is(await c.call('DECRBY', 'n', '50'), -9);
  assert.is(await c.call('INCRBY', 'n', '-1'), -10);
  assert.is(await c.str('GET', 'n'), '-10');
  await c.call('SET', 's', 'abc');
  assert.is(await c.err('INCR', 's'), 'ERR value is not an integer or out of range');
  await c.call('SET', 's', ' 1');
  assert.is(await c.err('INCR', 's'), 'ERR value is not an integer or out of range');
  await c.call('SET', 's', '01');
  assert.is(await c.err('INCR', 's'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('INCRBY', 'n', 'x'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('INCRBY', 'n', '1.5'), 'ERR value is not an integer or out of range');
  assert.is(await c.err('INCRBY', 'n', '9223372036854775808'), 'ERR value is not an integer or out of range');
  await c.call('SET', 'max', '9223372036854775807');
  assert.is(await c.err('INCR', 'max'), 'ERR increment or decrement would overflow');
  assert.is(await c.str('GET', 'max'), '9223372036854775807', 'unchanged after the overflow');
  await c.call('SET', 'min', '-9223372036854775808');
  assert.is(await c.err('DECR', 'min'), 'ERR increment or decrement would overflow');
  assert.is(await c.err('DECRBY', 'n', '-9223372036854775808'), 'ERR decrement would overflow');
  assert.is(await c.call('INCRBY', 'big', '9223372036854775807'), 9223372036854775807n);
  await c.call('SET', 't', '5', 'EX', '100');
  assert.is(await c.call('INCR', 't'), 6);
  assert.is(await c.call('TTL', 't'), 100, 'INCR keeps the TTL');
});

Commands('STRLEN, MGET, MSET, DBSIZE, FLUSHDB, FLUSHALL', async ({ c }) => {
  assert.is(await c.call('STRLEN', 'x'), 0);
  await c.call('SET', 'x', 'héllo');
  assert.is(await c.call('STRLEN', 'x'), 6, 'bytes, not characters');
  assert.is(await c.call('MSET', 'a', '1', 'b', '', 'c', '3'), 'OK');
  assert.equal(text(await c.call('MGET', 'a', 'missing', 'b', 'c')), ['1', null, '', '3']);
  assert.is(await c.call('DBSIZE'), 4);
  assert.is(await c.call('FLUSHDB'), 'OK');
  assert.is(await c.call('DBSIZE'), 0);
  await c.call('SET', 'a', '1');
  assert.is(await c.call('FLUSHALL', 'ASYNC'), 'OK');
  assert.is(await c.call('DBSIZE'), 0);
  assert.is(await c.call('FLUSHALL', 'sync'), 'OK');
  assert.is(await c.err('FLUSHALL', 'now'), 'ERR syntax error');
  assert.is(await c.err('FLUSHDB', 'ASYNC', 'x'), 'ERR syntax error');
});

Commands('keys and values over the store limits get a clear -ERR and the connection stays open', async ({ c }) => {
  const bigValue = 'v'.repeat(4097);
  assert.match(await c.err('SET', 'k', bigValue), /^ERR value is 4097 bytes; the limit is 4096 bytes/);
  const bigKey = 'k'.repeat(65);
  assert.match(await c.err('SET', bigKey, 'v'), /^ERR key is 65 bytes; the limit is 64 bytes/);
  assert.match(await c.err('GET', bigKey), /^ERR key is 65 bytes/);
  assert.match(await c.err('MSET', 'ok', '1', bigKey, '2'), /^ERR key is 65 bytes/);
  assert.is(await c.str('GET', 'ok'), null, 'MSET is all or nothing');
  assert.match(await c.err('MSET', 'ok', '1', 'k2', bigValue), /^ERR value is 4097 bytes/);
  assert.match(await c.err('MGET', 'a', bigKey), /^ERR key is 65 bytes/);
  assert.match(await c.err('SET', 'k', bigValue, 'GET'), /^ERR value is 4097 bytes/);
  assert.is(await c.err('SET', '', 'v'), 'ERR empty keys are not supported');
  await c.call('SET', 'n', '9'.repeat(19));
  assert.is(await c.call('PING'), 'PONG', 'still open');
  // A value just at the limit is fine.
  assert.is(await c.call('SET', 'k', 'v'.repeat(4096)), 'OK');
  assert.is(await c.call('STRLEN', 'k'), 4096);
});

Commands('INFO sections with the fields clients parse', async ({ c }) => {
  await c.call('SET', 'a', '1');
  await c.call('SET', 'b', '2', 'EX', '100');
  await c.call('GET', 'a');
  await c.call('GET', 'zzz');
  const all = (await c.str('INFO'))!;
  for (const field of [
    'redis_version:7.2.0',
    'redis_mode:standalone',
    'loading:0',
    'connected_clients:1',
    'role:master',
    'cluster_enabled:0',
    'db0:keys=2,expires=1,avg_ttl=0',
    'keyspace_hits:1',
    'keyspace_misses:1',
    'dcache_keyspace_scope:node',
    'maxmemory_policy:allkeys-lru',
  ]) {
    assert.ok(all.includes(`${field}\r\n`), `INFO has ${field}`);
  }
  for (const section of [
    '# Server',
    '# Clients',
    '# Memory',
    '# Persistence',
    '# Stats',
    '# Replication',
    '# CPU',
    '# Cluster',
    '# Keyspace',
  ]) {
    assert.ok(all.includes(`${section}\r\n`), `INFO has ${section}`);
  }
  assert.match(all, /tcp_port:\d+\r\n/);
  assert.match(all, /used_memory:\d+\r\n/);
  assert.match(all, /total_commands_processed:\d+\r\n/);
  const keyspace = (await c.str('INFO', 'keyspace'))!;
  assert.is(keyspace, '# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n');
  const two = (await c.str('info', 'SERVER', 'clients'))!;
  assert.ok(two.startsWith('# Server\r\n') && two.includes('\r\n\r\n# Clients\r\n') && !two.includes('# Memory'));
  assert.is(await c.str('INFO', 'nosuchsection'), '');
  assert.ok((await c.str('INFO', 'everything'))!.includes('# Keyspace'));
});

Commands('COMMAND, COMMAND COUNT/DOCS/INFO/LIST', async ({ c }) => {
  const count = (await c.call('COMMAND', 'COUNT')) as number;
  assert.ok(count >= 38, `COMMAND COUNT ${count}`);
  const all = text(await c.call('COMMAND')) as unknown[][];
  assert.is(all.length, count);
  const get = all.find((entry) => entry[0] === 'get')!;
  assert.equal(get.slice(0, 6), ['get', 2, ['readonly', 'fast'], 1, 1, 1]);
  assert.is(get.length, 10);
  assert.equal(text(await c.call('COMMAND', 'DOCS')), []);
  assert.equal(text(await c.call('COMMAND', 'DOCS', 'get')), []);
  const info = text(await c.call('COMMAND', 'INFO', 'mset', 'nope')) as unknown[];
  assert.equal((info[0] as unknown[]).slice(0, 6), ['mset', -3, ['write', 'denyoom'], 1, -1, 2]);
  assert.is(info[1], null);
  const list = text(await c.call('COMMAND', 'LIST')) as string[];
  assert.ok(list.includes('set') && list.includes('client') && list.includes('command'));
  const client = all.find((entry) => entry[0] === 'client')!;
  assert.ok(
    (client[9] as unknown[][]).some((sub) => sub[0] === 'client|setname'),
    'subcommands are listed',
  );
});

Commands('CLIENT SETNAME/GETNAME/SETINFO/ID/INFO/LIST', async ({ c, t }) => {
  assert.is(await c.call('CLIENT', 'GETNAME'), null);
  assert.is(await c.call('CLIENT', 'SETNAME', 'worker-1'), 'OK');
  assert.is(await c.str('CLIENT', 'GETNAME'), 'worker-1');
  assert.is(await c.err('CLIENT', 'SETNAME', 'has space'), 'ERR Client names cannot contain spaces, newlines or special characters.');
  assert.is(await c.call('CLIENT', 'SETINFO', 'LIB-NAME', 'mylib'), 'OK');
  assert.is(await c.call('CLIENT', 'SETINFO', 'lib-ver', '1.2.3'), 'OK');
  assert.is(await c.err('CLIENT', 'SETINFO', 'color', 'red'), "ERR Unrecognized option 'color'");
  const id = (await c.call('CLIENT', 'ID')) as number;
  assert.ok(Number.isInteger(id) && id > 0);
  const line = (await c.str('CLIENT', 'INFO'))!;
  assert.match(
    line,
    new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${t.port} name=worker-1 .*lib-name=mylib lib-ver=1\\.2\\.3\\n$`),
  );
  const other = await RespTestClient.connect(t.port);
  await other.call('PING');
  const list = (await c.str('CLIENT', 'LIST'))!;
  assert.is(list.trim().split('\n').length, 2);
  assert.is(await c.call('CLIENT', 'SETNAME', ''), 'OK', 'an empty name clears it');
  assert.is(await c.call('CLIENT', 'GETNAME'), null);
});

Commands('CONFIG GET (enough for redis-benchmark), SET refused, RESETSTAT', async ({ c }) => {
  assert.equal(text(await c.call('CONFIG', 'GET', 'save')), ['save', '']);
  assert.equal(text(await c.call('CONFIG', 'GET', 'appendonly')), ['appendonly', 'no']);
  assert.equal(text(await c.call('CONFIG', 'GET', 'nosuchthing')), []);
  const many = text(await c.call('CONFIG', 'GET', 'max*', 'SAVE')) as string[];
  assert.ok(many.includes('maxclients') && many.includes('maxmemory') && many.includes('save'));
  assert.is(many.length % 2, 0);
  assert.equal(text(await c.call('CONFIG', 'GET', 'd?tabases')), ['databases', '1']);
  assert.is(await c.err('CONFIG', 'SET', 'maxmemory', '1'), "ERR Unknown option or number of arguments for CONFIG SET - 'maxmemory'");
  assert.is(await c.err('CONFIG', 'GET'), "ERR wrong number of arguments for 'config|get' command");
  assert.is(await c.call('CONFIG', 'RESETSTAT'), 'OK');
});

Commands('QUIT answers +OK and closes; later commands in the read are not run', async ({ c }) => {
  c.sendRaw('*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\nv\r\n');
  await c.closedWithin();
  assert.is(c.received.toString(), '+OK\r\n');
});

Commands('binary keys and values round-trip byte for byte', async ({ c }) => {
  const key = Buffer.from([0, 1, 2, 13, 10, 0xff, 0x2a, 0x24]);
  const value = Buffer.alloc(3000);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7) & 0xff;
  assert.is(await c.call('SET', key, value), 'OK');
  const got = await c.call('GET', key);
  assert.ok(Buffer.isBuffer(got) && got.equals(value));
  assert.is(await c.call('STRLEN', key), 3000);
  const mget = (await c.call('MGET', key, key)) as Buffer[];
  assert.ok(mget[0]!.equals(value) && mget[1]!.equals(value));
  assert.ok(!((await c.call('EXISTS', key)) instanceof RespReplyError));
});

Commands.run();
