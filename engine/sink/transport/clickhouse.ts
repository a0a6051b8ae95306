// ClickHouse server over HTTP through @clickhouse/client. Inserts go through
// `exec` with a body stream so that the rows the workers encoded (RowBinary
// for `events`) are sent as they are (the client would otherwise re-encode objects). Works with
// Debian's 18.16 (POST for DDL and inserts; no query parameters needed).
import { Readable } from 'node:stream'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import { insertStatement, JSON_EACH_ROW } from '../format/row-format'
import type { ClickHouseStore } from './store'

export interface ServerOptions {
  url: string
  user?: string
  password?: string
  requestTimeoutMs?: number
  /** settings sent with every query (cluster mode: insert_distributed_sync, engine/sink/cluster-health.ts CLUSTER_SETTINGS) */
  settings?: Record<string, string | number>
}

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const _ of stream as AsyncIterable<unknown>) { /* discard */ }
}

export async function connectClickHouseServer(opts: ServerOptions): Promise<ClickHouseStore> {
  const url = new URL(opts.url)
  const username = opts.user ?? (decodeURIComponent(url.username) || 'default')
  const password = opts.password ?? decodeURIComponent(url.password)
  url.username = ''
  url.password = ''
  const client: ClickHouseClient = createClient({
    url: url.toString().replace(/\/$/, ''),
    username,
    password,
    request_timeout: opts.requestTimeoutMs ?? 60_000,
    compression: { request: false, response: false },
    // errors reach our logger through the rejected promises
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: opts.settings,
  })
  const query = async <T>(sql: string): Promise<T[]> => {
    const rs = await client.query({ query: sql, format: 'JSONEachRow' })
    return (await rs.json()) as T[]
  }
  const [{ version }] = await query<{ version: string }>('SELECT version() AS version')
  return {
    kind: 'server',
    version,
    async command(sql) {
      await client.command({ query: sql })
    },
    query,
    async insert(table, chunks, dedupToken, format = JSON_EACH_ROW) {
      const res = await client.exec({
        query: insertStatement(table, format),
        values: Readable.from(chunks),
        clickhouse_settings: dedupToken ? { insert_deduplication_token: dedupToken } : undefined,
      })
      await drain(res.stream)
    },
    async close() {
      await client.close()
    },
  }
}
