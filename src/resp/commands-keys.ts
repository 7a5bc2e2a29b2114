/**
 * The key commands: strings, TTLs, counters. Each parses and checks its arguments exactly as Redis 7 does (the
 * same errors in the same order), calls the backend, and writes the reply at once when the backend answered
 * synchronously or returns a Deferred reply when it answered with a promise. GET and SET, the hot path, add
 * nothing to that: no string, no closure, no promise (a backend that answers synchronously included).
 */
import { ERR_NOT_INTEGER, ERR_SYNTAX, argBigInt, argIs, arityError, expireArg, expireCommandArg } from './resp-args';
import { ExpireFlags, REPLIED, SetFlags, type RespArgs, type Replied } from './backend';
import { command, type CommandSpec, ONE_KEY } from './command-table';
import { reply as replyImport, type CommandContext, type CommandRun } from './context';
import type { RespWriter } from './writer';

const INT64_MIN = -(2n ** 63n);

/** Local aliases of imports used per command (see resp-session.ts). */
const WROTE: Replied = REPLIED;
const reply = replyImport;

const writeValue = (w: RespWriter, v: Uint8Array | null | Replied): void => {
  if (v === WROTE) w.error('ERR internal error: the backend wrote a reply asynchronously');
  else w.value(v);
};
const writeValues = (w: RespWriter, v: Array<Uint8Array | null> | Replied): void => {
  if (v === WROTE) {
    w.error('ERR internal error: the backend wrote a reply asynchronously');
    return;
  }
  w.array(v.length);
  for (const item of v) w.value(item);
};
const writeOkOrNil = (w: RespWriter, stored: boolean): void => (stored ? w.ok() : w.nil());
const writeOk = (w: RespWriter): void => w.ok();
const writeBool = (w: RespWriter, b: boolean): void => w.bool(b);
const writeInt = (w: RespWriter, n: number): void => w.integer(n);
const writeBigInt = (w: RespWriter, n: bigint): void => w.bigint(n);
const writeTtlSeconds = (w: RespWriter, ms: number): void => w.integer(ms < 0 ? ms : Math.floor((ms + 500) / 1000));
const writeType = (w: RespWriter, n: number): void => w.simple(n > 0 ? 'string' : 'none');

const get: CommandRun = (c, a, w) => {
  const r = c.backend.get(a.bufs[1]!, a.offs[1]!, a.lens[1]!, w);
  if (r === WROTE) return undefined;
  return reply(r, w, writeValue);
};

const EXPIRE_EX = 1;
const EXPIRE_PX = 2;
const EXPIRE_EXAT = 3;
const EXPIRE_PXAT = 4;
const PERSIST = 5;

/** SET/GETEX options, as Redis's parseExtendedStringArgumentsOrReply accepts them (one reused record). */
interface SetOptions {
  flags: number;
  get: boolean;
  /** EXPIRE_* or PERSIST, 0 when none. */
  expireKind: number;
  /** Index of the expire option's argument. */
  expireAt: number;
}
const setOptions: SetOptions = { flags: 0, get: false, expireKind: 0, expireAt: 0 };

/**
 * Fills `o` from args[from…]; false on a syntax error. NX/XX/GET/KEEPTTL only for SET, PERSIST only for
 * GETEX; one kind of expire option (repeating the same one is allowed, the last wins), none with KEEPTTL or
 * PERSIST.
 */
