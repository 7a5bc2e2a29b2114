/**
 * Connection and server commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, DBSIZE, FLUSHDB/FLUSHALL, INFO,
 * CLIENT and CONFIG, with Redis 7's replies and error wording. Only RESP2 is spoken (HELLO 3 → NOPROTO), there
 * is one database (SELECT 0). AUTH checks the node's token as Redis checks requirepass (user `default`); without
 * a token AUTH answers as Redis does without requirepass.
 */
import { ERR_NOT_INTEGER, ERR_SYNTAX, argInt, argIs, argLower, argString, arityError, isValidName } from './resp-args';
import { command, container, NO_KEYS, type CommandSpec } from './command-table';
import { reply, type ClientState, type CommandRun } from './context';
import { REDIS_VERSION, buildInfo, selectSections } from './info';

const PONG = Buffer.from('+PONG\r\n');
const ERR_NO_PASSWORD =
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?';
const ERR_WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const ERR_CLIENT_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';

const ping: CommandRun = (_c, a, w) => {
  if (a.argc > 2) w.error(arityError('ping'));
  else if (a.argc === 2) w.bulk(a.bufs[1]!, a.offs[1]!, a.lens[1]!);
  else w.raw(PONG);
  return undefined;
};

const echo: CommandRun = (_c, a, w) => {
  w.bulk(a.bufs[1]!, a.offs[1]!, a.lens[1]!);
  return undefined;
};

const quit: CommandRun = (c, _a, w) => {
  w.ok();
  c.quit();
  return undefined;
};

const select: CommandRun = (_c, a, w) => {
  const db = argInt(a, 1);
  if (Number.isNaN(db)) w.error(ERR_NOT_INTEGER);
  else if (db !== 0) w.error('ERR DB index is out of range');
  else w.ok();
  return undefined;
};

const ERR_HELLO_NOAUTH =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time';

const auth: CommandRun = (c, a, w) => {
  if (a.argc > 3) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  const result = a.argc === 2 ? c.authenticate(a, -1, 1) : c.authenticate(a, 1, 2);
  if (result === 'ok') w.ok();
  else if (result === 'nopass') w.error(ERR_NO_PASSWORD);
  else w.error(ERR_WRONGPASS);
  return undefined;
};

const hello: CommandRun = (c, a, w) => {
  let next = 1;
  if (a.argc >= 2) {
    const version = argInt(a, next++);
    if (Number.isNaN(version)) {
      w.error('ERR Protocol version is not an integer or out of range');
      return undefined;
    }
    if (version !== 2) {
      w.error('NOPROTO unsupported protocol version');
      return undefined;
    }
  }
  let user = -1;
  let name = -1;
  for (let j = next; j < a.argc; j++) {
    const more = a.argc - 1 - j;
    if (argIs(a, j, 'auth') && more >= 2) {
      user = j + 1;
      j += 2;
    } else if (argIs(a, j, 'setname') && more >= 1) {
      name = ++j;
    } else {
      w.error(`ERR Syntax error in HELLO option '${argString(a, j, 128)}'`);
      return undefined;
    }
  }
  if (user >= 0) {
    if (c.authenticate(a, user, user + 1) !== 'ok') {
      w.error(ERR_WRONGPASS);
      return undefined;
    }
  } else if (c.needsAuth) {
    w.error(ERR_HELLO_NOAUTH);
    return undefined;
  }
  if (name >= 0) {
    if (!isValidName(a, name)) {
      w.error(ERR_CLIENT_NAME);
      return undefined;
    }
    c.client.name = argString(a, name);
  }
  w.array(14);
  for (const [key, value] of [
    ['server', 'redis'],
    ['version', REDIS_VERSION],
  ] as const) {
    w.bulkString(key);
    w.bulkString(value);
  }
  w.bulkString('proto');
  w.integer(2);
  w.bulkString('id');
  w.integer(c.client.id);
  for (const [key, value] of [
    ['mode', 'standalone'],
    ['role', 'master'],
  ] as const) {
    w.bulkString(key);
    w.bulkString(value);
  }
  w.bulkString('modules');
  w.emptyArray();
  return undefined;
};

const dbsize: CommandRun = (c, _a, w) => reply(c.backend.dbsize(), w, (out, n) => out.integer(n));

const flush: CommandRun = (c, a, w) => {
  if (a.argc > 2 || (a.argc === 2 && !argIs(a, 1, 'async') && !argIs(a, 1, 'sync'))) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  return reply(c.backend.flush(), w, (out) => out.ok());
};

const info: CommandRun = (c, a, w) => {
  const asked: string[] = [];
  for (let i = 1; i < a.argc; i++) asked.push(argLower(a, i));
  return reply(c.backend.info(), w, (out, fields) => out.bulkString(buildInfo(selectSections(asked, fields), c.server, fields)));
};

// ---- CLIENT ----

function clientLine(client: ClientState, now: number): string {
  const age = Math.floor((now - client.createdAt) / 1000);
  return (
    `id=${client.id} addr=${client.addr} laddr=${client.laddr} name=${client.name} age=${age} flags=N db=0 ` +
    `user=default resp=2 lib-name=${client.libName} lib-ver=${client.libVer}\n`
  );
}

