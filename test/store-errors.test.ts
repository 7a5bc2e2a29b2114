/**
 * Bad input: typed errors with stable codes (TypeError naming the argument for wrong shapes), thrown before
 * anything changes; constructor options rejected at once; incr's integer rules and overflow.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../src/cache/store';

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

/** The error's code (DCacheError) or name (TypeError, RangeError), or 'no error'. */
function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    const e = error as { code?: string; name?: string; message?: string };
    return { code: e.code ?? e.name ?? 'unknown', message: e.message ?? '' };
  }
  return { code: 'no error', message: '' };
}

/** Everything observable about a set of keys: value bytes (hex) and TTL. */
function snapshot(store: Store, keys: string[]): string {
  const parts = keys.map((k) => `${k}=${store.get(k)?.toString('hex') ?? '-'}@${store.ttl(k)}`);
  return `${parts.join(' ')} size=${store.size}`;
}

const options = suite('constructor options');

options('bad options are rejected at once with what to change', () => {
  const cases: Array<[unknown, string]> = [
    [{ maxMemoryBytes: 1024 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxMemoryBytes: 4 * 1024 * 1024 - 1 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxMemoryBytes: 1.5e7 + 0.5 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxMemoryBytes: '64MB' }, 'ERR_INVALID_ARGUMENT'],
    [{ maxKeyBytes: 0 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxKeyBytes: 70_000 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxValueBytes: -1 }, 'ERR_INVALID_ARGUMENT'],
    [{ maxValueBytes: 2 ** 31 }, 'ERR_INVALID_ARGUMENT'],
    [{ expiryIntervalMs: -1 }, 'ERR_INVALID_ARGUMENT'],
    [{ growthFactor: 3 }, 'ERR_INVALID_ARGUMENT'],
    [{ growthFactor: 1 }, 'ERR_INVALID_ARGUMENT'],
    [{ minChunkBytes: 12 }, 'ERR_INVALID_ARGUMENT'],
    [{ minChunkBytes: 20 }, 'ERR_INVALID_ARGUMENT'],
    [{ clock: 5 }, 'TypeError'],
    [{ onSweep: 'x' }, 'TypeError'],
    ['big', 'TypeError'],
  ];
  for (const [opts, code] of cases) {
    const f = failure(() => new Store(opts as StoreOptions));
    assert.is(f.code, code, JSON.stringify(opts));
    assert.ok(f.message.length > 10);
  }
  const ok = new Store({ maxMemoryBytes: 4 * 1024 * 1024, minChunkBytes: 48, growthFactor: 1.1, expiryIntervalMs: 0 });
  assert.is(ok.stats().chunkSizes[0], 48);
  ok.close();
});

const input = suite('bad input leaves the store unchanged');

