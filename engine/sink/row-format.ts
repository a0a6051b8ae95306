// How a table's rows are laid out in an insert body: JSONEachRow text (every
// table; the only choice for chDB) or RowBinary (`events` on a ClickHouse
// server, encoded by the workers: workers/encode.ts eventColumns). The insert
// statement and the row boundaries (for isolating a rejected row) follow from it.
import type { ColumnType } from '../../workers/encode'

export type InsertFormat =
  | { readonly kind: 'JSONEachRow' }
  | { readonly kind: 'RowBinary'; readonly columns: readonly (readonly [string, ColumnType])[] }

export const JSON_EACH_ROW: InsertFormat = { kind: 'JSONEachRow' }

/** The statement before the body; `table` is our own (db-qualified) name, column names are our own constants. */
export function insertStatement(table: string, format: InsertFormat): string {
  if (format.kind === 'JSONEachRow') return `INSERT INTO ${table} FORMAT JSONEachRow`
  return `INSERT INTO ${table} (${format.columns.map(([name]) => '`' + name + '`').join(', ')}) FORMAT RowBinary`
}

const FIXED_WIDTH: Record<Exclude<ColumnType, 'String'>, number> = { UUID: 16, Int64: 8, UInt64: 8, DateTime: 4, DateTime64: 8 }

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
          // LEB128 length, then the bytes
          let len = 0
          let scale = 1
          while (p < c.length) {
            const b = c[p++]
            len += (b & 0x7f) * scale
            scale *= 128
            if (b < 0x80) break
          }
          p += len
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
