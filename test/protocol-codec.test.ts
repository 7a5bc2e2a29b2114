import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_MAX_BODY_BYTES,
  Flag,
  Frame,
  FrameDecoder,
  HEADER_SIZE,
  MAX_TTL_MS,
  Opcode,
  PONG,
  SetMode,
  Status,
  closesConnection,
  encodeMgetBody,
  encodeMgetResponseBody,
  encodeMsetBody,
  encodeRequest,
  encodeResponse,
  isErrorStatus,
  isForwarded,
  maxBodyBytesFor,
  opcodeName,
  readDelta,
  readInt64,
  readTtlMs,
  requestLength,
  setModeFlags,
  setModeOf,
  statusName,
  validateRequest,
  writeRequest,
  writeResponse,
  writeResponseString,
} from '../src/protocol/index';
import { KeyTooLargeError } from '../src/errors';

interface Snapshot {
  opcode: number;
  flags: number;
  status: number;
  requestId: number;
  epoch: number;
  keyLength: number;
  valueLength: number;
  extrasHigh: number;
  extrasLow: number;
  key: string;
  value: string;
}

function snapshot(f: Frame): Snapshot {
  return {
    opcode: f.opcode,
    flags: f.flags,
    status: f.status,
    requestId: f.requestId,
    epoch: f.epoch,
    keyLength: f.keyLength,
    valueLength: f.valueLength,
    extrasHigh: f.extrasHigh,
    extrasLow: f.extrasLow,
    key: f.key().toString('hex'),
    value: f.value().toString('hex'),
  };
}

/** Decodes `bytes` fed in chunks of `sizes` (cycled); fails the test on a decoder error. */
function decodeAll(kind: 'request' | 'response', bytes: Buffer, chunkSize: number): Snapshot[] {
  const out: Snapshot[] = [];
  const d = new FrameDecoder({ kind, onFrame: (f) => out.push(snapshot(f)) });
  for (let i = 0; i < bytes.length; i += chunkSize) d.push(bytes.subarray(i, i + chunkSize));
  assert.is(d.hasPartialFrame, false);
  assert.is(d.pendingBytes, 0);
  return out;
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

// The examples printed in docs/PROTOCOL.md, byte for byte.
test('GET request and response match the documented hex', () => {
  const req = encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'foo' });
  assert.equal(req, hex('dc 01 01 00 00000001 0003 0000 00000000 0000000000000000 666f6f'));
  const res = encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1, value: 'bar' });
  assert.equal(res, hex('dd 01 01 00 00000001 00000000 00000003 0000000000000000 626172'));
  const miss = encodeResponse({ opcode: Opcode.GET, status: Status.NOT_FOUND, requestId: 2 });
  assert.equal(miss, hex('dd 01 01 01 00000002 00000000 00000000 0000000000000000'));
});

test('SET NX with a TTL, TTL and INCR responses match the documented hex', () => {
  const set = encodeRequest({
    opcode: Opcode.SET,
    requestId: 7,
    flags: setModeFlags(SetMode.NX),
    key: 'k',
    value: 'hello',
    extras: 60000,
  });
  assert.equal(set, hex('dc 01 02 02 00000007 0001 0000 00000005 000000000000ea60 6b 68656c6c6f'));
  const pttl = encodeResponse({ opcode: Opcode.TTL, status: Status.OK, requestId: 9, epoch: 3, extras: -2 });
  assert.equal(pttl, hex('dd 01 05 00 00000009 00000003 00000000 fffffffffffffffe'));
  const incr = encodeRequest({ opcode: Opcode.INCR, requestId: 10, key: 'n', extras: -5n });
  assert.equal(incr, hex('dc 01 06 00 0000000a 0001 0000 00000000 fffffffffffffffb 6e'));
});

interface Case {
  name: string;
  kind: 'request' | 'response';
  frame: Buffer;
  expect: Partial<Snapshot>;
}

