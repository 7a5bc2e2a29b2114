/**
 * The command table every RESP connection dispatches through, and COMMAND itself (which describes the table:
 * name, arity, flags, key positions, ACL categories, in Redis 7's 10-field layout). COMMAND DOCS answers an
 * empty array: redis-cli then falls back to its built-in help.
 */
import { ERR_SYNTAX, argString, arityError, unknownSubcommandError } from './resp-args';
import { arityOk, CommandTable, command, NO_KEYS, type CommandSpec } from './command-table';
import { keyCommands } from './commands-keys';
import { serverCommands } from './commands-server';
import type { CommandRun } from './context';
import type { RespWriter } from './writer';

export const COMMANDS = new CommandTable();

function writeEntry(w: RespWriter, spec: CommandSpec): void {
  w.array(10);
  w.bulkString(spec.name);
  w.integer(spec.arity);
  w.array(spec.flags.length);
  for (const flag of spec.flags) w.simple(flag);
  w.integer(spec.firstKey);
  w.integer(spec.lastKey);
  w.integer(spec.step);
  w.array(spec.categories.length);
  for (const category of spec.categories) w.simple(category);
  w.emptyArray(); // tips
  w.emptyArray(); // key specs
  const subs = spec.subcommands === undefined ? [] : [...spec.subcommands.values()];
  w.array(subs.length);
  for (const sub of subs) writeEntry(w, sub);
}

const commandAll: CommandRun = (_c, _a, w) => {
  const all = COMMANDS.all();
  w.array(all.length);
  for (const spec of all) writeEntry(w, spec);
  return undefined;
};

const commandCount: CommandRun = (_c, _a, w) => {
  w.integer(COMMANDS.size);
  return undefined;
};

const commandDocs: CommandRun = (_c, _a, w) => {
  w.emptyArray();
  return undefined;
};

const commandInfo: CommandRun = (c, a, w) => {
  if (a.argc === 2) return commandAll(c, a, w);
  w.array(a.argc - 2);
  for (let i = 2; i < a.argc; i++) {
    const spec = COMMANDS.get(argString(a, i));
    if (spec === undefined) w.nil();
    else writeEntry(w, spec);
  }
  return undefined;
};

const commandList: CommandRun = (_c, a, w) => {
  if (a.argc > 2) {
    w.error(ERR_SYNTAX);
    return undefined;
  }
  const all = COMMANDS.all();
  w.array(all.length);
  for (const spec of all) w.bulkString(spec.name);
  return undefined;
};

const subcommands: CommandSpec[] = [
  command('command|count', 2, 'loading stale', NO_KEYS, '@slow @connection', commandCount),
  command('command|docs', -2, 'loading stale', NO_KEYS, '@slow @connection', commandDocs),
  command('command|info', -2, 'loading stale', NO_KEYS, '@slow @connection', commandInfo),
  command('command|list', -2, 'loading stale', NO_KEYS, '@slow @connection', commandList),
];
const subMap = new Map(subcommands.map((spec) => [spec.name.slice('command|'.length), spec]));

/** COMMAND alone lists everything; COMMAND <sub> dispatches like the other containers. */
const commandRun: CommandRun = (c, a, w) => {
  if (a.argc === 1) return commandAll(c, a, w);
  const sub = subMap.get(argString(a, 1).toLowerCase());
  if (sub === undefined) {
    w.error(unknownSubcommandError(a, 'command'));
    return undefined;
  }
  if (!arityOk(sub.arity, a.argc)) {
    w.error(arityError(sub.name));
    return undefined;
  }
  return sub.run(c, a, w);
};

for (const spec of [...keyCommands, ...serverCommands]) COMMANDS.add(spec);
COMMANDS.add({ ...command('command', -1, 'loading stale', NO_KEYS, '@slow @connection', commandRun), subcommands: subMap });
