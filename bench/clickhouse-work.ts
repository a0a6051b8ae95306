// Where ClickHouse's CPU goes, per pipeline (issue 18's "insert shape"): the
// server logs every query with its thread CPU (query_log's ProfileEvents)
// and every merge with its duration (part_log), so the measured window's
// ClickHouse CPU can be split by table into inserts, reads and merges, with
// the number of inserts and rows per insert beside it.
import type { ClickHouseClient } from '@clickhouse/client'

/**
 * config.d: part_log on, both logs flushed at the packaged 7.5 s; the report
 * flushes them itself (SYSTEM FLUSH LOGS). Flushing every second was ~4 % of
 * the machine in the bench (perf: the server's SystemLogFlush thread, a new
 * part of each log per second, and their merges), counted as ClickHouse CPU
 * against every pipeline though no default server logs like that.
 */
export const CLICKHOUSE_WORK_CONFIG =
  '<part_log><database>system</database><table>part_log</table><flush_interval_milliseconds>7500</flush_interval_milliseconds></part_log>' +
  '<query_log><flush_interval_milliseconds>7500</flush_interval_milliseconds></query_log>'

/** users.d: every query of the default user is logged */
export const CLICKHOUSE_WORK_USERS = '<yandex><profiles><default><log_queries>1</log_queries></default></profiles></yandex>'

export interface QueryWork {
  kind: 'insert' | 'select' | 'other'
  table: string
  queries: number
  /** written rows for inserts, read rows otherwise */
  rows: number
  /** user + system CPU of the query's threads */
  cpuSeconds: number
}

export interface MergeWork {
  table: string
  merges: number
  /** summed durations: a merge runs on one background thread */
  seconds: number
  rows: number
}

export interface ColumnSize {
  table: string
  column: string
  compressedBytes: number
  uncompressedBytes: number
}

export interface ClickHouseWork {
  queries: QueryWork[]
  merges: MergeWork[]
  /** the columns of the table with the most inserted rows, biggest first (what every insert and merge of it compresses) */
  columns: ColumnSize[]
}

/** what the logs hold for [fromMs, toMs] (wall clock; the logs have second resolution) */
export async function clickhouseWork(client: ClickHouseClient, fromMs: number, toMs: number): Promise<ClickHouseWork> {
  const from = Math.floor(fromMs / 1000)
  const to = Math.ceil(toMs / 1000)
  // the logs hold up to 7.5 s unflushed (CLICKHOUSE_WORK_CONFIG)
  await client.command({ query: 'SYSTEM FLUSH LOGS' })
  const cpu = "arraySum(arrayMap((name, value) -> if(name = 'UserTimeMicroseconds' OR name = 'SystemTimeMicroseconds', value, 0), ProfileEvents.Names, ProfileEvents.Values))"
  const queries = await rows<{ kind: QueryWork['kind']; tbl: string; n: string; r: string; cpu_s: number }>(client, `
    SELECT multiIf(match(query, '^\\\\s*INSERT'), 'insert', match(query, '^\\\\s*SELECT'), 'select', 'other') AS kind,
           extract(query, '(?:INTO|FROM)\\\\s+([A-Za-z0-9_.]+)') AS tbl,
           count() AS n, sum(if(kind = 'insert', written_rows, read_rows)) AS r, sum(${cpu}) / 1e6 AS cpu_s
    FROM system.query_log
    WHERE type = 2 AND event_time >= toDateTime(${from}) AND event_time <= toDateTime(${to})
      AND NOT match(query, 'system\\\\.(query_log|part_log|parts|merges|processes)')
    GROUP BY kind, tbl ORDER BY cpu_s DESC`)
  const merges = await rows<{ tbl: string; n: string; s: number; r: string }>(client, `
    SELECT concat(database, '.', table) AS tbl, count() AS n, sum(duration_ms) / 1e3 AS s, sum(rows) AS r
    FROM system.part_log
    WHERE event_type = 2 AND event_time >= toDateTime(${from}) AND event_time <= toDateTime(${to})
    GROUP BY tbl ORDER BY s DESC`)
  const biggest = queries.filter((q) => q.kind === 'insert' && /^\w+\.\w+$/.test(q.tbl)).sort((a, b) => Number(b.r) - Number(a.r))[0]?.tbl
  const columns = biggest === undefined ? [] : await rows<{ name: string; c: string; u: string }>(client, `
    SELECT name, data_compressed_bytes AS c, data_uncompressed_bytes AS u FROM system.columns
    WHERE database = '${biggest.split('.')[0]}' AND table = '${biggest.split('.')[1]}' ORDER BY data_compressed_bytes DESC LIMIT 8`)
  return {
    columns: columns.map((c) => ({ table: biggest!, column: c.name, compressedBytes: Number(c.c), uncompressedBytes: Number(c.u) })),
    queries: queries.map((q) => ({ kind: q.kind, table: q.tbl || '?', queries: Number(q.n), rows: Number(q.r), cpuSeconds: q.cpu_s })),
    merges: merges.map((m) => ({ table: m.tbl, merges: Number(m.n), seconds: m.s, rows: Number(m.r) })),
  }
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' })
  return (await rs.json()) as T[]
}

/** Lines for the report: per 1M events, the biggest first (tables without a database name keep theirs). */
export function formatClickHouseWork(label: string, w: ClickHouseWork, events: number): string[] {
  const per = 1e6 / events
  const out = [`${label}: ClickHouse work in the measured window, per 1M events`]
  for (const q of w.queries.slice(0, 10)) {
    out.push(`  ${q.kind.padEnd(6)} ${q.table.padEnd(40)} ${(q.cpuSeconds * per).toFixed(1).padStart(6)} CPU-s  ${Math.round(q.queries * per).toLocaleString('en-US').padStart(7)} queries  ` +
      `${Math.round(q.rows / Math.max(1, q.queries)).toLocaleString('en-US').padStart(7)} rows each`)
  }
  for (const m of w.merges.slice(0, 8)) {
    out.push(`  merge  ${m.table.padEnd(40)} ${(m.seconds * per).toFixed(1).padStart(6)} s      ${Math.round(m.merges * per).toLocaleString('en-US').padStart(7)} merges   ` +
      `${Math.round(m.rows * per).toLocaleString('en-US').padStart(9)} rows merged`)
  }
  if (w.columns.length > 0) {
    out.push(`  ${w.columns[0].table} by column (the whole table at the end): ` +
      w.columns.map((c) => `${c.column} ${(c.compressedBytes / 1e6).toFixed(1)} MB (${(c.uncompressedBytes / 1e6).toFixed(0)} MB raw)`).join(', '))
  }
  return out
}
