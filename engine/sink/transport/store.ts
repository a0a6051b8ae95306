// What the engine needs from ClickHouse, whichever one it is: a server over
// HTTP (engine/sink/transport/clickhouse.ts) or embedded chDB (engine/sink/transport/chdb.ts).
// Data always travels as rows (JSONEachRow or RowBinary bodies), never inside SQL text.
import type { InsertFormat } from '../format/row-format'

export interface ClickHouseStore {
  readonly kind: 'server' | 'chdb'
  /** `SELECT version()`, probed once at start-up */
  readonly version: string
  /** DDL or any statement without a result */
  command(sql: string): Promise<void>
  /** a SELECT; rows come back as JSONEachRow objects (64-bit integers may be strings) */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>
  /**
   * An insert of the given body chunks (JSONEachRow unless told; chDB takes
   * text formats only). With a dedupToken (servers ≥ 22.2), a retry of an
   * insert that in fact succeeded is recognised and not stored twice.
   */
  insert(table: string, chunks: readonly Uint8Array[], dedupToken?: string, format?: InsertFormat): Promise<void>
  close(): Promise<void>
}

export function parseVersion(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(version)
  return m ? [Number(m[1]), Number(m[2])] : [0, 0]
}