const clientSetname: CommandRun = (c, a, w) => {
  if (!isValidName(a, 2)) w.error(ERR_CLIENT_NAME);
  else {
    c.client.name = argString(a, 2);
    w.ok();
  }
  return undefined;
};

const clientGetname: CommandRun = (c, _a, w) => {
  if (c.client.name === '') w.nil();
  else w.bulkString(c.client.name, 'latin1');
  return undefined;
};

const clientSetinfo: CommandRun = (c, a, w) => {
  const attr = argLower(a, 2);
  if (attr !== 'lib-name' && attr !== 'lib-ver') {
    w.error(`ERR Unrecognized option '${argString(a, 2, 128)}'`);
  } else if (!isValidName(a, 3)) {
    w.error(`ERR ${argString(a, 2)} cannot contain spaces, newlines or special characters.`);
  } else {
    if (attr === 'lib-name') c.client.libName = argString(a, 3);
    else c.client.libVer = argString(a, 3);
    w.ok();
  }
  return undefined;
};

const clientId: CommandRun = (c, _a, w) => {
  w.integer(c.client.id);
  return undefined;
};

const clientInfo: CommandRun = (c, _a, w) => {
  w.bulkString(clientLine(c.client, Date.now()), 'latin1');
  return undefined;
};

const clientList: CommandRun = (c, a, w) => {
  if (a.argc > 2) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  const now = Date.now();
  let text = '';
  for (const client of c.server.clients()) text += clientLine(client, now);
  w.bulkString(text, 'latin1');
  return undefined;
};

// ---- CONFIG ----

/** Redis's glob (stringmatch, case-insensitive for CONFIG GET): * ? [set] [^set] and \ escapes. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else if (ch === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const body = pattern.slice(i + 1, close);
        source += `[${body.startsWith('^') ? '^' + escapeClass(body.slice(1)) : escapeClass(body)}]`;
        i = close;
      }
    } else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, 'is');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(text: string): string {
  return text.replace(/[\\\]^]/g, '\\$&');
}

const configGet: CommandRun = (c, a, w) => {
  const found = new Map<string, string>();
  for (let i = 2; i < a.argc; i++) {
    const pattern = argString(a, i);
    const re = globToRegExp(pattern);
    for (const [key, value] of c.server.config) if (re.test(key)) found.set(key, value);
  }
  w.array(found.size * 2);
  for (const [key, value] of found) {
    w.bulkString(key);
    w.bulkString(value);
  }
  return undefined;
};

const configSet: CommandRun = (_c, a, w) => {
  w.error(`ERR Unknown option or number of arguments for CONFIG SET - '${argString(a, 2, 128)}'`);
  return undefined;
};

const configResetstat: CommandRun = (_c, _a, w) => {
  w.ok();
  return undefined;
};

export const serverCommands: CommandSpec[] = [
  command('ping', -1, 'fast', NO_KEYS, '@fast @connection', ping),
  command('echo', 2, 'fast', NO_KEYS, '@fast @connection', echo),
  command('quit', -1, 'fast', NO_KEYS, '@fast @connection', quit),
  command('select', 2, 'loading stale fast', NO_KEYS, '@keyspace @fast', select),
  command('hello', -1, 'noscript loading stale fast no_auth', NO_KEYS, '@fast @connection', hello),
  command('auth', -2, 'noscript loading stale fast no_auth', NO_KEYS, '@fast @connection', auth),
  command('dbsize', 1, 'readonly fast', NO_KEYS, '@keyspace @read @fast', dbsize),
  command('flushdb', -1, 'write', NO_KEYS, '@keyspace @write @slow @dangerous', flush),
  command('flushall', -1, 'write', NO_KEYS, '@keyspace @write @slow @dangerous', flush),
  command('info', -1, 'loading stale', NO_KEYS, '@slow @dangerous', info),
  container('client', '', '@slow', [
    command('client|setname', 3, 'noscript loading stale', NO_KEYS, '@slow @connection', clientSetname),
    command('client|getname', 2, 'noscript loading stale', NO_KEYS, '@slow @connection', clientGetname),
    command('client|setinfo', 4, 'noscript loading stale', NO_KEYS, '@slow @connection', clientSetinfo),
    command('client|id', 2, 'noscript loading stale', NO_KEYS, '@slow @connection', clientId),
    command('client|info', 2, 'noscript loading stale', NO_KEYS, '@slow @connection', clientInfo),
    command('client|list', -2, 'admin noscript loading stale', NO_KEYS, '@admin @slow @dangerous @connection', clientList),
  ]),
  container('config', '', '@slow', [
    command('config|get', -3, 'admin noscript loading stale', NO_KEYS, '@admin @slow @dangerous', configGet),
    command('config|set', -4, 'admin noscript loading stale', NO_KEYS, '@admin @slow @dangerous', configSet),
    command('config|resetstat', 2, 'admin noscript loading stale', NO_KEYS, '@admin @slow @dangerous', configResetstat),
  ]),
];
