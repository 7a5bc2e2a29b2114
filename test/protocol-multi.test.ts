import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MGET_MISSING,
  MultiKeyCursor,
  decodeMgetBody,
  decodeMgetResponse,
  decodeMsetBody,
  encodeMgetBody,
  encodeMgetResponseBody,
  encodeMsetBody,
  mgetBodyLength,
  mgetResponseBodyLength,
  msetBodyLength,
  writeMgetResponseCount,
  writeMgetResponseItem,
} from '../src/protocol/index';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

test('MGET and MSET bodies match the documented hex', () => {
  assert.equal(encodeMgetBody(['a', 'bc']), hex('00000002 0001 61 0002 6263'));
  assert.equal(
    encodeMsetBody([
      ['a', 'xy'],
      ['b', ''],
    ]),
    hex('00000002 0001 00000002 61 7879 0001 00000000 62'),
  );
  assert.equal(encodeMgetResponseBody([Buffer.from('xy'), null]), hex('00000002 00000002 7879 ffffffff'));
});

test('MGET body round-trips (strings, Buffers, UTF-8)', () => {
  const keys = ['a', Buffer.from([0, 255]), 'ключ', 'x'.repeat(300)];
  const body = encodeMgetBody(keys);
  assert.is(body.length, mgetBodyLength(keys));
  const back = decodeMgetBody(body, 0, body.length)!;
  assert.equal(
    back.map((b) => b.toString('hex')),
    keys.map((k) => Buffer.from(k as string).toString('hex')),
  );
  assert.equal(decodeMgetBody(encodeMgetBody([]), 0, 4), []);
});

test('MSET body round-trips, also inside a larger buffer', () => {
  const entries: Array<[string | Buffer, string | Buffer]> = [
    ['k1', 'v1'],
    [Buffer.from('k2'), Buffer.alloc(1000, 7)],
    ['é', ''],
  ];
  const body = encodeMsetBody(entries);
  assert.is(body.length, msetBodyLength(entries));
  const padded = Buffer.concat([Buffer.from('pre'), body, Buffer.from('post')]);
  const back = decodeMsetBody(padded, 3, body.length)!;
  assert.is(back.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(back[i]![0], Buffer.from(entries[i]![0] as string));
    assert.equal(back[i]![1], Buffer.from(entries[i]![1] as string));
  }
});

test('MGET response round-trips and its values outlive the source buffer', () => {
  const values = [Buffer.from('one'), null, Buffer.alloc(0), Buffer.alloc(5000, 1)];
  const body = encodeMgetResponseBody(values);
  assert.is(body.length, mgetResponseBodyLength(values));
  const back = decodeMgetResponse(body, 0, body.length)!;
  body.fill(0xee);
  assert.is(back.length, 4);
  assert.equal(back[0], Buffer.from('one'));
  assert.is(back[1], null);
  assert.equal(back[2], Buffer.alloc(0));
  assert.equal(back[3], Buffer.alloc(5000, 1));
});

test('writeMgetResponseItem copies a slice of a page', () => {
  const page = Buffer.from('....hello....');
  const buf = Buffer.alloc(64);
  let p = writeMgetResponseCount(buf, 0, 2);
  p = writeMgetResponseItem(buf, p, page, 4, 5);
  p = writeMgetResponseItem(buf, p, null);
  assert.equal(buf.subarray(0, p), hex('00000002 00000005 68656c6c6f ffffffff'));
  assert.is(MGET_MISSING, 0xffffffff);
});

test('malformed bodies decode to null (truncated, overrun, trailing bytes, short count)', () => {
  const cases: Buffer[] = [
    hex(''),
    hex('000000'),
    hex('00000001'),
    hex('00000001 00'),
    hex('00000001 0005 6162'),
    hex('00000001 0001 61 00'),
    hex('ffffffff 0001 61'),
  ];
  for (const c of cases) assert.is(decodeMgetBody(c, 0, c.length), null, c.toString('hex'));
  assert.is(decodeMsetBody(hex('00000001 0001 00000005 61 6263'), 0, 9), null);
  assert.is(decodeMsetBody(hex('00000001 0001 ffffffff 61'), 0, 11), null);
  assert.is(decodeMgetResponse(hex('00000001 00000009 61'), 0, 9), null);
  assert.is(decodeMgetResponse(hex('00000002 ffffffff'), 0, 8), null);
  assert.is(decodeMgetResponse(hex('000000'), 0, 3), null);
});

test('MultiKeyCursor is reusable and reports completeness', () => {
  const c = new MultiKeyCursor();
  const body = encodeMgetBody(['a', 'bb', 'ccc']);
  for (let round = 0; round < 2; round++) {
    assert.is(c.begin(body, 0, body.length), 3);
    const lens: number[] = [];
    while (c.nextKey()) lens.push(c.keyLength);
    assert.equal(lens, [1, 2, 3]);
    assert.ok(c.complete);
  }
  assert.is(c.begin(body, 0, body.length - 1), 3);
  while (c.nextKey());
  assert.not.ok(c.complete);
  assert.is(c.begin(body, 0, 2), -1);
  assert.not.ok(c.nextKey());
  assert.not.ok(c.complete);
});

const bytesArb = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

test('property: MGET, MSET and MGET-response bodies round-trip', () => {
  fc.assert(
    fc.property(fc.array(bytesArb, { maxLength: 20 }), (keys) => {
      const body = encodeMgetBody(keys);
      assert.equal(decodeMgetBody(body, 0, body.length), keys);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(bytesArb, bytesArb), { maxLength: 20 }), (entries) => {
      const body = encodeMsetBody(entries);
      assert.equal(decodeMsetBody(body, 0, body.length), entries);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(fc.option(bytesArb, { nil: null }), { maxLength: 20 }), (values) => {
      const body = encodeMgetResponseBody(values);
      assert.equal(decodeMgetResponse(body, 0, body.length), values);
    }),
    { numRuns: 500 },
  );
});

test('property: a truncated body never decodes', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(bytesArb, bytesArb), { minLength: 1, maxLength: 8 }), fc.nat(), (entries, cutSeed) => {
      const body = encodeMsetBody(entries);
      const cut = cutSeed % body.length;
      assert.is(decodeMsetBody(body, 0, cut), null);
    }),
    { numRuns: 300 },
  );
});

test.run();