input('keys, values, ttls and modes', () => {
  let now = 1000;
  const store = open({ maxKeyBytes: 16, maxValueBytes: 64, clock: () => now });
  store.set('k', 'original', { ttlMs: 5000 });
  store.set('n', '10');
  const keys = ['k', 'n'];
  const before = snapshot(store, keys);
  const setsBefore = store.stats().sets;
  const cases: Array<[() => unknown, string, RegExp?]> = [
    [() => store.set('', 'v'), 'ERR_KEY_EMPTY'],
    [() => store.set(Buffer.alloc(0), 'v'), 'ERR_KEY_EMPTY'],
    [() => store.get(''), 'ERR_KEY_EMPTY'],
    [() => store.set('k'.repeat(17), 'v'), 'ERR_KEY_TOO_LARGE'],
    [() => store.set('é'.repeat(9), 'v'), 'ERR_KEY_TOO_LARGE'], // 9 chars, 18 bytes
    [() => store.set(Buffer.alloc(17), 'v'), 'ERR_KEY_TOO_LARGE'],
    [() => store.delete('x'.repeat(100)), 'ERR_KEY_TOO_LARGE'],
    [() => store.set('k', 'v'.repeat(65)), 'ERR_VALUE_TOO_LARGE'],
    [() => store.set('k', 'ü'.repeat(33)), 'ERR_VALUE_TOO_LARGE'], // 33 chars, 66 bytes
    [() => store.set('k', Buffer.alloc(65)), 'ERR_VALUE_TOO_LARGE'],
    [() => store.set('k', 'v', { ttlMs: -1 }), 'ERR_INVALID_ARGUMENT'],
    [() => store.set('k', 'v', { ttlMs: 1.5 }), 'ERR_INVALID_ARGUMENT'],
    [() => store.set('k', 'v', { ttlMs: Number.NaN }), 'ERR_INVALID_ARGUMENT'],
    [() => store.set('k', 'v', { ttlMs: Number.POSITIVE_INFINITY }), 'ERR_INVALID_ARGUMENT'],
    [() => store.set('k', 'v', { ttlMs: '10' as unknown as number }), 'ERR_INVALID_ARGUMENT'],
    [() => store.set('k', 'v', { mode: 'bogus' as 'nx' }), 'ERR_INVALID_ARGUMENT'],
    [() => store.touch('k', -5), 'ERR_INVALID_ARGUMENT'],
    [() => store.touch('k', undefined as unknown as number), 'ERR_INVALID_ARGUMENT'],
    [() => store.touch('k', 2.5), 'ERR_INVALID_ARGUMENT'],
    [() => store.set(42 as unknown as string, 'v'), 'TypeError', /key/],
    [() => store.set(null as unknown as string, 'v'), 'TypeError', /key/],
    [() => store.get({} as unknown as string), 'TypeError', /key/],
    [() => store.set('k', 42 as unknown as string), 'TypeError', /value/],
    [() => store.set('k', undefined as unknown as string), 'TypeError', /value/],
    [() => store.set('k', 'v', 5 as unknown as { ttlMs: number }), 'TypeError', /options/],
    [() => store.expireDue(-1), 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [fn, code, message] of cases) {
    const f = failure(fn);
    assert.is(f.code, code, String(fn));
    if (message) assert.match(f.message, message);
    assert.is(snapshot(store, keys), before, `after ${String(fn)}`);
  }
  assert.is(store.stats().sets, setsBefore);
  now += 1000;
  assert.is(store.ttl('k'), 4000, 'the TTL is the original one');
  store.close();
});

const incr = suite('incr');

incr('missing keys count as 0; the result is a bigint stored as decimal ASCII; the TTL is kept', () => {
  let now = 0;
  const store = open({ clock: () => now });
  assert.is(store.incr('a'), 1n);
  assert.is(store.incr('a', 41), 42n);
  assert.is(store.incr('a', -50n), -8n);
  assert.is(store.get('a')!.toString('latin1'), '-8');
  assert.is(store.ttl('a'), -1);
  store.set('t', '100', { ttlMs: 1000 });
  now += 400;
  assert.is(store.incr('t', 5), 105n);
  assert.is(store.ttl('t'), 600);
  now += 600;
  assert.is(store.incr('t', 5), 5n, 'expired: counts as missing');
  assert.is(store.ttl('t'), -1);
  store.set('z', '0');
  assert.is(store.incr('z', 0), 0n);
  // A value that grows into another size class keeps its TTL.
  store.set('g', '9', { ttlMs: 10_000 });
  assert.is(store.incr('g', 10n ** 18n), 10n ** 18n + 9n);
  assert.is(store.ttl('g'), 10_000);
  store.close();
});

incr('int64 bounds are reachable; one past them is OverflowError and changes nothing', () => {
  const store = open();
  const max = 2n ** 63n - 1n;
  const min = -(2n ** 63n);
  store.set('hi', max.toString());
  assert.is(store.incr('hi', 0), max);
  assert.is(failure(() => store.incr('hi', 1)).code, 'ERR_OVERFLOW');
  assert.is(store.get('hi')!.toString(), max.toString());
  store.set('lo', min.toString());
  assert.is(store.incr('lo', 0n), min);
  assert.is(failure(() => store.incr('lo', -1)).code, 'ERR_OVERFLOW');
  assert.is(store.get('lo')!.toString(), min.toString());
  assert.is(store.incr('x', max), max);
  assert.is(store.incr('y', min), min);
  assert.is(failure(() => store.incr('y', min)).code, 'ERR_OVERFLOW');
  assert.is(store.incr('y', max), -1n);
  store.close();
});

incr('values that are not canonical int64 decimals are NotIntegerError and stay as they were', () => {
  const store = open({ clock: () => 0 });
  const bad = [
    '',
    'abc',
    '12a',
    ' 1',
    '1 ',
    '+1',
    '01',
    '-0',
    '-',
    '--1',
    '1.5',
    '1e3',
    '0x10',
    '9223372036854775808',
    '-9223372036854775809',
    '123456789012345678901',
    '٣',
  ];
  for (const [i, value] of bad.entries()) {
    const key = `bad${i}`;
    store.set(key, value, { ttlMs: 100_000 });
    const f = failure(() => store.incr(key, 1));
    assert.is(f.code, 'ERR_NOT_INTEGER', JSON.stringify(value));
    assert.is(store.get(key)!.toString(), value);
    assert.is(store.ttl(key), 100_000);
  }
  store.set('bin', Buffer.from([0x31, 0x00]));
  assert.is(failure(() => store.incr('bin', 1)).code, 'ERR_NOT_INTEGER');
  for (const good of ['0', '-1', '7', '-9223372036854775808', '9223372036854775807', '1000000000000000000']) {
    store.set('g', good);
    assert.is(store.incr('g', 0), BigInt(good), good);
  }
  store.close();
});

incr('bad deltas: non-integers and out-of-range bigints are InvalidArgumentError, other types TypeError', () => {
  const store = open();
  store.set('n', '5');
  const cases: Array<[unknown, string]> = [
    [1.5, 'ERR_INVALID_ARGUMENT'],
    [Number.NaN, 'ERR_INVALID_ARGUMENT'],
    [Number.POSITIVE_INFINITY, 'ERR_INVALID_ARGUMENT'],
    [2 ** 53, 'ERR_INVALID_ARGUMENT'],
    [2n ** 63n, 'ERR_INVALID_ARGUMENT'],
    [-(2n ** 63n) - 1n, 'ERR_INVALID_ARGUMENT'],
    ['1', 'TypeError'],
    [null, 'TypeError'],
  ];
  for (const [delta, code] of cases) {
    assert.is(failure(() => store.incr('n', delta as number)).code, code, String(delta));
    assert.is(failure(() => store.incr('fresh', delta as number)).code, code, String(delta));
  }
  assert.is(store.get('n')!.toString(), '5');
  assert.is(store.get('fresh'), undefined);
  assert.is(store.size, 1);
  store.close();
});

options.run();
input.run();
incr.run();
