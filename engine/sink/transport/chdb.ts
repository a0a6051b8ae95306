// Embedded ClickHouse (chDB) in SLUICE_DATA_DIR: the default when no server
// URL is configured. chdb is an optional dependency (~550 MB), so it is loaded
// only here, with a clear error when a slim image left it out.
import fs from 'node:fs'
import type { ClickHouseStore } from './store'

/**
 * The part of chdb's API used here (and by bench/reference-pipeline.ts),
 * declared rather than imported: the Docker image's build leaves the
 * optional package out, and `typeof import('chdb')` would not compile there
 * (test/integration/dockerfile.test.ts).
 */
export interface ChdbModule {
  Session: new (dir: string) => {
    queryAsync(sql: string, opts?: { format?: string }): Promise<{ text(): string }>
    insert(params: { table: string; values: Uint8Array | string; format: string; settings?: Record<string, string> }): Promise<unknown>
    close(): void
  }
}

function loadChdb(): ChdbModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('chdb') as ChdbModule
  } catch (err) {
    throw new Error(`embedded ClickHouse needs the optional package chdb (${(err as Error).message}); install it or set SLUICE_CLICKHOUSE_URL`)
  }
}

export async function openChdb(dataDir: string): Promise<ClickHouseStore> {
  const chdb = loadChdb()
  fs.mkdirSync(dataDir, { recursive: true })
  const session = new chdb.Session(dataDir)
  const query = async <T>(sql: string): Promise<T[]> => {
    const res = await session.queryAsync(sql, { format: 'JSONEachRow' })
    const text = res.text()
    const rows: T[] = []
    for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as T)
    return rows
  }
  const [{ version }] = await query<{ version: string }>('SELECT version() AS version')
  return {
    kind: 'chdb',
    version,
    async command(sql) {
      await session.queryAsync(sql)
    },
    query,
    async insert(table, chunks, dedupToken, format) {
      // the engine asks workers for JSONEachRow when the store is chDB
      if (format && format.kind !== 'JSONEachRow') throw new Error(`chDB inserts take text formats, not ${format.kind}`)
      const values = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      await session.insert({ table, values, format: 'JSONEachRow', settings: dedupToken ? { insert_deduplication_token: dedupToken } : undefined })
    },
    async close() {
      session.close()
    },
  }
}
