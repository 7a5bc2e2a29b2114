/**
 * Inline commands (`SET k "a b"\r\n`, what telnet and redis-benchmark's *_inline tests send), split the way
 * Redis's sdssplitargs does: words separated by spaces/tabs; "double quotes" with the escapes \xHH \n \r \t
 * \b \a \\ \" (any other \c is c); 'single quotes' with \' only; a closing quote must be followed by a space or
 * the end of the line, an unterminated quote is an error ("unbalanced quotes"). One difference: Redis stops at
 * a NUL byte (C string); here NUL is an ordinary byte.
 *
 * Decoding happens in place (the output of a word is never longer than its input and never passes the read
 * position), so the words are views into the line's own buffer: no allocation per word.
 */

/** Where split words go: parallel arrays, as the parser keeps its arguments. */
export interface ArgSink {
  bufs: Buffer[];
  offs: number[];
  lens: number[];
}

function isSpace(c: number): boolean {
  // isspace() in the C locale: space, \t, \n, \v, \f, \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function escaped(c: number): number {
  switch (c) {
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return c;
  }
}

/**
 * Splits buf[start, end) into words, storing them from index `first` of the sink. Returns the number of words,
 * -1 for unbalanced quotes, or -2 when there are more than maxWords.
 */
export function splitInline(buf: Buffer, start: number, end: number, sink: ArgSink, first: number, maxWords: number): number {
  let p = start;
  let count = 0;
  for (;;) {
    while (p < end && isSpace(buf[p]!)) p++;
    if (p >= end) return count;
    if (count >= maxWords) return -2;
    const wordStart = p;
    let w = p;
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      if (inDouble) {
        if (p >= end) return -1;
        const c = buf[p]!;
        if (c === 0x5c && p + 3 < end && buf[p + 1] === 0x78 && hexValue(buf[p + 2]!) >= 0 && hexValue(buf[p + 3]!) >= 0) {
          buf[w++] = hexValue(buf[p + 2]!) * 16 + hexValue(buf[p + 3]!);
          p += 4;
        } else if (c === 0x5c && p + 1 < end) {
          buf[w++] = escaped(buf[p + 1]!);
          p += 2;
        } else if (c === 0x22) {
          p++;
          if (p < end && !isSpace(buf[p]!)) return -1;
          break;
        } else {
          buf[w++] = c;
          p++;
        }
      } else if (inSingle) {
        if (p >= end) return -1;
        const c = buf[p]!;
        if (c === 0x5c && p + 1 < end && buf[p + 1] === 0x27) {
          buf[w++] = 0x27;
          p += 2;
        } else if (c === 0x27) {
          p++;
          if (p < end && !isSpace(buf[p]!)) return -1;
          break;
        } else {
          buf[w++] = c;
          p++;
        }
      } else {
        if (p >= end) break;
        const c = buf[p]!;
        if (isSpace(c)) break;
        p++;
        if (c === 0x22) inDouble = true;
        else if (c === 0x27) inSingle = true;
        else buf[w++] = c;
      }
    }
    const i = first + count;
    if (i < sink.bufs.length) {
      sink.bufs[i] = buf;
      sink.offs[i] = wordStart;
      sink.lens[i] = w - wordStart;
    } else {
      sink.bufs.push(buf);
      sink.offs.push(wordStart);
      sink.lens.push(w - wordStart);
    }
    count++;
  }
}