const bigValue = Buffer.alloc(70000, 0xab);
const CASES: Case[] = [
  {
    name: 'GET',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'user:1' }),
    expect: { opcode: 1, keyLength: 6, valueLength: 0 },
  },
  {
    name: 'SET XX forwarded, ttl',
    kind: 'request',
    frame: encodeRequest({
      opcode: Opcode.SET,
      requestId: 0xffffffff,
      flags: setModeFlags(SetMode.XX, true),
      key: 'k',
      value: Buffer.from([0, 1, 2]),
      extras: MAX_TTL_MS,
    }),
    expect: { opcode: 2, flags: 0x05, requestId: 0xffffffff, keyLength: 1, valueLength: 3, extrasHigh: 0x1fffff, extrasLow: 0xffffffff },
  },
  {
    name: 'SET large value',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.SET, requestId: 2, key: 'big', value: bigValue }),
    expect: { valueLength: 70000 },
  },
  {
    name: 'SET empty value',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.SET, requestId: 3, key: 'e', value: '' }),
    expect: { valueLength: 0 },
  },
  { name: 'DELETE', kind: 'request', frame: encodeRequest({ opcode: Opcode.DELETE, requestId: 4, key: 'é' }), expect: { keyLength: 2 } },
  {
    name: 'TOUCH',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.TOUCH, requestId: 5, key: 'k', extras: 0 }),
    expect: { opcode: 4 },
  },
  { name: 'TTL', kind: 'request', frame: encodeRequest({ opcode: Opcode.TTL, requestId: 6, key: 'k' }), expect: { opcode: 5 } },
  {
    name: 'INCR',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.INCR, requestId: 7, key: 'c', extras: -(2n ** 63n) }),
    expect: { extrasHigh: 0x80000000, extrasLow: 0 },
  },
  {
    name: 'MGET',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.MGET, requestId: 8, value: encodeMgetBody(['a', 'bb']) }),
    expect: { keyLength: 0, valueLength: 4 + 3 + 4 },
  },
  {
    name: 'MSET',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.MSET, requestId: 9, value: encodeMsetBody([['a', '1']]), extras: 1000 }),
    expect: { keyLength: 0, valueLength: 4 + 6 + 2 },
  },
  { name: 'PING', kind: 'request', frame: encodeRequest({ opcode: Opcode.PING, requestId: 10 }), expect: { opcode: 9 } },
  {
    name: 'PING payload',
    kind: 'request',
    frame: encodeRequest({ opcode: Opcode.PING, requestId: 11, value: 'hi' }),
    expect: { valueLength: 2 },
  },
  { name: 'STATS', kind: 'request', frame: encodeRequest({ opcode: Opcode.STATS, requestId: 12 }), expect: { opcode: 10 } },
  { name: 'FLUSH', kind: 'request', frame: encodeRequest({ opcode: Opcode.FLUSH, requestId: 13 }), expect: { opcode: 11 } },
  {
    name: 'unknown opcode still frames',
    kind: 'request',
    frame: encodeRequest({ opcode: 0x7f, requestId: 14, key: 'x' }),
    expect: { opcode: 0x7f },
  },
  {
    name: 'GET hit',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1, epoch: 42, value: 'v' }),
    expect: { epoch: 42, valueLength: 1 },
  },
  {
    name: 'GET miss',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.GET, status: Status.NOT_FOUND, requestId: 1 }),
    expect: { status: 1 },
  },
  {
    name: 'GET large',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1, value: bigValue }),
    expect: { valueLength: 70000 },
  },
  {
    name: 'SET not stored',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.SET, status: Status.NOT_STORED, requestId: 2 }),
    expect: { status: 2 },
  },
  {
    name: 'TTL -1',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.TTL, status: Status.OK, requestId: 3, extras: -1 }),
    expect: { extrasHigh: 0xffffffff, extrasLow: 0xffffffff },
  },
  {
    name: 'INCR result',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.INCR, status: Status.OK, requestId: 4, extras: 2n ** 63n - 1n }),
    expect: { extrasHigh: 0x7fffffff, extrasLow: 0xffffffff },
  },
  {
    name: 'MGET',
    kind: 'response',
    frame: encodeResponse({
      opcode: Opcode.MGET,
      status: Status.OK,
      requestId: 5,
      value: encodeMgetResponseBody([Buffer.from('x'), null]),
    }),
    expect: { valueLength: 4 + 5 + 4 },
  },
  {
    name: 'PONG',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.PING, status: Status.OK, requestId: 6, value: PONG }),
    expect: { value: '504f4e47' },
  },
  {
    name: 'STATS',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.STATS, status: Status.OK, requestId: 7, value: '{"hits":1}' }),
    expect: { valueLength: 10 },
  },
  {
    name: 'error',
    kind: 'response',
    frame: encodeResponse({ opcode: Opcode.INCR, status: Status.NOT_INTEGER, requestId: 8, value: 'value is not an integer' }),
    expect: { status: 0x85 },
  },
  {
    name: 'TOO_MANY_CONNECTIONS',
    kind: 'response',
    frame: encodeResponse({ opcode: 0, status: Status.TOO_MANY_CONNECTIONS, requestId: 0, value: 'too many connections' }),
    expect: { status: 0x8a },
  },
];

