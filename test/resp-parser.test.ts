import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PARSE_COMMAND, PARSE_ERROR, PARSE_NEED_MORE, RespParser, type ParserLimits } from '../src/resp/parser';
import { encodeCommand } from './helpers/resp-client';

const LIMITS: ParserLimits = {
  maxArgs: 1024 * 1024,
  maxBulkBytes: 1024 * 1024,
  maxRequestBytes: 8 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
};

interface Parsed {
  commands: Buffer[][];
  inline: boolean[];
  error?: string;
}

/** Feeds the chunks in order and collects every command (arguments copied) until an error. */
function parseChunks(chunks: Buffer[], limits: ParserLimits = LIMITS): Parsed {
  const parser = new RespParser(limits);
  const out: Parsed = { commands: [], inline: [] };
  for (const chunk of chunks) {
    parser.push(chunk);
    for (;;) {
      const status = parser.next();
      if (status === PARSE_NEED_MORE) break;
      if (status === PARSE_ERROR) {
        out.error = parser.error;
        return out;
      }
      const args: Buffer[] = [];
      for (let i = 0; i < parser.argc; i++)
        args.push(Buffer.from(parser.bufs[i]!.subarray(parser.offs[i]!, parser.offs[i]! + parser.lens[i]!)));
      out.commands.push(args);
      out.inline.push(parser.inline);
    }
  }
  return out;
}

function whole(input: Buffer, limits?: ParserLimits): Parsed {
  return parseChunks([input], limits);
}

function byteByByte(input: Buffer, limits?: ParserLimits): Parsed {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i++) chunks.push(input.subarray(i, i + 1));
  return parseChunks(chunks, limits);
}

function asText(parsed: Parsed): { commands: string[][]; error?: string } {
  const commands = parsed.commands.map((args) => args.map((arg) => arg.toString('latin1')));
  return parsed.error === undefined ? { commands } : { commands, error: parsed.error };
}

/** Every case is checked fed whole and fed one byte at a time (node-redis decoder.spec style). */
function bothWays(input: string | Buffer, expected: { commands: string[][]; error?: string }, limits?: ParserLimits): void {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  assert.equal(asText(whole(Buffer.from(bytes), limits)), expected, `whole: ${JSON.stringify(bytes.toString('latin1'))}`);
  assert.equal(asText(byteByByte(Buffer.from(bytes), limits)), expected, `byte by byte: ${JSON.stringify(bytes.toString('latin1'))}`);
}

const Parser = suite('resp parser');

Parser('arrays of bulk strings, pipelined, whole and byte by byte', () => {
  bothWays('*1\r\n$4\r\nPING\r\n', { commands: [['PING']] });
  bothWays('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n', {
    commands: [
      ['SET', 'k', ''],
      ['GET', 'k'],
    ],
  });
  // Bulk payloads are binary: CR, LF, '*' and '$' inside are data.
  bothWays('*2\r\n$4\r\nECHO\r\n$6\r\n\r\n*$\x00\xff\r\n', { commands: [['ECHO', '\r\n*$\x00\xff']] });
  // *0 and *-1 are ignored, as Redis does.
  bothWays('*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n', { commands: [['PING']] });
});

Parser('inline commands: words, quotes and escapes like sdssplitargs', () => {
  bothWays('PING\r\n', { commands: [['PING']] });
  bothWays('PING\n', { commands: [['PING']] });
  bothWays('  SET   k\tv  \r\n\r\n\nGET k\r\n', {
    commands: [
      ['SET', 'k', 'v'],
      ['GET', 'k'],
    ],
  });
  bothWays('SET k "a b"\r\n', { commands: [['SET', 'k', 'a b']] });
  bothWays('ECHO "\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', { commands: [['ECHO', 'AJ\n\r\t\b\x07\\"q']] });
  bothWays("ECHO 'it\\'s \"x\"'\r\n", { commands: [['ECHO', 'it\'s "x"']] });
  bothWays('ECHO ""\r\n', { commands: [['ECHO', '']] });
  bothWays('ECHO a"b c"d\r\n', { error: 'Protocol error: unbalanced quotes in request', commands: [] });
  bothWays('ECHO ab"c d"\r\n', { commands: [['ECHO', 'abc d']] });
  bothWays('ECHO "abc\r\n', { error: 'Protocol error: unbalanced quotes in request', commands: [] });
  bothWays('ECHO "a"b\r\n', { error: 'Protocol error: unbalanced quotes in request', commands: [] });
  bothWays("ECHO 'a\r\n", { error: 'Protocol error: unbalanced quotes in request', commands: [] });
  const parsed = whole(Buffer.from('PING\r\n*1\r\n$4\r\nPING\r\n'));
  assert.equal(parsed.inline, [true, false]);
});

