import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Frame, FrameDecoder, encodeRequest, encodeResponse } from '../src/protocol/index';

// Random frames in random chunkings decode to themselves (node-redis decoder.spec style).

interface Decoded {
  opcode: number;
  flagsOrStatus: number;
  requestId: number;
  epoch: number;
  key: string;
  value: string;
  extras: bigint;
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
// Mostly small bodies, sometimes large enough to span many chunks.
const body = fc.oneof({ arbitrary: bytes(40), weight: 8 }, { arbitrary: bytes(3000), weight: 1 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const requestArb = fc.record({
  opcode: fc.integer({ min: 0, max: 255 }),
  flagsOrStatus: fc.integer({ min: 0, max: 7 }),
  requestId: fc.integer({ min: 0, max: 0xffffffff }),
  epoch: fc.constant(0),
  key: bytes(300),
  value: body,
  extras: u64,
});

const responseArb = fc.record({
  opcode: fc.integer({ min: 0, max: 255 }),
  flagsOrStatus: fc.integer({ min: 0, max: 255 }),
  requestId: fc.integer({ min: 0, max: 0xffffffff }),
  epoch: fc.integer({ min: 0, max: 0xffffffff }),
  key: fc.constant(Buffer.alloc(0)),
  value: body,
  extras: u64,
});

type Spec = fc.Arbitrary<{
  opcode: number;
  flagsOrStatus: number;
  requestId: number;
  epoch: number;
  key: Buffer;
  value: Buffer;
  extras: bigint;
}>;

function run(kind: 'request' | 'response', arb: Spec, numRuns: number): void {
  fc.assert(
    fc.property(
      fc.array(arb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 20 }),
      (specs, chunkSizes) => {
        const stream = Buffer.concat(
          specs.map((s) =>
            kind === 'request'
              ? encodeRequest({
                  opcode: s.opcode,
                  flags: s.flagsOrStatus,
                  requestId: s.requestId,
                  key: s.key,
                  value: s.value,
                  extras: s.extras,
                })
              : encodeResponse({
                  opcode: s.opcode,
                  status: s.flagsOrStatus,
                  requestId: s.requestId,
                  epoch: s.epoch,
                  value: s.value,
                  extras: s.extras,
                }),
          ),
        );
        const got: Decoded[] = [];
        const d = new FrameDecoder({
          kind,
          onFrame: (f: Frame) =>
            got.push({
              opcode: f.opcode,
              flagsOrStatus: kind === 'request' ? f.flags : f.status,
              requestId: f.requestId,
              epoch: f.epoch,
              key: f.key().toString('hex'),
              value: f.value().toString('hex'),
              extras: (BigInt(f.extrasHigh) << 32n) | BigInt(f.extrasLow),
            }),
          onError: (e) => assert.unreachable(e.message),
        });
        // Chunks are copied and the source scribbled over after each push: the decoder must not keep views.
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = chunkSizes[i % chunkSizes.length]!;
          const chunk = Buffer.from(stream.subarray(off, off + n));
          d.push(chunk);
          chunk.fill(0x5a);
          off += n;
        }
        assert.is(d.hasPartialFrame, false);
        assert.equal(
          got,
          specs.map((s) => ({ ...s, key: s.key.toString('hex'), value: s.value.toString('hex') })),
        );
      },
    ),
    { numRuns },
  );
}

test('property: random request streams in random chunkings decode to themselves', () => {
  run('request', requestArb, 2000);
});

test('property: random response streams in random chunkings decode to themselves', () => {
  run('response', responseArb, 2000);
});

test.run();