for (const c of CASES) {
  test(`${c.kind} ${c.name}: whole, byte by byte and in odd chunks decode to the same frame`, () => {
    const whole = decodeAll(c.kind, c.frame, c.frame.length);
    assert.is(whole.length, 1);
    const f = whole[0]!;
    for (const [k, v] of Object.entries(c.expect)) assert.equal(f[k as keyof Snapshot], v, k);
    if (c.kind === 'request') assert.is(f.status, 0);
    else assert.is(f.keyLength, 0);
    // Byte by byte is slow for the 70 kB frames; every other case runs it in full.
    if (c.frame.length < 10000) assert.equal(decodeAll(c.kind, c.frame, 1), whole);
    assert.equal(decodeAll(c.kind, c.frame, 7), whole);
    assert.equal(decodeAll(c.kind, c.frame, 4096), whole);
    // Two copies back to back, fed so the boundary falls inside the second header.
    const two = Buffer.concat([c.frame, c.frame]);
    assert.equal(decodeAll(c.kind, two, c.frame.length + 5), [f, f]);
  });
}

test('all request cases in one chunk, then byte by byte', () => {
  const reqs = CASES.filter((c) => c.kind === 'request');
  const stream = Buffer.concat(reqs.map((c) => c.frame));
  const whole = decodeAll('request', stream, stream.length);
  assert.is(whole.length, reqs.length);
  assert.equal(decodeAll('request', stream, 1), whole);
});

test('a frame whose header is split but body is whole is handed out as a view of the chunk', () => {
  const frame = encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: 'value' });
  let buffer: Buffer | null = null;
  let keyOffset = -1;
  const d = new FrameDecoder({
    kind: 'request',
    onFrame: (f) => {
      buffer = f.buffer;
      keyOffset = f.keyOffset;
    },
  });
  const second = frame.subarray(10);
  d.push(frame.subarray(0, 10));
  assert.is(d.pendingBytes, 10);
  assert.ok(d.hasPartialFrame);
  d.push(second);
  assert.is(buffer, second);
  assert.is(keyOffset, HEADER_SIZE - 10);
});

test('the frame object is reused and its buffer is released after push', () => {
  const frames: Frame[] = [];
  const d = new FrameDecoder({ kind: 'request', onFrame: (f) => frames.push(f) });
  d.push(
    Buffer.concat([
      encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'a' }),
      encodeRequest({ opcode: Opcode.GET, requestId: 2, key: 'b' }),
    ]),
  );
  assert.is(frames.length, 2);
  assert.is(frames[0], frames[1]);
  assert.is(frames[0]!.buffer.length, 0);
});

test('pendingBytes counts a partial body', () => {
  const frame = encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: Buffer.alloc(100) });
  const d = new FrameDecoder({ kind: 'request', onFrame: () => {} });
  d.push(frame.subarray(0, 30));
  assert.is(d.pendingBytes, 30);
  d.push(frame.subarray(30, 60));
  assert.is(d.pendingBytes, 60);
  d.push(frame.subarray(60));
  assert.is(d.pendingBytes, 0);
  assert.is(d.hasPartialFrame, false);
});