Parser('protocol errors are worded as Redis words them, whole and byte by byte', () => {
  const cases: Array<[string, string]> = [
    ['*x\r\n', 'Protocol error: invalid multibulk length'],
    ['*\r\n', 'Protocol error: invalid multibulk length'],
    ['*01\r\n', 'Protocol error: invalid multibulk length'],
    ['*-0\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\rX', 'Protocol error: invalid multibulk length'],
    ['*1\r\nx\r\n', "Protocol error: expected '$', got 'x'"],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$01\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$1x\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$4\r\nPINGxx', "Protocol error: expected '\\r\\n' after bulk data"],
    ['*1\r\n$4\r\nPING\rx', "Protocol error: expected '\\r\\n' after bulk data"],
    ['*99999999999999999999\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$99999999999999999999\r\n', 'Protocol error: invalid bulk length'],
  ];
  for (const [input, error] of cases) bothWays(input, { commands: [], error });
  // A good command before the bad bytes is still delivered.
  bothWays('*1\r\n$4\r\nPING\r\n*x', { commands: [['PING']], error: 'Protocol error: invalid multibulk length' });
});

Parser('limits are enforced on the digits, before any payload arrives or is allocated', () => {
  const limits: ParserLimits = { maxArgs: 8, maxBulkBytes: 100, maxRequestBytes: 250, maxInlineBytes: 32 };
  bothWays('*9\r\n', { commands: [], error: 'Protocol error: invalid multibulk length' }, limits);
  bothWays('*8\r\n$1\r\na\r\n', { commands: [] }, limits);
  bothWays('*1\r\n$101\r\n', { commands: [], error: 'Protocol error: invalid bulk length' }, limits);
  bothWays(`*1\r\n$100\r\n${'x'.repeat(100)}\r\n`, { commands: [['x'.repeat(100)]] }, limits);
  // The third 100-byte bulk passes 250 declared bytes: refused at its header.
  bothWays(
    '*3\r\n$100\r\n' + 'a'.repeat(100) + '\r\n$100\r\n' + 'b'.repeat(100) + '\r\n$100\r\n',
    { commands: [], error: 'Protocol error: request larger than 250 bytes' },
    limits,
  );
  // The length is refused as soon as its digits pass the limit: "$1000…" fails at the 4th digit.
  const parser = new RespParser(limits);
  parser.push(Buffer.from('*1\r\n$100'));
  assert.is(parser.next(), PARSE_NEED_MORE);
  parser.push(Buffer.from('0'));
  assert.is(parser.next(), PARSE_ERROR);
  // Inline lines: 32 bytes pass, 33 fail, with or without their newline yet.
  bothWays(`ECHO ${'x'.repeat(27)}\r\n`, { commands: [['ECHO', 'x'.repeat(27)]] }, limits);
  bothWays(`ECHO ${'x'.repeat(28)}\r\n`, { commands: [], error: 'Protocol error: too big inline request' }, limits);
  bothWays(`ECHO ${'x'.repeat(40)}`, { commands: [], error: 'Protocol error: too big inline request' }, limits);
});

Parser('a desync flood fails at its second byte', () => {
  const parser = new RespParser(LIMITS);
  parser.push(Buffer.from('*\x00'));
  assert.is(parser.next(), PARSE_ERROR);
  assert.is(parser.error, 'Protocol error: invalid multibulk length');
  // Dead for good: more bytes are ignored.
  parser.push(Buffer.alloc(1024, 0x41));
  assert.is(parser.next(), PARSE_NEED_MORE);
});

