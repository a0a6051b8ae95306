// How a table's rows are laid out in an insert body: JSONEachRow text (every
// table; the only choice for chDB) or RowBinary (`events` on a ClickHouse
// server, encoded by the workers: workers/encode.ts eventColumns). The insert
// statement and the row boundaries (for isolating a rejected row) follow from it.
import { monthOf, type ColumnType } from '../../../workers/clickhouse-types'
import { jsonText } from '../../../workers/well-formed'
import { readLength } from '../../../workers/row-writer'

export type InsertFormat =
  | { readonly kind: 'JSONEachRow' }
  | { readonly kind: 'RowBinary'; readonly columns: readonly (readonly [string, ColumnType])[] }

export const JSON_EACH_ROW: InsertFormat = { kind: 'JSONEachRow' }

/** The statement before the body; `table` is our own (db-qualified) name, column names are our own constants. */
export function insertStatement(table: string, format: InsertFormat): string {
  if (format.kind === 'JSONEachRow') return `INSERT INTO ${table} FORMAT JSONEachRow`
  return `INSERT INTO ${table} (${format.columns.map(([name]) => '`' + name + '`').join(', ')}) FORMAT RowBinary`
}

const FIXED_WIDTH: Record<Exclude<ColumnType, 'String'>, number> = { UUID: 16, Int64: 8, UInt64: 8, UInt8: 1, DateTime: 4, DateTime64: 8 }

/** The body's rows, each a view of its chunk. A truncated RowBinary row is returned as it is (ClickHouse then names the problem). */
export function splitRows(chunks: readonly Uint8Array[], format: InsertFormat): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const c of chunks) {
    let start = 0
    if (format.kind === 'JSONEachRow') {
      // rows are newline-terminated and never contain a raw newline
      for (let i = 0; i < c.length; i++) {
        if (c[i] === 10) {
          out.push(c.subarray(start, i + 1))
          start = i + 1
        }
      }
    } else {
      while (start < c.length) {
        let p = start
        for (const [, type] of format.columns) {
          if (type !== 'String') { p += FIXED_WIDTH[type]; continue }
          const [len, first] = readLength(c, p)
          p = first + len
        }
        if (p > c.length) break
        out.push(c.subarray(start, p))
        start = p
      }
    }
    if (start < c.length) out.push(c.subarray(start))
  }
  return out
}

const hex = (b: Uint8Array, from: number, to: number, step: number): string => {
  let s = ''
  for (let i = from; i !== to; i += step) s += b[i].toString(16).padStart(2, '0')
  return s
}

/** ClickHouse's text for a time: `YYYY-MM-DD hh:mm:ss`, with microseconds for DateTime64(6). */
function timeText(ms: number, micros: number | undefined): string {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${micros === undefined ? '' : '.' + String(micros).padStart(6, '0')}`
}

/**
 * One row as a JSONEachRow line, for a human reading a dead letter: a
 * RowBinary row is decoded by its column types (values as ClickHouse would
 * print them); a JSONEachRow row is returned as it is.
 */
export function rowAsJson(row: Uint8Array, format: InsertFormat): Uint8Array {
  if (format.kind === 'JSONEachRow') return row
  const b = Buffer.from(row.buffer, row.byteOffset, row.byteLength)
  const out: Record<string, string | number> = {}
  let p = 0
  for (const [name, type] of format.columns) {
    // truncated: what could be read
    if (p >= b.length || (type !== 'String' && p + FIXED_WIDTH[type] > b.length)) break
    switch (type) {
      case 'String': {
        const [len, first] = readLength(b, p)
        out[name] = b.toString('utf8', first, first + len)
        p = first + len
        break
      }
      case 'UUID': {
        const h = hex(b, p + 7, p - 1, -1) + hex(b, p + 15, p + 7, -1)
        out[name] = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
        p += 16
        break
      }
      case 'DateTime':
        out[name] = timeText(b.readUInt32LE(p) * 1000, undefined)
        p += 4
        break
      case 'DateTime64': {
        const us = Number(b.readBigInt64LE(p))
        out[name] = timeText(Math.floor(us / 1000), ((us % 1_000_000) + 1_000_000) % 1_000_000)
        p += 8
        break
      }
      case 'Int64':
        out[name] = Number(b.readBigInt64LE(p))
        p += 8
        break
      case 'UInt64':
        out[name] = Number(b.readBigUInt64LE(p))
        p += 8
        break
      case 'UInt8':
        out[name] = b[p]
        p += 1
        break
    }
  }
  return Buffer.from(jsonText(out) + '\n')
}

const TIMESTAMP_KEY = Buffer.from('"timestamp":"')

/**
 * The partition of a row of a table `PARTITION BY toYYYYMM(timestamp)`
 * (events, ingestion_warnings) as YYYYMM, read from the row itself; NaN when
 * the row has no readable timestamp (ClickHouse then names the problem). Only
 * called when a flush touches more partitions than one insert may
 * (batcher.ts), so the common flush parses no row.
 */
export function rowPartition(row: Uint8Array, format: InsertFormat): number {
  if (format.kind === 'JSONEachRow') {
    // inside a string value every quote is escaped, so this unescaped key is the row's own
    const at = Buffer.from(row.buffer, row.byteOffset, row.byteLength).indexOf(TIMESTAMP_KEY)
    if (at < 0) return NaN
    const p = at + TIMESTAMP_KEY.length
    const text = Buffer.from(row.buffer, row.byteOffset + p, Math.min(7, row.byteLength - p)).toString('latin1')
    const m = /^(\d{4})-(\d{2})$/.exec(text)
    return m ? Number(m[1]) * 100 + Number(m[2]) : NaN
  }
  const b = Buffer.from(row.buffer, row.byteOffset, row.byteLength)
  let p = 0
  for (const [name, type] of format.columns) {
    if (name === 'timestamp') {
      if (type === 'DateTime' && p + 4 <= b.length) return monthOf(b.readUInt32LE(p) * 1000)
      if (type === 'DateTime64' && p + 8 <= b.length) return monthOf(Math.floor(Number(b.readBigInt64LE(p)) / 1000))
      return NaN
    }
    if (type !== 'String') { p += FIXED_WIDTH[type]; continue }
    const [len, first] = readLength(b, p)
    p = first + len
  }
  return NaN
}

/**
 * The `properties` text of one `events` row (rows as the workers write them:
 * RowBinary in eventColumns' order, uuid then event then properties; or a
 * JSONEachRow line), for the rare reader that needs a value the worker did
 * not send on (engine/sink/writers/persons.ts: automatic person properties).
 */
export function eventRowProperties(rows: Uint8Array, start: number, end: number, format: InsertFormat): string {
  const b = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)
  if (format.kind === 'JSONEachRow') return (JSON.parse(b.toString('utf8', start, end)) as { properties: string }).properties
  const [eventLength, eventAt] = readLength(rows, start + 16)
  const [length, at] = readLength(rows, eventAt + eventLength)
  return b.toString('utf8', at, at + length)
}
