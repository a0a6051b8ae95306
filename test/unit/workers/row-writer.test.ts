// workers/row-writer.ts byte layouts (RowBinary as ClickHouse reads it; the
// round trip through a real server is test/integration/row-encoding.test.ts)
// and engine/sink/format/row-format.ts's split of a body into rows.
import t from 'tap'
import { splitRows } from '../../../engine/sink/format/row-format'
import { RowWriter } from '../../../workers/row-writer'

const bytesOf = (write: (w: RowWriter) => void, capacity = 8) => {
  const w = new RowWriter(capacity)
  write(w)
  return Buffer.from(w.bytes())
}

t.test('strings: LEB128 byte length, then UTF-8, across the 1-, 2- and 3-byte length boundaries', async (t) => {
  t.same(bytesOf((w) => w.string('')), Buffer.from([0]))
  t.same(bytesOf((w) => w.string('aé')), Buffer.from([3, 0x61, 0xc3, 0xa9]))
  for (const text of ['x'.repeat(42), 'x'.repeat(43), 'x'.repeat(127), 'x'.repeat(128), 'é'.repeat(64), '☕'.repeat(5000), 'x'.repeat(16_383), 'x'.repeat(16_384), '🦆'.repeat(40_000)]) {
    const bytes = bytesOf((w) => { w.string(text); w.string('end') })
    const n = Buffer.byteLength(text)
    let len = 0
    let p = 0
    for (let scale = 1; ; scale *= 128) {
      const b = bytes[p++]
      len += (b & 0x7f) * scale
      if (b < 0x80) break
    }
    t.equal(len, n, `length of ${n} bytes`)
    t.equal(p, n < 128 ? 1 : n < 16_384 ? 2 : 3, 'shortest prefix')
    t.equal(bytes.toString('utf8', p, p + n), text)
    t.same(bytes.subarray(p + n), Buffer.from([3, 0x65, 0x6e, 0x64]), 'the next value follows right after')
  }
})

t.test('a String from UTF-8 bytes is the same String as from their text (a worker\'s new-person properties), growing the writer as needed', async (t) => {
  for (const text of ['{}', '{"$browser":"Chrome","é":"☕"}', 'x'.repeat(127), 'x'.repeat(128), '🦆'.repeat(40_000)]) {
    const utf8 = new Uint8Array(Buffer.from(text)) // a plain Uint8Array, as an unpacked intent gives
    t.same(bytesOf((w) => { w.uint8(7); w.stringBytes(utf8); w.string('end') }, 4), bytesOf((w) => { w.uint8(7); w.string(text); w.string('end') }), `${Buffer.byteLength(text)} bytes`)
  }
})

t.test('integers are little-endian; negative Int64 is two\'s complement', async (t) => {
  t.same(bytesOf((w) => w.uint32(0x01020304)), Buffer.from([4, 3, 2, 1]))
  const int64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b }
  for (const n of [0, 1, 42, 2 ** 32 - 1, 2 ** 32, 1_763_630_405_123_000, Number.MAX_SAFE_INTEGER, -1, -(2 ** 32), -1_000_000_000_000]) {
    t.same(bytesOf((w) => w.int64(n)), int64(n), String(n))
  }
})

t.test('a UUID is two little-endian halves', async (t) => {
  t.same(bytesOf((w) => w.uuid('00112233-4455-6677-8899-aabbccddeeff')),
    Buffer.from('7766554433221100ffeeddccbbaa9988', 'hex'))
  t.same(bytesOf((w) => w.uuid('0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B')), bytesOf((w) => w.uuid('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')), 'either case')
})

t.test('the writer grows: many rows written into a small start keep every byte', async (t) => {
  const w = new RowWriter(1)
  for (let i = 0; i < 1000; i++) { w.string(`row ${i} ${'☕'.repeat(i % 50)}`); w.int64(i) }
  const rows = splitRows([w.bytes()], { kind: 'RowBinary', columns: [['s', 'String'], ['n', 'Int64']] })
  t.equal(rows.length, 1000)
  t.equal(Buffer.from(rows[999]).toString('utf8', 2, 2 + Buffer.byteLength(`row 999 ${'☕'.repeat(49)}`)), `row 999 ${'☕'.repeat(49)}`)
  t.equal(Buffer.from(rows[7]).readUInt32LE(rows[7].length - 8), 7)
})

t.test('splitRows: JSONEachRow by newline; RowBinary by the column types; a truncated tail stays one piece', async (t) => {
  const json = Buffer.from('{"a":1}\n{"a":"x\\ny"}\n')
  t.same(splitRows([json], { kind: 'JSONEachRow' }).map((r) => Buffer.from(r).toString()), ['{"a":1}\n', '{"a":"x\\ny"}\n'])
  const w = new RowWriter(64)
  for (const s of ['a', 'b'.repeat(300)]) { w.uuid('00112233-4455-6677-8899-aabbccddeeff'); w.string(s); w.uint32(1); w.int64(2) }
  const format = { kind: 'RowBinary', columns: [['u', 'UUID'], ['s', 'String'], ['t', 'DateTime'], ['o', 'UInt64']] } as const
  t.same(splitRows([w.bytes()], format).map((r) => r.length), [16 + 2 + 4 + 8, 16 + 2 + 300 + 4 + 8])
  t.same(splitRows([w.bytes().subarray(0, 40)], format).map((r) => r.length), [30, 10])
})

t.test('strings(head, rest) writes the same bytes as string(head + rest)', async (t) => {
  for (const [head, rest] of [['', 'abc'], ['{"$ip":"1.2.3.4",', '"a":1}'], ['é', 'x'.repeat(126)], ['{"k":', '☕'.repeat(6000) + '}'], ['h'.repeat(200), 'r'.repeat(16_200)]]) {
    t.same(bytesOf((w) => w.strings(head, rest)), bytesOf((w) => w.string(head + rest)), `${head.length} + ${rest.length} characters`)
  }
})