function parseSetOptions(a: RespArgs, from: number, forSet: boolean, o: SetOptions): boolean {
  o.flags = 0;
  o.get = false;
  o.expireKind = 0;
  o.expireAt = 0;
  let persist = false;
  for (let j = from; j < a.argc; j++) {
    const noExpire = o.expireKind === 0;
    let kind: number;
    if (forSet && argIs(a, j, 'nx') && (o.flags & SetFlags.XX) === 0) o.flags |= SetFlags.NX;
    else if (forSet && argIs(a, j, 'xx') && (o.flags & SetFlags.NX) === 0) o.flags |= SetFlags.XX;
    else if (forSet && argIs(a, j, 'get')) o.get = true;
    else if (forSet && argIs(a, j, 'keepttl') && noExpire) o.flags |= SetFlags.KEEPTTL;
    else if (!forSet && argIs(a, j, 'persist') && noExpire) persist = true;
    else if (
      j + 1 < a.argc &&
      !persist &&
      (o.flags & SetFlags.KEEPTTL) === 0 &&
      (kind = expireKindOf(a, j)) !== 0 &&
      (noExpire || o.expireKind === kind)
    ) {
      o.expireKind = kind;
      o.expireAt = ++j;
    } else return false;
  }
  if (persist) o.expireKind = PERSIST;
  return true;
}

function expireKindOf(a: RespArgs, j: number): number {
  if (argIs(a, j, 'ex')) return EXPIRE_EX;
  if (argIs(a, j, 'px')) return EXPIRE_PX;
  if (argIs(a, j, 'exat')) return EXPIRE_EXAT;
  if (argIs(a, j, 'pxat')) return EXPIRE_PXAT;
  return 0;
}

/** The TTL for the parsed expire option: ms, −1 (already past), 0 (none), or an error reply. */
function ttlOf(c: CommandContext, a: RespArgs, o: SetOptions, name: string): number | string {
  const kind = o.expireKind;
  if (kind === 0 || kind === PERSIST) return 0;
  return expireArg(
    a,
    o.expireAt,
    kind === EXPIRE_EX || kind === EXPIRE_EXAT,
    kind === EXPIRE_EXAT || kind === EXPIRE_PXAT,
    c.backend.now(),
    name,
  );
}

const set: CommandRun = (c, a, w) => {
  const kb = a.bufs[1]!;
  const vb = a.bufs[2]!;
  if (a.argc === 3) {
    return reply(c.backend.set(kb, a.offs[1]!, a.lens[1]!, vb, a.offs[2]!, a.lens[2]!, 0, 0), w, writeOkOrNil);
  }
  const o = setOptions;
  if (!parseSetOptions(a, 3, true, o)) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  const ttl = ttlOf(c, a, o, 'set');
  if (typeof ttl === 'string') {
    w.error(ttl);
    return undefined;
  }
  if (o.get) return reply(c.backend.setGet(kb, a.offs[1]!, a.lens[1]!, vb, a.offs[2]!, a.lens[2]!, ttl, o.flags), w, writeValue);
  return reply(c.backend.set(kb, a.offs[1]!, a.lens[1]!, vb, a.offs[2]!, a.lens[2]!, ttl, o.flags), w, writeOkOrNil);
};

/** SETEX/PSETEX key ttl value. */
function setWithTtl(seconds: boolean, name: string): CommandRun {
  return (c, a, w) => {
    const ttl = expireArg(a, 2, seconds, false, c.backend.now(), name);
    if (typeof ttl === 'string') {
      w.error(ttl);
      return undefined;
    }
    return reply(c.backend.set(a.bufs[1]!, a.offs[1]!, a.lens[1]!, a.bufs[3]!, a.offs[3]!, a.lens[3]!, ttl, 0), w, writeOk);
  };
}

/** GETSET key value: SET key value GET (the old value, then the new one with no TTL). */
const getset: CommandRun = (c, a, w) =>
  reply(c.backend.setGet(a.bufs[1]!, a.offs[1]!, a.lens[1]!, a.bufs[2]!, a.offs[2]!, a.lens[2]!, 0, 0), w, writeValue);

const setnx: CommandRun = (c, a, w) =>
  reply(c.backend.set(a.bufs[1]!, a.offs[1]!, a.lens[1]!, a.bufs[2]!, a.offs[2]!, a.lens[2]!, 0, SetFlags.NX), w, writeBool);