test('destroy() inside onFrame stops the chunk; push after it is ignored', () => {
  let n = 0;
  const d: FrameDecoder = new FrameDecoder({
    kind: 'request',
    onFrame: () => {
      n++;
      d.destroy();
    },
  });
  const one = encodeRequest({ opcode: Opcode.PING, requestId: 1 });
  d.push(Buffer.concat([one, one, one]));
  assert.is(n, 1);
  d.push(one);
  assert.is(n, 1);
  assert.is(d.usable, false);
});

test('an exception from onFrame propagates and stops the decoder', () => {
  let n = 0;
  const d = new FrameDecoder({
    kind: 'request',
    onFrame: () => {
      n++;
      throw new Error('boom');
    },
  });
  const one = encodeRequest({ opcode: Opcode.PING, requestId: 1 });
  assert.throws(() => d.push(Buffer.concat([one, one])), /boom/);
  d.push(one);
  assert.is(n, 1);
  assert.is(d.usable, false);
});

test('extras readers: TTL, delta, int64', () => {
  const f = { extrasHigh: 0, extrasLow: 0 };
  assert.is(readTtlMs(f), 0);
  assert.is(readTtlMs({ extrasHigh: 0x1fffff, extrasLow: 0xffffffff }), MAX_TTL_MS);
  assert.is(readTtlMs({ extrasHigh: 0x200000, extrasLow: 0 }), -1);
  assert.is(readTtlMs({ extrasHigh: 0xffffffff, extrasLow: 0xffffffff }), -1);
  assert.is(readTtlMs({ extrasHigh: 1, extrasLow: 5 }), 2 ** 32 + 5);
  assert.is(readDelta({ extrasHigh: 0xffffffff, extrasLow: 0xffffffff }), -1n);
  assert.is(readDelta({ extrasHigh: 0x80000000, extrasLow: 0 }), -(2n ** 63n));
  assert.is(readDelta({ extrasHigh: 0x7fffffff, extrasLow: 0xffffffff }), 2n ** 63n - 1n);
  assert.is(readInt64({ extrasHigh: 0xffffffff, extrasLow: 0xfffffffe }), -2);
  assert.is(readInt64({ extrasHigh: 0x1fffff, extrasLow: 0xffffffff }), Number.MAX_SAFE_INTEGER);
  assert.is(readInt64({ extrasHigh: 0x200000, extrasLow: 0 }), 2n ** 53n);
  assert.is(readInt64({ extrasHigh: 0xffe00000, extrasLow: 1 }), -(2 ** 53) + 1);
  assert.is(readInt64({ extrasHigh: 0xffe00000, extrasLow: 0 }), -(2n ** 53n));
});

test('extras written from numbers and bigints round-trip through the decoder', () => {
  const values: Array<number | bigint> = [
    0,
    1,
    -1,
    -2,
    2 ** 32,
    -(2 ** 32),
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    123456789012,
    2n ** 63n - 1n,
    -(2n ** 63n),
    5n,
  ];
  for (const v of values) {
    const buf = encodeResponse({ opcode: Opcode.INCR, status: Status.OK, requestId: 1, extras: v });
    let got: number | bigint = NaN;
    new FrameDecoder({
      kind: 'response',
      onFrame: (f) => {
        got = readInt64(f);
      },
    }).push(buf);
    assert.is(BigInt(got), BigInt(v), String(v));
  }
  assert.throws(() => encodeResponse({ opcode: 1, status: 0, requestId: 1, extras: 1.5 }), RangeError);
  assert.throws(() => encodeResponse({ opcode: 1, status: 0, requestId: 1, extras: 2 ** 53 }), RangeError);
  assert.throws(() => encodeResponse({ opcode: 1, status: 0, requestId: 1, extras: 2n ** 64n }), RangeError);
  assert.throws(() => encodeResponse({ opcode: 1, status: 0, requestId: 1, extras: -(2n ** 63n) - 1n }), RangeError);
  // An unsigned 64-bit bigint is written as its bit pattern.
  const u = encodeResponse({ opcode: 1, status: 0, requestId: 1, extras: 2n ** 64n - 1n });
  assert.is(u.subarray(16).toString('hex'), 'ffffffffffffffff');
});

