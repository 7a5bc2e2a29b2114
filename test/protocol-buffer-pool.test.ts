import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BufferPool, classBytes, classIndex } from '../src/protocol/buffer-pool';
import { Opcode, Status } from '../src/protocol/constants';
import { FrameDecoder } from '../src/protocol/decoder';
import type { Frame } from '../src/protocol/frame';
import { OutputBatch } from '../src/protocol/output-batch';
import { encodeRequest } from '../src/protocol/encoder';
import { closeAllNodes, startTestNode } from './helpers/node';
import { seededRandom } from './helpers/random';
import { RawPeer } from './helpers/raw-socket';

const Pool = suite('buffer pool');
Pool.after.each(closeAllNodes);

Pool('take gives exactly the length asked; a block given back is reused, and only once', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.take(70_000);
  assert.is(a.length, 70_000);
  assert.ok(a.buffer.byteLength >= 70_000 && a.buffer.byteLength <= 70_000 * 1.5, `block of ${a.buffer.byteLength} bytes`);
  pool.give(a);
  pool.give(a); // a second give of the same block must not put it in the free list twice
  const b = pool.take(65_600);
  const c = pool.take(65_600);
  assert.is(b.buffer, a.buffer, 'the free block of the same class was reused');
  assert.is.not(c.buffer, b.buffer, 'two bodies in progress never share a block');
  assert.equal(pool.stats(), { reused: 1, allocated: 2, freeBytes: 0 });
});

Pool('every length gets the smallest size class that holds it', () => {
  const lengths = [1, 8191, 8192, 8193, 12_288, 12_289, 16_384, 65_552, 98_304, 98_305, 1 << 20, (1 << 20) + 1, 3 * 2 ** 20, 2 ** 31 - 1];
  const random = seededRandom(11);
  for (let i = 0; i < 2000; i++) lengths.push(1 + Math.floor(random() * 4 * 2 ** 20));
  for (const length of lengths) {
    const index = classIndex(length);
    assert.ok(classBytes(index) >= length, `class ${index} (${classBytes(index)} B) holds ${length}`);
    assert.ok(index === 0 || classBytes(index - 1) < length, `class ${index - 1} would have held ${length}`);
  }
});

Pool('free blocks are kept up to maxFreeBytes; a block over a quarter of it, or a foreign buffer, is not kept', () => {
  const pool = new BufferPool(256 * 1024);
  const blocks = [pool.take(60_000), pool.take(60_000), pool.take(60_000), pool.take(60_000), pool.take(60_000)];
  for (const block of blocks) pool.give(block);
  assert.is(pool.stats().freeBytes, 4 * blocks[0]!.buffer.byteLength, 'the fifth 64 KiB block is over the bound');
  const huge = new BufferPool(256 * 1024);
  huge.give(huge.take(100_000));
  assert.is(huge.stats().freeBytes, 0);
  const foreign = new BufferPool(1 << 20);
  foreign.give(Buffer.alloc(9000)); // not a class size
  foreign.give(Buffer.alloc(20_000).subarray(10));
  assert.is(foreign.stats().freeBytes, 0);
  assert.throws(() => new BufferPool(-1), /non-negative/);
});

/** Frames of random sizes around the read size, cut into random pieces. */
function spanningFrames(random: () => number, count: number, firstId: number): { bytes: Buffer; values: Map<number, Buffer> } {
  const values = new Map<number, Buffer>();
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(1 + Math.floor(random() * 150_000));
    for (let j = 0; j < value.length; j += 97) value[j] = Math.floor(random() * 256);
    values.set(firstId + i, value);
    frames.push(encodeRequest({ opcode: Opcode.SET, requestId: firstId + i, key: `k${firstId + i}`, value }));
  }
  return { bytes: Buffer.concat(frames), values };
}

Pool('decoders sharing a pool deliver interleaved spanning bodies intact and give every block back', () => {
  const seed = 20261124;
  const random = seededRandom(seed);
  const pool = new BufferPool();
  const streams = [spanningFrames(random, 40, 0), spanningFrames(random, 40, 1000), spanningFrames(random, 40, 2000)];
  let delivered = 0;
  const check = (frame: Frame, values: Map<number, Buffer>): void => {
    assert.not.ok(frame.ownsBuffer, `seed ${seed}: a pooled body is not the consumer's to keep`);
    assert.ok(frame.value().equals(values.get(frame.requestId)!), `seed ${seed}: value of frame ${frame.requestId}`);
    delivered++;
  };
  const decoders = streams.map(
    ({ values }) => new FrameDecoder({ kind: 'request', bodyPool: pool, onFrame: (frame) => check(frame, values) }),
  );
  const offsets = streams.map(() => 0);
  // Round robin in random piece sizes: many bodies are half received in several decoders at once.
  while (offsets.some((offset, i) => offset < streams[i]!.bytes.length)) {
    for (let i = 0; i < streams.length; i++) {
      const bytes = streams[i]!.bytes;
      if (offsets[i]! >= bytes.length) continue;
      const end = Math.min(bytes.length, offsets[i]! + 1 + Math.floor(random() * 40_000));
      decoders[i]!.push(bytes.subarray(offsets[i], end));
      offsets[i] = end;
    }
  }
  assert.is(delivered, 120);
  const stats = pool.stats();
  assert.ok(stats.reused > 0, `seed ${seed}: blocks were reused (${JSON.stringify(stats)})`);
  assert.ok(stats.freeBytes > 0, 'every block came back');
  for (const decoder of decoders) assert.not.ok(decoder.hasPartialFrame);
});

