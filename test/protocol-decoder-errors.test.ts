import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DecodeFailure,
  FrameDecoder,
  HEADER_SIZE,
  Opcode,
  Status,
  encodeRequest,
  encodeResponse,
  writeRequestHeader,
} from '../src/protocol/index';
import { FrameTooLargeError, ProtocolError } from '../src/errors';

interface Outcome {
  frames: number;
  failure: DecodeFailure | null;
  errors: number;
}

function feed(kind: 'request' | 'response', chunks: Buffer[], maxBodyBytes?: number): Outcome {
  const out: Outcome = { frames: 0, failure: null, errors: 0 };
  const d = new FrameDecoder({
    kind,
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    onFrame: () => {
      out.frames++;
    },
    onError: (err, failure) => {
      out.errors++;
      out.failure = failure;
      assert.is(err, failure.error);
    },
  });
  for (const c of chunks) d.push(c);
  if (out.failure !== null) assert.is(d.failure, out.failure);
  return out;
}

function header(
  fields: Partial<{
    magic: number;
    version: number;
    opcode: number;
    flags: number;
    id: number;
    keyLength: number;
    reserved: number;
    valueLength: number;
  }>,
): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  writeRequestHeader(b, 0, fields.opcode ?? Opcode.GET, fields.flags ?? 0, fields.id ?? 77, fields.keyLength ?? 0, fields.valueLength ?? 0);
  if (fields.magic !== undefined) b[0] = fields.magic;
  if (fields.version !== undefined) b[1] = fields.version;
  if (fields.reserved !== undefined) b.writeUInt16BE(fields.reserved, 10);
  return b;
}

const GARBAGE: Array<[string, Buffer]> = [
  ['HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ['TLS ClientHello', Buffer.from('16030100a5010000a10303', 'hex')],
  ['1 MiB of zeros', Buffer.alloc(1024 * 1024)],
  ['RESP command', Buffer.from('*1\r\n$4\r\nPING\r\n')],
  ['a response sent to a server', encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1 })],
];

for (const [name, bytes] of GARBAGE) {
  test(`${name} is rejected at the first byte, whole or one byte at a time`, () => {
    const whole = feed('request', [bytes]);
    assert.is(whole.frames, 0);
    assert.is(whole.errors, 1);
    assert.ok(whole.failure!.error instanceof ProtocolError);
    assert.is(whole.failure!.status, Status.MALFORMED);
    assert.match(whole.failure!.error.message, /first byte/);
    const first = feed('request', [bytes.subarray(0, 1)]);
    assert.is(first.errors, 1, 'error after one byte');
    // The rest is ignored after the error: still exactly one report.
    const bytewise = feed(
      'request',
      Array.from(bytes.subarray(0, 64), (b) => Buffer.from([b])),
    );
    assert.is(bytewise.errors, 1);
    assert.is(bytewise.failure!.requestId, -1);
  });
}

