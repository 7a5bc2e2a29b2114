import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  Frame,
  FrameDecoder,
  HEADER_SIZE,
  Opcode,
  OutputBatch,
  Status,
  encodeResponse,
  writeMgetResponseCount,
  writeMgetResponseItem,
  writeResponseHeader,
} from '../src/protocol/index';

function decodeResponses(bytes: Buffer): Array<{ id: number; status: number; value: string }> {
  const out: Array<{ id: number; status: number; value: string }> = [];
  new FrameDecoder({
    kind: 'response',
    maxBodyBytes: 64 * 1024 * 1024,
    onFrame: (f: Frame) => out.push({ id: f.requestId, status: f.status, value: f.value().toString('latin1') }),
  }).push(bytes);
  return out;
}

test('appendResponse writes the same bytes as encodeResponse', () => {
  const b = new OutputBatch(32);
  b.appendResponse(Opcode.GET, Status.OK, 1, 2, 0, Buffer.from('value'));
  b.appendResponse(Opcode.TTL, Status.OK, 3, 2, -1, null);
  b.appendResponseString(Opcode.SET, Status.BAD_ARGUMENT, 4, 2, 'key must not be empty');
  const expected = Buffer.concat([
    encodeResponse({ opcode: Opcode.GET, status: Status.OK, requestId: 1, epoch: 2, value: 'value' }),
    encodeResponse({ opcode: Opcode.TTL, status: Status.OK, requestId: 3, epoch: 2, extras: -1 }),
    encodeResponse({ opcode: Opcode.SET, status: Status.BAD_ARGUMENT, requestId: 4, epoch: 2, value: 'key must not be empty' }),
  ]);
  assert.is(b.length, expected.length);
  assert.equal(b.take(), expected);
  assert.is(b.length, 0);
  assert.is(b.take().length, 0);
});

test('taken buffers are never overwritten by later appends, growth or discard', () => {
  const b = new OutputBatch(64);
  const taken: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i < 500; i++) {
    const size = (i * 37) % 300;
    b.appendResponse(Opcode.GET, Status.OK, i, 0, 0, Buffer.alloc(size, i & 0xff));
    if (i % 3 === 0) {
      b.appendResponse(Opcode.GET, Status.OK, i, 0, 0, Buffer.alloc(10));
      b.discard();
    }
    if (i % 2 === 0) {
      const out = b.take();
      taken.push([out, Buffer.from(out)]);
    }
  }
  for (const [view, copy] of taken) assert.ok(view.equals(copy));
});