Pool('a decoder destroyed halfway through a body gives its block back', () => {
  const pool = new BufferPool();
  const decoder = new FrameDecoder({ kind: 'request', bodyPool: pool, onFrame: () => assert.unreachable('no frame is whole') });
  const frame = encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: Buffer.alloc(100_000, 1) });
  decoder.push(frame.subarray(0, 50_000));
  assert.is(pool.stats().freeBytes, 0);
  decoder.destroy();
  assert.ok(pool.stats().freeBytes >= 100_000);
});

Pool('a node stores large values sent in pieces over several connections at once, through its body pool', async () => {
  const node = await startTestNode({ maxValueBytes: 1 << 20 });
  const random = seededRandom(7);
  const peers = await Promise.all([0, 1, 2, 3].map(() => RawPeer.connect(node.port)));
  try {
    const values = peers.map((_, i) => {
      const value = Buffer.alloc(150_000 + i * 30_000);
      for (let j = 0; j < value.length; j++) value[j] = Math.floor(random() * 256);
      return value;
    });
    const frames = values.map((value, i) => encodeRequest({ opcode: Opcode.SET, requestId: 1, key: `big${i}`, value }));
    for (let piece = 0; piece < 4; piece++) {
      for (let i = 0; i < peers.length; i++) {
        const size = Math.ceil(frames[i]!.length / 4);
        peers[i]!.write(frames[i]!.subarray(piece * size, (piece + 1) * size));
      }
      // Let the node read this round of pieces before the next one arrives.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const peer of peers) assert.is((await peer.waitForResponses(1))[0]!.status, Status.OK);
    for (let i = 0; i < peers.length; i++)
      peers[i]!.write(encodeRequest({ opcode: Opcode.GET, requestId: 2, key: `big${(i + 1) % peers.length}` }));
    for (let i = 0; i < peers.length; i++) {
      const [, get] = await peers[i]!.waitForResponses(2);
      assert.is(get!.status, Status.OK);
      assert.ok(get!.value.equals(values[(i + 1) % peers.length]!), `value big${(i + 1) % peers.length} came back intact`);
    }
    peers[0]!.write(encodeRequest({ opcode: Opcode.STATS, requestId: 3, key: null }));
    const stats = JSON.parse((await peers[0]!.waitForResponses(3))[2]!.value.toString()) as {
      bufferPool: { reused: number; allocated: number };
    };
    assert.ok(
      stats.bufferPool.allocated + stats.bufferPool.reused >= 4,
      `every spanning body came from the pool: ${JSON.stringify(stats.bufferPool)}`,
    );
  } finally {
    for (const peer of peers) peer.socket.destroy();
  }
});

/** A socket stand-in that keeps every write and its completion callback until complete() is called. */
class HeldWrites {
  readonly chunks: Buffer[] = [];
  private readonly callbacks: Array<() => void> = [];
  write(chunk: Buffer, callback?: () => void): boolean {
    this.chunks.push(chunk);
    if (callback !== undefined) this.callbacks.push(callback);
    return true;
  }
  complete(): void {
    for (const callback of this.callbacks.splice(0)) callback();
  }
}

Pool('output storage goes back to the pool only after every write from it completed', () => {
  const pool = new BufferPool();
  const batch = new OutputBatch(undefined, pool);
  const sink = new HeldWrites();
  const expected: Buffer[] = [];
  const respond = (i: number): void => {
    const value = Buffer.alloc(40_000, i);
    batch.appendResponse(Opcode.GET, Status.OK, i, 0, 0, value);
    expected.push(Buffer.concat([Buffer.alloc(24), value]).subarray(24));
    batch.writeTo(sink);
  };
  for (let i = 0; i < 10; i++) respond(i); // several storages, all still being written
  assert.is(pool.stats().freeBytes, 0, 'nothing goes back while its writes are pending');
  for (let i = 10; i < 20; i++) respond(i);
  sink.chunks.forEach((chunk, i) => assert.ok(chunk.subarray(24).equals(expected[i]!), `write ${i} intact while held`));
  sink.complete();
  assert.ok(pool.stats().freeBytes > 0, 'retired storage went back once its writes completed');
  const before = pool.stats().reused;
  for (let i = 20; i < 40; i++) {
    respond(i);
    respond(i + 100);
    // Both writes are still pending: the storage they came from (possibly reused) must not have moved on.
    assert.is(sink.chunks.at(-2)!.readUInt32BE(4), i);
    assert.ok(sink.chunks.at(-2)!.subarray(24).equals(Buffer.alloc(40_000, i)), `pending write ${i} intact`);
    assert.is(sink.chunks.at(-1)!.readUInt32BE(4), i + 100);
    sink.complete();
  }
  assert.ok(pool.stats().reused > before, 'storage was reused');
});

Pool('with external pieces, storage goes back only after every run of it written around them completed', () => {
  const pool = new BufferPool();
  const batch = new OutputBatch(undefined, pool, true);
  const sink = new HeldWrites();
  let released = 0;
  // A storage whose only pending write is the header before a piece: it must not go back when the batch moves on.
  batch.appendResponseHeader(Opcode.GET, Status.OK, 999, 0, 3);
  batch.appendExternal(Buffer.from('abc'), () => released++);
  batch.writeTo(sink);
  batch.appendResponse(Opcode.GET, Status.OK, 998, 0, 0, Buffer.alloc(200_000, 1)); // new storage
  assert.is(pool.stats().freeBytes, 0, 'the storage holding only a pending header stays out of the pool');
  sink.complete();
  batch.discard();
  released = 0;
  sink.chunks.length = 0;
  for (let i = 0; i < 30; i++) {
    batch.appendResponseHeader(Opcode.GET, Status.OK, i, 0, 20_000);
    batch.appendExternal(Buffer.alloc(20_000, i), () => released++);
    batch.appendResponse(Opcode.GET, Status.OK, 1000 + i, 0, 0, Buffer.alloc(30_000, i));
    batch.writeTo(sink);
  }
  assert.is(released, 0, 'no piece is released before its write completes');
  const frames: Array<[number, number, number]> = [];
  new FrameDecoder({
    kind: 'response',
    maxBodyBytes: 1 << 20,
    onFrame: (f) => frames.push([f.requestId, f.valueLength, f.valueLength === 0 ? -1 : f.buffer[f.valueOffset + f.valueLength - 1]!]),
  }).push(Buffer.concat(sink.chunks));
  assert.equal(
    frames,
    Array.from({ length: 30 }, (_, i) => [
      [i, 20_000, i],
      [1000 + i, 30_000, i],
    ]).flat(),
    'every frame intact and in order while the writes are held',
  );
  const freeBefore = pool.stats().freeBytes;
  sink.complete();
  assert.is(released, 30);
  assert.ok(pool.stats().freeBytes > freeBefore, 'retired storage went back once its writes completed');
});

Pool('storage that take() handed out is never given back', () => {
  const pool = new BufferPool();
  const batch = new OutputBatch(undefined, pool);
  batch.appendResponse(Opcode.GET, Status.OK, 1, 0, 0, Buffer.alloc(50_000, 1));
  const taken = batch.take();
  batch.appendResponse(Opcode.GET, Status.OK, 2, 0, 0, Buffer.alloc(50_000, 2)); // moves to new storage
  batch.release();
  batch.take();
  batch.release();
  assert.is(pool.stats().freeBytes, 0);
  assert.is(taken.readUInt32BE(4), 1);
});

Pool("a node answers large GETs to a fast client while a stalled client's answers wait intact", async () => {
  const node = await startTestNode({ maxValueBytes: 1 << 20 });
  const writer = await RawPeer.connect(node.port);
  const stalled = await RawPeer.connect(node.port);
  const fast = await RawPeer.connect(node.port);
  try {
    const values = Array.from({ length: 8 }, (_, i) => Buffer.alloc(200_000 + i, 0x41 + i));
    writer.write(Buffer.concat(values.map((value, i) => encodeRequest({ opcode: Opcode.SET, requestId: i, key: `v${i}`, value }))));
    await writer.waitForResponses(values.length);
    // The stalled client stops reading: its answers queue in the node (socket writes pending in libuv).
    stalled.socket.pause();
    const stalledGets = 24;
    stalled.write(
      Buffer.concat(Array.from({ length: stalledGets }, (_, i) => encodeRequest({ opcode: Opcode.GET, requestId: i, key: `v${i % 8}` }))),
    );
    // Meanwhile the fast client reads many large answers, so output storage cycles through the pool.
    for (let round = 0; round < 5; round++) {
      fast.write(
        Buffer.concat(
          Array.from({ length: 16 }, (_, i) =>
            encodeRequest({ opcode: Opcode.GET, requestId: round * 16 + i, key: `v${(i + round) % 8}` }),
          ),
        ),
      );
      await fast.waitForResponses((round + 1) * 16);
    }
    for (const response of fast.responses)
      assert.ok(response.value.equals(values[((response.requestId % 16) + Math.floor(response.requestId / 16)) % 8]!));
    stalled.socket.resume();
    const answers = await stalled.waitForResponses(stalledGets);
    for (const answer of answers) {
      assert.is(answer.status, Status.OK);
      assert.ok(answer.value.equals(values[answer.requestId % 8]!), `stalled answer ${answer.requestId} is intact`);
    }
  } finally {
    for (const peer of [writer, stalled, fast]) peer.socket.destroy();
  }
});

Pool.run();