Parser('arguments are views into the read chunk; only a bulk cut by a chunk end is copied', () => {
  const parser = new RespParser(LIMITS);
  const chunk = encodeCommand(['SET', 'key', 'value']);
  parser.push(chunk);
  assert.is(parser.next(), PARSE_COMMAND);
  for (let i = 0; i < 3; i++) assert.ok(parser.bufs[i] === chunk, `argument ${i} is a view of the chunk`);
  const big = encodeCommand(['SET', 'key', 'v'.repeat(1000)]);
  const first = big.subarray(0, 40);
  parser.push(first);
  assert.is(parser.next(), PARSE_NEED_MORE);
  parser.push(big.subarray(40));
  assert.is(parser.next(), PARSE_COMMAND);
  assert.ok(parser.bufs[1] === first, 'the key, complete in the first chunk, stays a view of it');
  assert.ok(parser.bufs[2] !== first && parser.bufs[2]!.length === 1000, 'the split value has its own buffer of exactly its size');
  assert.is(parser.bufs[2]!.toString(), 'v'.repeat(1000));
  // Once the next command is asked for, the gathered buffer is let go (an idle connection pins nothing big).
  assert.is(parser.next(), PARSE_NEED_MORE);
  assert.is(parser.bufs[2]!.length, 0);
});

Parser('random commands in random chunkings parse the same as whole (fast-check)', () => {
  const word = fc.stringMatching(/^[A-Za-z0-9:_-]{1,12}$/);
  const arrayCommand = fc
    .array(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      { minLength: 1, maxLength: 6 },
    )
    .map((args) => ({ args, bytes: encodeCommand(args) }));
  const inlineCommand = fc
    .array(word, { minLength: 1, maxLength: 5 })
    .map((words) => ({ args: words.map((w) => Buffer.from(w)), bytes: Buffer.from(`${words.join(' ')}\r\n`) }));
  const command = fc.oneof({ arbitrary: arrayCommand, weight: 3 }, { arbitrary: inlineCommand, weight: 1 });
  fc.assert(
    fc.property(
      fc.array(command, { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
      (commands, cuts) => {
        const input = Buffer.concat(commands.map((c) => c.bytes));
        const chunks: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < input.length; i++) {
          const n = cuts[i % cuts.length]!;
          chunks.push(Buffer.from(input.subarray(at, at + n)));
          at += n;
        }
        const parsed = parseChunks(chunks);
        assert.is(parsed.error, undefined);
        assert.equal(
          parsed.commands,
          commands.map((c) => c.args),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Parser('damaged arrays and tight limits: fed whole (the one-pass path) as fed byte by byte (fast-check)', () => {
  // A read holding a whole array goes through the parser's one-pass path; byte by byte, through its state
  // machine. Both must agree on every command and on the error, whatever the damage or the limits. (No quote
  // bytes: damage can turn an array into inline lines, and quoting is the inline splitter's business.)
  const noQuotes = (a: Uint8Array) => Buffer.from(a.map((b) => (b === 0x22 || b === 0x27 ? 0x20 : b)));
  const arg = fc.oneof(
    fc.uint8Array({ maxLength: 12 }).map(noQuotes),
    fc.constantFrom(Buffer.alloc(0), Buffer.from('0123456789'), Buffer.from('\r\n$*')),
  );
  const frame = fc.array(arg, { minLength: 1, maxLength: 11 }).map((args) => encodeCommand(args));
  const damage = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('set', 'insert', 'delete'),
    byte: fc.constantFrom(0x30, 0x31, 0x39, 0x0d, 0x0a, 0x24, 0x2a, 0x2d, 0x20, 0x61),
  });
  const limits = fc.record({
    maxArgs: fc.integer({ min: 1, max: 12 }),
    maxBulkBytes: fc.integer({ min: 0, max: 16 }),
    maxRequestBytes: fc.integer({ min: 16, max: 400 }),
    maxInlineBytes: fc.constant(64),
  });
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 4 }), fc.array(damage, { maxLength: 2 }), limits, (frames, hits, lim) => {
      const bytes = [...Buffer.concat(frames)];
      for (const hit of hits) {
        const at = hit.at % (bytes.length + 1);
        if (hit.kind === 'set' && at < bytes.length) bytes[at] = hit.byte;
        else if (hit.kind === 'insert') bytes.splice(at, 0, hit.byte);
        else if (hit.kind === 'delete') bytes.splice(at, 1);
      }
      const input = Buffer.from(bytes);
      assert.equal(asText(whole(input, lim)), asText(byteByByte(input, lim)));
    }),
    { numRuns: 2000 },
  );
});

Parser.run();