test('property: random appends and takes; every taken buffer keeps its bytes and decodes in order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 24, max: 512 }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constant(-1)), { maxLength: 60 }),
      (capacity, ops) => {
        const b = new OutputBatch(capacity);
        const taken: Array<[Buffer, Buffer]> = [];
        let id = 0;
        for (const op of ops) {
          if (op < 0) {
            const out = b.take();
            taken.push([out, Buffer.from(out)]);
          } else {
            b.appendResponse(Opcode.GET, Status.OK, id++, 0, 0, Buffer.alloc(op, id & 0xff));
          }
        }
        const last = b.take();
        taken.push([last, Buffer.from(last)]);
        for (const [view, copy] of taken) assert.ok(view.equals(copy));
        const all = decodeResponses(Buffer.concat(taken.map((t) => t[0])));
        assert.equal(
          all.map((r) => r.id),
          Array.from({ length: id }, (_, i) => i),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('reserve/commit with a mark: backfill an MGET header after writing its items', () => {
  const b = new OutputBatch(32);
  b.appendResponse(Opcode.PING, Status.OK, 1, 0, 0, Buffer.from('PONG'));
  const mark = b.mark();
  b.commit(b.reserve(HEADER_SIZE + 4) + HEADER_SIZE + 4);
  const values = [Buffer.alloc(100, 1), null, Buffer.alloc(200, 2)];
  for (const v of values) {
    const off = b.reserve(4 + (v === null ? 0 : v.length));
    b.commit(writeMgetResponseItem(b.buffer, off, v));
  }
  // Storage grew meanwhile: find the header again through the mark.
  const headerOff = b.offsetOf(mark);
  const valueLength = b.length - mark - HEADER_SIZE;
  writeResponseHeader(b.buffer, headerOff, Opcode.MGET, Status.OK, 2, 0, valueLength);
  writeMgetResponseCount(b.buffer, headerOff + HEADER_SIZE, values.length);
  const res = decodeResponses(b.take());
  assert.is(res.length, 2);
  assert.is(res[1]!.id, 2);
  assert.is(res[1]!.value.length, 4 + 104 + 4 + 204);
});

test('appendRequest and appendBytes', () => {
  const b = new OutputBatch(24);
  b.appendRequest(Opcode.SET, 0, 5, 'key', 'value', 1000);
  b.appendBytes(Buffer.from('xyz'), 1, 1);
  const out = b.take();
  assert.is(out.length, 24 + 8 + 1);
  assert.is(out[out.length - 1], 'y'.charCodeAt(0));
});

test('release drops idle storage; commit outside the reservation throws', () => {
  const b = new OutputBatch(1024);
  b.appendResponse(Opcode.PING, Status.OK, 1, 0, 0, null);
  b.release();
  assert.is(b.length, HEADER_SIZE, 'release keeps pending bytes');
  b.take();
  b.release();
  assert.is(b.buffer.length, 0);
  const off = b.reserve(10);
  assert.throws(() => b.commit(off + 1025), RangeError);
  assert.throws(() => new OutputBatch(0), RangeError);
});

test('external pieces: writeTo sends own bytes and views in order in one corked write; done runs per view', () => {
  const b = new OutputBatch(64, undefined, true);
  const released: string[] = [];
  const view = (text: string): Buffer => Buffer.from(text.repeat(100));
  b.appendResponse(Opcode.SET, Status.OK, 1, 0, 0, null);
  b.appendResponseHeader(Opcode.GET, Status.OK, 2, 0, 200);
  b.appendExternal(view('ab'), () => released.push('ab'));
  b.appendResponseHeader(Opcode.GET, Status.OK, 3, 0, 200);
  b.appendExternal(view('cd'), () => released.push('cd'));
  b.appendResponse(Opcode.GET, Status.OK, 4, 0, 0, Buffer.from('tail'));
  assert.is(b.length, 4 * HEADER_SIZE + 404, 'length counts the external bytes');
  const calls: string[] = [];
  const chunks: Buffer[] = [];
  const pending: Array<() => void> = [];
  const sink = {
    cork: () => calls.push('cork'),
    uncork: () => calls.push('uncork'),
    write: (chunk: Buffer, callback?: (error?: Error | null) => void): boolean => {
      calls.push('write');
      chunks.push(chunk);
      if (callback) pending.push(() => callback(null));
      return true;
    },
  };
  assert.is(b.writeTo(sink), 4 * HEADER_SIZE + 404);
  assert.is(calls[0], 'cork');
  assert.is(calls[calls.length - 1], 'uncork');
  assert.is(b.length, 0);
  assert.equal(released, [], 'views are released only when their writes complete');
  for (const done of pending) done();
  assert.equal(released, ['ab', 'cd']);
  assert.equal(
    decodeResponses(Buffer.concat(chunks)).map((r) => [r.id, r.value]),
    [
      [1, ''],
      [2, 'ab'.repeat(100)],
      [3, 'cd'.repeat(100)],
      [4, 'tail'],
    ],
  );
});

test('external pieces: take() joins them (and releases), discard() releases, a plain batch refuses them', () => {
  const b = new OutputBatch(64, undefined, true);
  const released: number[] = [];
  b.appendResponseHeader(Opcode.GET, Status.OK, 7, 0, 3);
  b.appendExternal(Buffer.from('xyz'), () => released.push(1));
  const joined = b.take();
  assert.equal(released, [1]);
  assert.equal(
    decodeResponses(joined).map((r) => [r.id, r.value]),
    [[7, 'xyz']],
  );
  b.appendResponseHeader(Opcode.GET, Status.OK, 8, 0, 3);
  b.appendExternal(Buffer.from('xyz'), () => released.push(2));
  b.discard();
  assert.equal(released, [1, 2]);
  assert.is(b.length, 0);
  assert.throws(() => new OutputBatch(64).appendExternal(Buffer.from('x'), () => undefined), /acceptsExternal/);
});

test.run();