test('a request sent to a client is rejected at the first byte', () => {
  const o = feed('response', [encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k' }).subarray(0, 1)]);
  assert.is(o.errors, 1);
  assert.match(o.failure!.error.message, /not a distributed-cache response/);
});

test('bad version is rejected at the second byte', () => {
  const h = header({ version: 2, id: 5 });
  assert.is(feed('request', [h.subarray(0, 1)]).errors, 0);
  const two = feed('request', [h.subarray(0, 2)]);
  assert.is(two.errors, 1);
  assert.is(two.failure!.requestId, -1);
  const whole = feed('request', [h]);
  assert.is(whole.failure!.status, Status.MALFORMED);
  assert.is(whole.failure!.requestId, 5, 'request id known when the header is complete');
  assert.is(whole.failure!.opcode, Opcode.GET);
  assert.match(whole.failure!.error.message, /version 2/);
});

test('reserved flag bits (QUIET, and 0x40 and above) are MALFORMED', () => {
  for (const flags of [0x08, 0x40, 0x80, 0xff]) {
    const o = feed('request', [header({ flags, id: 9 })]);
    assert.is(o.errors, 1, `flags 0x${flags.toString(16)}`);
    assert.is(o.failure!.status, Status.MALFORMED);
    assert.is(o.failure!.requestId, 9);
  }
  // FORWARDED, the SET mode, REROUTED and REPLICA_READ.
  for (const flags of [0x01, 0x02, 0x04, 0x06, 0x07, 0x11, 0x21]) assert.is(feed('request', [header({ flags })]).errors, 0);
});

test('nonzero reserved bytes 10-11 are MALFORMED', () => {
  for (const reserved of [1, 0x100, 0xffff]) {
    const o = feed('request', [header({ reserved, id: 3 })]);
    assert.is(o.errors, 1);
    assert.is(o.failure!.status, Status.MALFORMED);
    assert.is(o.failure!.requestId, 3);
  }
});

/** Records every Buffer allocation over `threshold` bytes made while fn runs. */
function bigAllocations(threshold: number, fn: () => void): number[] {
  const sizes: number[] = [];
  const { allocUnsafe, alloc, allocUnsafeSlow } = Buffer;
  Buffer.allocUnsafe = ((n: number) => {
    if (n > threshold) sizes.push(n);
    return allocUnsafe(n);
  }) as typeof Buffer.allocUnsafe;
  Buffer.allocUnsafeSlow = ((n: number) => {
    if (n > threshold) sizes.push(n);
    return allocUnsafeSlow(n);
  }) as typeof Buffer.allocUnsafeSlow;
  Buffer.alloc = ((n: number, ...rest: never[]) => {
    if (n > threshold) sizes.push(n);
    return alloc(n, ...rest);
  }) as typeof Buffer.alloc;
  try {
    fn();
  } finally {
    Buffer.allocUnsafe = allocUnsafe;
    Buffer.allocUnsafeSlow = allocUnsafeSlow;
    Buffer.alloc = alloc;
  }
  return sizes;
}

test('value length 0xFFFFFFFF with only the header sent: FRAME_TOO_LARGE at once, nothing allocated', () => {
  const h = header({ opcode: Opcode.SET, keyLength: 3, valueLength: 0xffffffff, id: 1234 });
  let o: Outcome | null = null;
  const sizes = bigAllocations(4096, () => {
    o = feed('request', [h]);
  });
  assert.equal(sizes, []);
  const out = o as unknown as Outcome;
  assert.is(out.errors, 1);
  assert.ok(out.failure!.error instanceof FrameTooLargeError);
  assert.is(out.failure!.status, Status.FRAME_TOO_LARGE);
  assert.is(out.failure!.requestId, 1234);
  assert.is(out.failure!.opcode, Opcode.SET);
  const e = out.failure!.error as FrameTooLargeError;
  assert.is(e.length, 0xffffffff + 3);
  assert.is(e.limit, 2 * 1024 * 1024);
});

test('body one byte over the limit fails, at the limit decodes; declared length checked before the body arrives', () => {
  const max = 100;
  const at = encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: Buffer.alloc(99) });
  const ok = feed('request', [at], max);
  assert.is(ok.errors, 0);
  assert.is(ok.frames, 1);
  const over = encodeRequest({ opcode: Opcode.SET, requestId: 2, key: 'k', value: Buffer.alloc(100) });
  const bad = feed('request', [over.subarray(0, HEADER_SIZE)], max);
  assert.is(bad.errors, 1);
  assert.is(bad.failure!.status, Status.FRAME_TOO_LARGE);
  assert.is(bad.failure!.requestId, 2);
  // Key length counts too.
  assert.is(feed('request', [header({ keyLength: 101 })], max).errors, 1);
  // Responses are limited the same way.
  const res = encodeResponse({ opcode: Opcode.GET, status: 0, requestId: 3, value: Buffer.alloc(101) });
  assert.is(feed('response', [res.subarray(0, HEADER_SIZE)], max).failure!.status, Status.FRAME_TOO_LARGE);
  // A body within the limit is allocated once, at exactly its size, when it spans chunks.
  const big = encodeRequest({ opcode: Opcode.SET, requestId: 4, key: 'k', value: Buffer.alloc(50000) });
  const sizes = bigAllocations(4096, () => {
    feed('request', [big.subarray(0, 1000), big.subarray(1000)], 60000);
  });
  assert.equal(sizes, [50001]);
});