test('writeRequest/writeResponse pack several frames into one buffer at offsets', () => {
  const buf = Buffer.alloc(1000);
  let off = 3;
  off = writeRequest(buf, off, Opcode.SET, 0, 1, 'ké', Buffer.from('v'), 10);
  assert.is(off, 3 + requestLength('ké', 'v'));
  off = writeRequest(buf, off, Opcode.GET, Flag.FORWARDED, 2, Buffer.from('ké'), null);
  const out: Snapshot[] = [];
  new FrameDecoder({ kind: 'request', onFrame: (f) => out.push(snapshot(f)) }).push(buf.subarray(3, off));
  assert.is(out.length, 2);
  assert.is(out[0]!.key, Buffer.from('ké').toString('hex'));
  assert.is(out[1]!.flags, Flag.FORWARDED);

  const page = Buffer.from('xxxxVALUEyyyy');
  let p = 0;
  p = writeResponse(buf, p, Opcode.GET, Status.OK, 1, 9, 0, page, 4, 5);
  p = writeResponseString(buf, p, Opcode.GET, Status.BAD_ARGUMENT, 2, 9, 'key must not be empty');
  const res: Snapshot[] = [];
  new FrameDecoder({ kind: 'response', onFrame: (f) => res.push(snapshot(f)) }).push(buf.subarray(0, p));
  assert.is(Buffer.from(res[0]!.value, 'hex').toString(), 'VALUE');
  assert.is(Buffer.from(res[1]!.value, 'hex').toString(), 'key must not be empty');
  assert.is(res[1]!.status, Status.BAD_ARGUMENT);
});

test('a key over the u16 field is rejected by the encoder', () => {
  assert.throws(
    () => encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k'.repeat(65536) }),
    (e: unknown) => e instanceof KeyTooLargeError,
  );
  encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k'.repeat(65535) });
});

test('constants: names, flags, status classes, limits', () => {
  assert.is(opcodeName(Opcode.MGET), 'MGET');
  assert.is(opcodeName(0x7e), '0x7e');
  assert.is(statusName(Status.FRAME_TOO_LARGE), 'FRAME_TOO_LARGE');
  assert.ok(isErrorStatus(Status.MALFORMED));
  assert.not.ok(isErrorStatus(Status.NOT_STORED));
  assert.ok(closesConnection(Status.MALFORMED));
  assert.ok(closesConnection(Status.FRAME_TOO_LARGE));
  assert.ok(closesConnection(Status.TOO_MANY_CONNECTIONS));
  assert.not.ok(closesConnection(Status.BAD_ARGUMENT));
  assert.is(setModeFlags(SetMode.NX), 0x02);
  assert.is(setModeFlags(SetMode.XX, true), 0x05);
  assert.is(setModeOf(0x05), SetMode.XX);
  assert.is(maxBodyBytesFor(250, 1024 * 1024), 250 + 2 * 1024 * 1024);
  assert.is(DEFAULT_MAX_BODY_BYTES, 2 * 1024 * 1024);
});

function validate(spec: Parameters<typeof encodeRequest>[0]): number {
  let status = -1;
  new FrameDecoder({
    kind: 'request',
    onFrame: (f) => {
      const p = validateRequest(f, { maxKeyBytes: 8, maxValueBytes: 16 });
      status = p === null ? Status.OK : p.status;
      if (p !== null) assert.type(p.message, 'string');
    },
  }).push(encodeRequest(spec));
  return status;
}

