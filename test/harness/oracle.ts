// The count oracle of the delivery tests: what was produced (a list of
// uuids) against what ClickHouse holds: count(), uniqExact(uuid), and which
// produced uuids are missing. Used on real runs and on a negative control.
import type { ClickHouseStore } from '../../engine/sink/transport/store'

export interface OracleResult {
  produced: number
  count: number
  unique: number
  missing: number
  /** produced uuids not found, at most 10, for failure messages */
  missingSample: string[]
}

export async function oracle(store: ClickHouseStore, table: string, produced: readonly string[]): Promise<OracleResult> {
  const [{ count, unique }] = await store.query<{ count: string; unique: string }>(`SELECT count() AS count, uniqExact(uuid) AS unique FROM ${table}`)
  const stored = new Set((await store.query<{ u: string }>(`SELECT DISTINCT toString(uuid) AS u FROM ${table}`)).map((r) => r.u))
  const missing = produced.filter((u) => !stored.has(u))
  return { produced: produced.length, count: Number(count), unique: Number(unique), missing: missing.length, missingSample: missing.slice(0, 10) }
}

/** Everything produced is there, nothing else. */
export const complete = (r: OracleResult) => r.missing === 0 && r.unique === r.produced

/** Resident set size of a process, bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) * 1024 : 0
}