test('a header cut at every offset: no frame and no error until it completes', () => {
  const frames = [
    encodeRequest({ opcode: Opcode.SET, requestId: 0xdeadbeef, key: 'key', value: 'value', extras: 5 }),
    encodeRequest({ opcode: Opcode.PING, requestId: 1 }),
  ];
  for (const frame of frames) {
    for (let cut = 1; cut < frame.length; cut++) {
      let n = 0;
      const d = new FrameDecoder({
        kind: 'request',
        onFrame: () => {
          n++;
        },
        onError: () => assert.unreachable('no error'),
      });
      d.push(frame.subarray(0, cut));
      assert.is(n, 0, `cut at ${cut}`);
      assert.ok(d.hasPartialFrame);
      assert.is(d.pendingBytes, cut);
      d.push(frame.subarray(cut));
      assert.is(n, 1);
      assert.is(d.hasPartialFrame, false);
    }
  }
  const res = encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1, epoch: 7, value: 'v' });
  for (let cut = 1; cut < res.length; cut++) {
    const o = feed('response', [res.subarray(0, cut), res.subarray(cut)]);
    assert.is(o.frames, 1);
    assert.is(o.errors, 0);
  }
});

test('frames before a bad one are delivered; input after the error is ignored', () => {
  const good = encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k' });
  const o = feed('request', [Buffer.concat([good, good, Buffer.from('GET / HTTP/1.1')]), good]);
  assert.is(o.frames, 2);
  assert.is(o.errors, 1);
});

test('without onError, push throws the typed error and the decoder refuses further input', () => {
  let frames = 0;
  const d = new FrameDecoder({
    kind: 'request',
    onFrame: () => {
      frames++;
    },
  });
  assert.throws(
    () => d.push(Buffer.from([0x16, 0x03])),
    (e: unknown) => e instanceof ProtocolError,
  );
  assert.is(d.usable, false);
  assert.is(d.failure!.status, Status.MALFORMED);
  d.push(encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k' }));
  assert.is(frames, 0);
  const d2 = new FrameDecoder({ kind: 'request', maxBodyBytes: 10, onFrame: () => {} });
  assert.throws(
    () => d2.push(header({ valueLength: 11 })),
    (e: unknown) => e instanceof FrameTooLargeError,
  );
});

test('constructor rejects bad options at once', () => {
  const onFrame = (): void => {};
  assert.throws(() => new FrameDecoder({ kind: 'x' as 'request', onFrame }), TypeError);
  assert.throws(() => new FrameDecoder({ kind: 'request', maxBodyBytes: -1, onFrame }), RangeError);
  assert.throws(() => new FrameDecoder({ kind: 'request', maxBodyBytes: 1.5, onFrame }), RangeError);
  assert.throws(() => new FrameDecoder({ kind: 'request', maxBodyBytes: 2 ** 40, onFrame }), RangeError);
  assert.throws(() => new FrameDecoder({ kind: 'request', onFrame: 1 as unknown as () => void }), TypeError);
});

test('the partial header is validated as bytes arrive: a bad magic after a good frame in the same chunk', () => {
  const good = encodeRequest({ opcode: Opcode.GET, requestId: 1, key: 'k' });
  const o = feed('request', [Buffer.concat([good, Buffer.from([0x00])])]);
  assert.is(o.frames, 1);
  assert.is(o.errors, 1);
});

test.run();
