import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Opcode } from '../src/protocol/constants';
import { FrameDecoder } from '../src/protocol/decoder';
import { encodeRequest } from '../src/protocol/encoder';

function frames(count: number): Buffer {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) => encodeRequest({ opcode: Opcode.SET, requestId: i, key: `k${i}`, value: `value-${i}` })),
  );
}

test('pause() inside onFrame holds the rest of the chunk until resume(), which may pause again', () => {
  const seen: number[] = [];
  let pauseAt = new Set([0, 2]);
  const decoder = new FrameDecoder({
    kind: 'request',
    onFrame: (frame) => {
      seen.push(frame.requestId);
      assert.is(frame.value().toString(), `value-${frame.requestId}`);
      if (pauseAt.has(frame.requestId)) decoder.pause();
    },
  });
  const input = frames(5);
  // Split inside the fourth frame so a held remainder meets a later chunk.
  const cut = input.length - 20;
  decoder.push(input.subarray(0, cut));
  assert.equal(seen, [0]);
  assert.ok(decoder.isPaused);
  assert.ok(decoder.heldBytes > 0);
  decoder.push(input.subarray(cut)); // arrives while paused: held too
  assert.equal(seen, [0]);
  decoder.resume();
  assert.equal(seen, [0, 1, 2]);
  pauseAt = new Set();
  decoder.resume();
  assert.equal(seen, [0, 1, 2, 3, 4]);
  assert.is(decoder.heldBytes, 0);
  assert.not.ok(decoder.hasPartialFrame);
});

test('pausing after every frame of a reused read buffer: each held rest survives the buffer being overwritten', () => {
  const seen: number[] = [];
  const decoder = new FrameDecoder({
    kind: 'request',
    onFrame: (frame) => {
      assert.is(frame.value().toString(), `value-${frame.requestId}`, `frame ${frame.requestId} intact`);
      seen.push(frame.requestId);
      decoder.pause();
    },
  });
  const input = frames(50);
  const readBuffer = Buffer.alloc(input.length + 100);
  input.copy(readBuffer);
  decoder.push(readBuffer.subarray(0, input.length));
  readBuffer.fill(0xee); // the next read of a shared buffer (net/shared-reads.ts) overwrites it
  while (decoder.isPaused) decoder.resume();
  assert.equal(
    seen,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.is(decoder.heldBytes, 0);
});

test('a pause on the last frame of a chunk holds nothing and resume() is a no-op for input', () => {
  const seen: number[] = [];
  const decoder = new FrameDecoder({
    kind: 'request',
    onFrame: (frame) => {
      seen.push(frame.requestId);
      decoder.pause();
    },
  });
  decoder.push(frames(1));
  assert.is(decoder.heldBytes, 0);
  decoder.resume();
  assert.not.ok(decoder.isPaused);
  decoder.push(frames(2));
  assert.equal(seen, [0, 0]);
  decoder.resume();
  assert.equal(seen, [0, 0, 1]);
});

test('a body that spanned reads is handed over whole (ownsBuffer): a kept view stays intact while decoding goes on', () => {
  const kept: Buffer[] = [];
  const owned: boolean[] = [];
  const decoder = new FrameDecoder({
    kind: 'request',
    onFrame: (frame) => {
      owned.push(frame.ownsBuffer);
      if (frame.ownsBuffer) kept.push(frame.value());
    },
  });
  const big = encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: Buffer.alloc(70_000, 0x61) });
  decoder.push(big.subarray(0, 30_000));
  decoder.push(big.subarray(30_000));
  decoder.push(frames(3)); // whole frames: views into the chunk, not owned
  decoder.push(encodeRequest({ opcode: Opcode.SET, requestId: 9, key: 'k', value: Buffer.alloc(70_000, 0x62) }).subarray(0, 100));
  assert.equal(owned, [true, false, false, false]);
  assert.is(kept.length, 1);
  assert.ok(kept[0]!.equals(Buffer.alloc(70_000, 0x61)), 'the kept value was not overwritten');
});

test.run();
