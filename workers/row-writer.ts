// A growable byte buffer that rows are written into, in either insert format:
// JSONEachRow text, or ClickHouse's RowBinary (length-prefixed strings,
// little-endian integers, no escaping, no parsing on the server). Numbers are
// written byte by byte: ids, offsets and times are below 2^53, so two 32-bit
// halves carry them without BigInt.
const TWO_32 = 4294967296

// hex digit value by char code (0xff: not hex); the uuid was validated in parse.ts
const HEX = new Uint8Array(128).fill(0xff)
for (let i = 0; i < 10; i++) HEX[48 + i] = i
for (let i = 0; i < 6; i++) { HEX[97 + i] = 10 + i; HEX[65 + i] = 10 + i }

// Buffer#write without its argument checks (Node's own fast path for 'utf8')
type Utf8Writable = Buffer & { utf8Write(text: string, offset: number): number }

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

/** A RowBinary String's LEB128 byte length at `p`: [length, index of its first byte]. */
export function readLength(c: Uint8Array, p: number): [number, number] {
  let len = 0
  for (let scale = 1; p < c.length; scale *= 128) {
    const b = c[p++]
    len += (b & 0x7f) * scale
    if (b < 0x80) break
  }
  return [len, p]
}

export class RowWriter {
  buf: Utf8Writable
  pos = 0

  /** `memory`: write into it (a reused buffer) while the rows fit; a larger one is allocated past it. */
  constructor(capacity: number, memory?: ArrayBuffer) {
    this.buf = (memory !== undefined && memory.byteLength >= capacity ? Buffer.from(memory) : Buffer.allocUnsafeSlow(Math.max(256, capacity))) as Utf8Writable
  }

  /** The memory written into (for reuse once nothing reads the rows; after growth, the larger one). */
  get memory(): ArrayBuffer {
    return this.buf.buffer as ArrayBuffer
  }

  /** The rows written so far (a view of the writer's memory). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + extra)) as Utf8Writable
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /** Text as UTF-8, no prefix (JSONEachRow rows). */
  utf8(text: string): void {
    this.ensure(text.length * 3)
    this.pos += this.buf.utf8Write(text, this.pos)
  }

  private varint(n: number): void {
    const b = this.buf
    while (n >= 0x80) {
      b[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    b[this.pos++] = n
  }

  /** RowBinary String: LEB128 byte length, then UTF-8 bytes. */
  string(text: string): void {
    const max = text.length * 3
    this.ensure(max + 5)
    const b = this.buf
    const start = this.pos
    if (max < 0x80) {
      // one length byte is enough: short strings (names, ids, group keys),
      // copied here when ASCII (cheaper than a call into the encoder)
      const len = text.length
      let p = start + 1
      for (let i = 0; i < len; i++) {
        const c = text.charCodeAt(i)
        if (c >= 0x80) {
          p = start + 1 + b.utf8Write(text, start + 1)
          break
        }
        b[p++] = c
      }
      b[start] = p - start - 1
      this.pos = p
      return
    }
    // reserve the prefix for the longest possible encoding, shift if shorter
    const reserved = varintLength(max)
    const n = b.utf8Write(text, start + reserved)
    const needed = varintLength(n)
    if (needed < reserved) b.copyWithin(start + needed, start + reserved, start + reserved + n)
    this.varint(n)
    this.pos = start + needed + n
  }

  /** One RowBinary String made of two texts, written one after the other (no joined copy). */
  strings(head: string, rest: string): void {
    if (head.length === 0) return this.string(rest)
    const max = (head.length + rest.length) * 3
    this.ensure(max + 5)
    const b = this.buf
    const start = this.pos
    const reserved = varintLength(max)
    const h = b.utf8Write(head, start + reserved)
    const n = h + b.utf8Write(rest, start + reserved + h)
    const needed = varintLength(n)
    if (needed < reserved) b.copyWithin(start + needed, start + reserved, start + reserved + n)
    this.varint(n)
    this.pos = start + needed + n
  }

  // byte stores: Buffer#writeUInt32LE's range checks showed in profiles
  private u32At(n: number, p: number): void {
    const b = this.buf
    b[p] = n
    b[p + 1] = n >>> 8
    b[p + 2] = n >>> 16
    b[p + 3] = n >>> 24
  }

  /** RowBinary UInt8 */
  uint8(n: number): void {
    this.ensure(1)
    this.buf[this.pos++] = n
  }

  /** RowBinary UInt32 */
  uint32(n: number): void {
    this.ensure(4)
    this.u32At(n >>> 0, this.pos)
    this.pos += 4
  }

  /** RowBinary Int64/UInt64 of a safe integer (negative: two's complement). */
  int64(n: number): void {
    this.ensure(8)
    let hi = Math.floor(n / TWO_32)
    const lo = n - hi * TWO_32
    if (hi < 0) hi += TWO_32 // two's complement of the high half (floor already borrowed)
    this.u32At(lo >>> 0, this.pos)
    this.u32At(hi >>> 0, this.pos + 4)
    this.pos += 8
  }

  /** RowBinary Float64 (little-endian IEEE 754). */
  float64(n: number): void {
    this.ensure(8)
    this.buf.writeDoubleLE(n, this.pos)
    this.pos += 8
  }

  /** RowBinary String of text already encoded as UTF-8 (a worker's bytes): copied, not decoded and encoded again. */
  stringBytes(utf8: Uint8Array): void {
    this.ensure(utf8.length + 5)
    this.varint(utf8.length)
    this.append(utf8)
  }

  /** Bytes as they are (rows encoded elsewhere). */
  append(src: Uint8Array, from = 0, to = src.length): void {
    this.ensure(to - from)
    // a whole source needs no view (a Buffer's subarray is a constructor call, per row in profiles)
    this.buf.set(from === 0 && to === src.length ? src : src.subarray(from, to), this.pos)
    this.pos += to - from
  }

  /** n empty RowBinary Strings (a zero length each). */
  emptyStrings(n: number): void {
    this.ensure(n)
    this.buf.fill(0, this.pos, this.pos + n)
    this.pos += n
  }

  /**
   * RowBinary UUID: two little-endian UInt64 halves, the first 16 hex digits
   * first, so each half's bytes are reversed from their text order.
   */
  uuid(text: string): void {
    this.ensure(16)
    const b = this.buf
    let p = this.pos + 7
    let half = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === 45) continue // '-'
      const hi = HEX[c]
      const lo = HEX[text.charCodeAt(++i)]
      b[p--] = (hi << 4) | lo
      if (++half === 8) p = this.pos + 15
    }
    this.pos += 16
  }
}