const getdel: CommandRun = (c, a, w) => reply(c.backend.getDel(a.bufs[1]!, a.offs[1]!, a.lens[1]!), w, writeValue);

const getex: CommandRun = (c, a, w) => {
  const o = setOptions;
  if (!parseSetOptions(a, 2, false, o)) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  let ttl: number | null = null;
  if (o.expireKind === PERSIST) ttl = 0;
  else if (o.expireKind !== 0) {
    const t = ttlOf(c, a, o, 'getex');
    if (typeof t === 'string') {
      // Redis looks the key up before it validates the time: a missing key answers nil even then.
      return reply(c.backend.exists(a, 1, 1), w, (out, n) => (n === 0 ? out.nil() : out.error(t)));
    }
    ttl = t;
  }
  return reply(c.backend.getEx(a.bufs[1]!, a.offs[1]!, a.lens[1]!, ttl), w, writeValue);
};

const del: CommandRun = (c, a, w) => reply(c.backend.del(a, 1, a.argc - 1), w, writeInt);
const exists: CommandRun = (c, a, w) => reply(c.backend.exists(a, 1, a.argc - 1), w, writeInt);
/** TOUCH key [key …]: how many of the keys exist, each repeat counted, as EXISTS counts them. */
const touch = exists;
const type: CommandRun = (c, a, w) => reply(c.backend.exists(a, 1, 1), w, writeType);

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT]. */
function expireCommand(seconds: boolean, absolute: boolean, name: string): CommandRun {
  return (c, a, w) => {
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (let j = 3; j < a.argc; j++) {
      if (argIs(a, j, 'nx')) nx = true;
      else if (argIs(a, j, 'xx')) xx = true;
      else if (argIs(a, j, 'gt')) gt = true;
      else if (argIs(a, j, 'lt')) lt = true;
      else {
        w.error(`ERR Unsupported option ${a.bufs[j]!.toString('latin1', a.offs[j]!, a.offs[j]! + a.lens[j]!)}`);
        return undefined;
      }
    }
    if (nx && (xx || gt || lt)) {
      w.error('ERR NX and XX, GT or LT options at the same time are not compatible');
      return undefined;
    }
    if (gt && lt) {
      w.error('ERR GT and LT options at the same time are not compatible');
      return undefined;
    }
    const ttl = expireCommandArg(a, 2, seconds, absolute, c.backend.now(), name);
    if (typeof ttl === 'string') {
      w.error(ttl);
      return undefined;
    }
    // Redis combines XX with GT or LT (both must hold); the backend checks each bit.
    const flags = (nx ? ExpireFlags.NX : 0) | (xx ? ExpireFlags.XX : 0) | (gt ? ExpireFlags.GT : 0) | (lt ? ExpireFlags.LT : 0);
    return reply(c.backend.expire(a.bufs[1]!, a.offs[1]!, a.lens[1]!, ttl, flags), w, writeBool);
  };
}

const persist: CommandRun = (c, a, w) => reply(c.backend.persist(a.bufs[1]!, a.offs[1]!, a.lens[1]!), w, writeBool);
const ttl: CommandRun = (c, a, w) => reply(c.backend.pttl(a.bufs[1]!, a.offs[1]!, a.lens[1]!), w, writeTtlSeconds);
const pttl: CommandRun = (c, a, w) => reply(c.backend.pttl(a.bufs[1]!, a.offs[1]!, a.lens[1]!), w, writeInt);

function incrCommand(sign: 1n | -1n, withArg: boolean): CommandRun {
  return (c, a, w) => {
    let delta = sign;
    if (withArg) {
      const n = argBigInt(a, 2);
      if (n === null) {
        w.error(ERR_NOT_INTEGER);
        return undefined;
      }
      if (sign < 0n && n === INT64_MIN) {
        w.error('ERR decrement would overflow');
        return undefined;
      }
      delta = sign * n;
    }
    return reply(c.backend.incrBy(a.bufs[1]!, a.offs[1]!, a.lens[1]!, delta), w, writeBigInt);
  };
}

