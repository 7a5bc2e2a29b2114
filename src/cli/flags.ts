/**
 * A small flag parser for the CLI: `--name value`, `--name=value`, and the seed's Go-style single dash
 * (`-addr :7000`). Each flag is declared once with its kind, so --help, parsing and errors agree.
 */

export type FlagKind = 'string' | 'boolean' | 'list';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  placeholder?: string;
  defaultText?: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedFlags {
  values: Map<string, string[]>;
  positional: string[];
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const equals = body.indexOf('=');
    const name = equals < 0 ? body : body.slice(0, equals);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag ${arg.split('=')[0]} (see --help)`);
    let value: string;
    if (spec.kind === 'boolean') {
      value = equals < 0 ? 'true' : body.slice(equals + 1);
      if (value !== 'true' && value !== 'false') throw new UsageError(`--${name} takes no value (or =true/=false)`);
    } else if (equals >= 0) {
      value = body.slice(equals + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`--${name} needs a value: --${name} ${spec.placeholder ?? 'VALUE'}`);
      value = next;
      i++;
    }
    const list = values.get(name) ?? [];
    if (spec.kind !== 'list' && list.length > 0) throw new UsageError(`--${name} given more than once`);
    list.push(value);
    values.set(name, list);
  }
  return { values, positional };
}

export function formatHelp(usage: string, specs: readonly FlagSpec[]): string {
  const lines = specs.map((spec) => {
    const left = `  --${spec.name}${spec.kind === 'boolean' ? '' : ` ${spec.placeholder ?? 'VALUE'}`}`;
    const right = spec.defaultText ? `${spec.help} (default ${spec.defaultText})` : spec.help;
    return `${left.padEnd(34)} ${right}`;
  });
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n`;
}
