// Creates (and migrates) Sluice's schema on a ClickHouse cluster
// (SLUICE_CLICKHOUSE_CLUSTER). The statements come from cluster-ddl.ts; this
// file only reads what exists and runs them through the connected node,
// which forwards ON CLUSTER DDL to every node through ZooKeeper's DDL queue.
//
// Order: the database, then what already exists (its columns), then every
// CREATE … IF NOT EXISTS (new tables), then ADD COLUMN for the columns an
// older release did not have (a new table already has them all).
import { clusterStatements, columnChanges, migrationStatements } from './cluster-ddl'
import { quoteString } from './escape'
import type { ClickHouseStore } from '../transport/store'

export interface ClusterHost {
  shard: number
  replica: number
  host: string
  port: number
}

/** The cluster's hosts as the connected node knows them (system.clusters); empty when it does not know the name. */
export async function clusterHosts(store: ClickHouseStore, cluster: string): Promise<ClusterHost[]> {
  const rows = await store.query<{ shard_num: number; replica_num: number; host_name: string; port: number }>(
    `SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ${quoteString(cluster)} ORDER BY shard_num, replica_num`)
  return rows.map((r) => ({ shard: Number(r.shard_num), replica: Number(r.replica_num), host: r.host_name, port: Number(r.port) }))
}

/** table → its columns, for the tables of `database` that exist now */
export async function existingColumns(store: ClickHouseStore, database: string): Promise<Map<string, Set<string>>> {
  const rows = await store.query<{ table: string; name: string }>(`SELECT table, name FROM system.columns WHERE database = ${quoteString(database)}`)
  const out = new Map<string, Set<string>>()
  for (const r of rows) {
    let s = out.get(r.table)
    if (!s) out.set(r.table, (s = new Set()))
    s.add(r.name)
  }
  return out
}

/** What createClusterSchema did, for the start-up log and the migration test. */
export interface ClusterSchemaReport {
  hosts: ClusterHost[]
  /** statements of the release-to-release migration that ran (empty on a fresh or current schema) */
  migrated: string[]
}

export async function createClusterSchema(store: ClickHouseStore, database: string, cluster: string, single: readonly string[]): Promise<ClusterSchemaReport> {
  if (store.kind !== 'server') throw new Error('SLUICE_CLICKHOUSE_CLUSTER needs a ClickHouse server (SLUICE_CLICKHOUSE_URL), not embedded chDB')
  const hosts = await clusterHosts(store, cluster)
  if (hosts.length === 0) throw new Error(`SLUICE_CLICKHOUSE_CLUSTER=${cluster}: the server at SLUICE_CLICKHOUSE_URL has no such cluster in its remote_servers`)
  const statements = clusterStatements(single, cluster)
  // the database first: system.columns of a database that does not exist yet is simply empty
  await store.command(statements[0])
  const existing = await existingColumns(store, database)
  for (const sql of statements.slice(1)) await store.command(sql)
  const migrated: string[] = []
  for (const change of columnChanges(single, existing)) {
    for (const sql of migrationStatements(change, cluster, database)) {
      await store.command(sql)
      migrated.push(sql)
    }
  }
  return { hosts, migrated }
}
