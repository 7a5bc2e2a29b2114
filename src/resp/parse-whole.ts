/**
 * The RESP parser's fast path (parser.ts): an array of bulk strings that lies whole in one read, in the canonical
 * form clients send (`*N\r\n` then N times `$len\r\n…\r\n`), parsed in one pass with no state kept between
 * bytes. Pipelined SETs and GETs arrive this way nearly always, and the byte-at-a-time state machine, which must
 * be able to stop anywhere and resume with the next read, costs more per byte.
 *
 * It decides nothing it cannot finish: when the array is cut by the read's end, a count or length has a leading
 * zero or passes its limit, or any byte is out of place, it returns 0 having changed nothing but argument slots
 * the state machine overwrites, and the state machine parses the same bytes from the same offset, with its own
 * error messages. So both paths accept and refuse exactly the same input (test/resp-parser.test.ts checks it
 * with damaged frames and tight limits, fed whole and byte by byte).
 */
import type { ParserLimits } from './parser';

/** The argument arrays the parser hands out (parser.ts: RespArgs). */
interface ArgSlots {
  argc: number;
  readonly bufs: Buffer[];
  readonly offs: number[];
  readonly lens: number[];
}

// Duplicated from parser.ts's ARG_OVERHEAD (a value imported from a module that imports this one is read through
// a getter under tsx): the bookkeeping counted per argument towards maxRequestBytes.
const ARG_OVERHEAD = 16;

/**
 * Parses the array at buf[p] (which is '*') when it lies whole in buf[p, end): sets the arguments and argc and
 * returns the offset after it; 0 when the state machine must take it (see the header).
 */
export function parseWhole(args: ArgSlots, buf: Buffer, p: number, end: number, limits: ParserLimits): number {
  let q = p + 1;
  if (q >= end) return 0;
  let count = buf[q++]! - 0x30;
  if (count < 1 || count > 9) return 0;
  for (;;) {
    if (q >= end) return 0;
    const d = buf[q]! - 0x30;
    if (d < 0 || d > 9) break;
    if (count > limits.maxArgs) return 0;
    count = count * 10 + d;
    q++;
  }
  if (count > limits.maxArgs) return 0;
  if (buf[q] !== 0x0d || q + 1 >= end || buf[q + 1] !== 0x0a) return 0;
  q += 2;
  const maxBulk = limits.maxBulkBytes;
  const maxRequest = limits.maxRequestBytes;
  const { bufs, offs, lens } = args;
  let requestBytes = 0;
  for (let i = 0; i < count; i++) {
    if (q + 4 > end || buf[q] !== 0x24) return 0;
    q++;
    let len = buf[q++]! - 0x30;
    if (len < 0 || len > 9) return 0;
    for (;;) {
      if (q >= end) return 0;
      const d = buf[q]! - 0x30;
      if (d < 0 || d > 9) break;
      if (len === 0 || len > maxBulk) return 0; // a leading zero, or already past the limit
      len = len * 10 + d;
      q++;
    }
    if (len > maxBulk) return 0;
    if (buf[q] !== 0x0d || q + 1 >= end || buf[q + 1] !== 0x0a) return 0;
    q += 2;
    requestBytes += len + ARG_OVERHEAD;
    if (requestBytes > maxRequest || end - q < len + 2) return 0;
    if (buf[q + len] !== 0x0d || buf[q + len + 1] !== 0x0a) return 0;
    if (i < bufs.length) {
      bufs[i] = buf;
      offs[i] = q;
      lens[i] = len;
    } else {
      bufs.push(buf);
      offs.push(q);
      lens.push(len);
    }
    q += len + 2;
  }
  args.argc = count;
  return q;
}
