/**
 * The command table: specs (name, Redis-style arity, COMMAND metadata, the function that runs it) and the
 * lookup from the name's bytes. The lookup creates no string: candidates are grouped by name length and
 * compared byte by byte, ignoring ASCII case (names are lower-case letters, and for those `byte | 0x20` equals
 * the letter exactly when the byte is that letter in either case).
 */
import { arityError, argLower, unknownSubcommandError } from './resp-args';
import type { CommandRun } from './context';

export interface CommandSpec {
  /** Lower case; a subcommand is 'container|sub' (as Redis 7 names it in errors). */
  readonly name: string;
  /** Redis arity: N = exactly N arguments (the name included), -N = at least N. */
  readonly arity: number;
  readonly flags: readonly string[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly categories: readonly string[];
  readonly run: CommandRun;
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
}

/** A spec; `flags` and `categories` are space-separated words, keys is [first, last, step]. */
export function command(
  name: string,
  arity: number,
  flags: string,
  keys: readonly [number, number, number],
  categories: string,
  run: CommandRun,
): CommandSpec {
  const words = (text: string) => text.split(' ').filter((word) => word.length > 0);
  return { name, arity, flags: words(flags), firstKey: keys[0], lastKey: keys[1], step: keys[2], categories: words(categories), run };
}

export const NO_KEYS = [0, 0, 0] as const;
export const ONE_KEY = [1, 1, 1] as const;

export function arityOk(arity: number, argc: number): boolean {
  return arity > 0 ? argc === arity : argc >= -arity;
}

/** A container command (CLIENT, CONFIG, COMMAND): dispatches on its first argument. */
export function container(name: string, flags: string, categories: string, subs: CommandSpec[]): CommandSpec {
  const map = new Map<string, CommandSpec>();
  for (const sub of subs) map.set(sub.name.slice(name.length + 1), sub);
  const run: CommandRun = (c, a, w) => {
    const sub = map.get(argLower(a, 1));
    if (sub === undefined) {
      w.error(unknownSubcommandError(a, name));
      return undefined;
    }
    if (!arityOk(sub.arity, a.argc)) {
      w.error(arityError(sub.name));
      return undefined;
    }
    return sub.run(c, a, w);
  };
  return { ...command(name, -2, flags, NO_KEYS, categories, run), subcommands: map };
}

interface Entry {
  bytes: Uint8Array;
  spec: CommandSpec;
}

export class CommandTable {
  private readonly byLength: Entry[][] = [];
  private readonly specs = new Map<string, CommandSpec>();

  add(spec: CommandSpec): void {
    if (this.specs.has(spec.name)) throw new Error(`command ${spec.name} defined twice`);
    this.specs.set(spec.name, spec);
    const bytes = Buffer.from(spec.name, 'latin1');
    while (this.byLength.length <= bytes.length) this.byLength.push([]);
    this.byLength[bytes.length]!.push({ bytes, spec });
  }

  /** The spec whose name is buf[off, off + len), any case. */
  lookup(buf: Buffer, off: number, len: number): CommandSpec | undefined {
    const entries = this.byLength[len];
    if (entries === undefined) return undefined;
    const first = buf[off]! | 0x20;
    for (let e = 0; e < entries.length; e++) {
      const entry = entries[e]!;
      const name = entry.bytes;
      if (name[0] !== first) continue;
      let k = 1;
      while (k < len && (buf[off + k]! | 0x20) === name[k]) k++;
      if (k === len) return entry.spec;
    }
    return undefined;
  }

  get(name: string): CommandSpec | undefined {
    return this.specs.get(name.toLowerCase());
  }

  all(): CommandSpec[] {
    return [...this.specs.values()];
  }

  get size(): number {
    return this.specs.size;
  }
}