const strlen: CommandRun = (c, a, w) => reply(c.backend.strlen(a.bufs[1]!, a.offs[1]!, a.lens[1]!), w, writeInt);

const mget: CommandRun = (c, a, w) => {
  const r = c.backend.mget(a, 1, a.argc - 1, w);
  if (r === WROTE) return undefined;
  return reply(r, w, writeValues);
};

const mset: CommandRun = (c, a, w) => {
  if (a.argc % 2 === 0) {
    w.error(arityError('mset'));
    return undefined;
  }
  return reply(c.backend.mset(a, 1, (a.argc - 1) / 2), w, writeOk);
};

/** Arguments are checked by the table against these arities before run() is called. */
export const keyCommands: CommandSpec[] = [
  command('get', 2, 'readonly fast', ONE_KEY, '@read @string @fast', get),
  command('set', -3, 'write denyoom', ONE_KEY, '@write @string @slow', set),
  command('setex', 4, 'write denyoom', ONE_KEY, '@write @string @slow', setWithTtl(true, 'setex')),
  command('psetex', 4, 'write denyoom', ONE_KEY, '@write @string @slow', setWithTtl(false, 'psetex')),
  command('setnx', 3, 'write denyoom fast', ONE_KEY, '@write @string @fast', setnx),
  command('getdel', 2, 'write fast', ONE_KEY, '@write @string @fast', getdel),
  command('getset', 3, 'write denyoom fast', ONE_KEY, '@write @string @fast', getset),
  command('getex', -2, 'write fast', ONE_KEY, '@write @string @fast', getex),
  command('mget', -2, 'readonly fast', [1, -1, 1], '@read @string @fast', mget),
  command('mset', -3, 'write denyoom', [1, -1, 2], '@write @string @slow', mset),
  command('del', -2, 'write', [1, -1, 1], '@keyspace @write @slow', del),
  command('unlink', -2, 'write fast', [1, -1, 1], '@keyspace @write @fast', del),
  command('exists', -2, 'readonly fast', [1, -1, 1], '@keyspace @read @fast', exists),
  command('touch', -2, 'readonly fast', [1, -1, 1], '@keyspace @read @fast', touch),
  command('type', 2, 'readonly fast', ONE_KEY, '@keyspace @read @fast', type),
  command('expire', -3, 'write fast', ONE_KEY, '@keyspace @write @fast', expireCommand(true, false, 'expire')),
  command('pexpire', -3, 'write fast', ONE_KEY, '@keyspace @write @fast', expireCommand(false, false, 'pexpire')),
  command('expireat', -3, 'write fast', ONE_KEY, '@keyspace @write @fast', expireCommand(true, true, 'expireat')),
  command('pexpireat', -3, 'write fast', ONE_KEY, '@keyspace @write @fast', expireCommand(false, true, 'pexpireat')),
  command('persist', 2, 'write fast', ONE_KEY, '@keyspace @write @fast', persist),
  command('ttl', 2, 'readonly fast', ONE_KEY, '@keyspace @read @fast', ttl),
  command('pttl', 2, 'readonly fast', ONE_KEY, '@keyspace @read @fast', pttl),
  command('incr', 2, 'write denyoom fast', ONE_KEY, '@write @string @fast', incrCommand(1n, false)),
  command('decr', 2, 'write denyoom fast', ONE_KEY, '@write @string @fast', incrCommand(-1n, false)),
  command('incrby', 3, 'write denyoom fast', ONE_KEY, '@write @string @fast', incrCommand(1n, true)),
  command('decrby', 3, 'write denyoom fast', ONE_KEY, '@write @string @fast', incrCommand(-1n, true)),
  command('strlen', 2, 'readonly fast', ONE_KEY, '@read @string @fast', strlen),
];