test('validateRequest: per-opcode rules', () => {
  const ok = Status.OK;
  const bad = Status.BAD_ARGUMENT;
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: 'k' }), ok);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: '' }), bad);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: '123456789' }), Status.KEY_TOO_LARGE);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: 'k', value: 'v' }), bad);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: 'k', extras: 1 }), bad);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: 'k', flags: setModeFlags(SetMode.NX) }), bad);
  assert.is(validate({ opcode: Opcode.GET, requestId: 1, key: 'k', flags: Flag.FORWARDED }), ok);
  assert.is(validate({ opcode: Opcode.SET, requestId: 1, key: 'k', value: 'x'.repeat(16), extras: MAX_TTL_MS }), ok);
  assert.is(validate({ opcode: Opcode.SET, requestId: 1, key: 'k', value: 'x'.repeat(17) }), Status.VALUE_TOO_LARGE);
  assert.is(validate({ opcode: Opcode.SET, requestId: 1, key: 'k', extras: 2n ** 53n }), bad);
  assert.is(validate({ opcode: Opcode.SET, requestId: 1, key: 'k', flags: Flag.SET_MODE_MASK }), bad);
  assert.is(validate({ opcode: Opcode.SET, requestId: 1, key: 'k', flags: setModeFlags(SetMode.XX) }), ok);
  assert.is(validate({ opcode: Opcode.TOUCH, requestId: 1, key: 'k', extras: 5 }), ok);
  assert.is(validate({ opcode: Opcode.INCR, requestId: 1, key: 'k', extras: -1 }), ok);
  assert.is(validate({ opcode: Opcode.INCR, requestId: 1, key: 'k', value: '1' }), bad);
  assert.is(validate({ opcode: Opcode.DELETE, requestId: 1 }), bad);
  assert.is(validate({ opcode: Opcode.PING, requestId: 1, value: 'anything at all, longer than 16' }), ok);
  assert.is(validate({ opcode: Opcode.PING, requestId: 1, key: 'k' }), bad);
  assert.is(validate({ opcode: Opcode.STATS, requestId: 1 }), ok);
  assert.is(validate({ opcode: Opcode.FLUSH, requestId: 1, value: 'x' }), bad);
  assert.is(validate({ opcode: Opcode.TOPOLOGY, requestId: 1 }), Status.UNKNOWN_OPCODE);
  assert.is(validate({ opcode: 0x00, requestId: 1 }), Status.UNKNOWN_OPCODE);
  assert.is(validate({ opcode: Opcode.JOIN, requestId: 1 }), Status.UNKNOWN_OPCODE);
  // MGET / MSET bodies
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody(['a', 'b']) }), ok);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody([]) }), ok);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody(['a', '']) }), bad);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody(['a', '123456789']) }), Status.KEY_TOO_LARGE);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: Buffer.from([0, 0]) }), bad);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: Buffer.concat([encodeMgetBody(['a']), Buffer.from([0])]) }), bad);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, value: hex('00000002 0001 61') }), bad);
  assert.is(validate({ opcode: Opcode.MGET, requestId: 1, key: 'k', value: encodeMgetBody(['a']) }), bad);
  assert.is(
    validate({
      opcode: Opcode.MSET,
      requestId: 1,
      value: encodeMsetBody([
        ['a', '1'],
        ['b', '2'],
      ]),
      extras: 100,
    }),
    ok,
  );
  assert.is(validate({ opcode: Opcode.MSET, requestId: 1, value: encodeMsetBody([['a', 'x'.repeat(17)]]) }), Status.VALUE_TOO_LARGE);
  assert.is(validate({ opcode: Opcode.MSET, requestId: 1, value: encodeMsetBody([['', '1']]) }), bad);
  assert.is(validate({ opcode: Opcode.MSET, requestId: 1, value: hex('00000001 0001 ffffffff 61') }), bad);
});

test('isForwarded reads the FORWARDED flag', () => {
  const f = new Frame();
  f.flags = Flag.FORWARDED | setModeFlags(SetMode.NX);
  assert.ok(isForwarded(f));
  f.flags = 0;
  assert.not.ok(isForwarded(f));
});

test.run();
