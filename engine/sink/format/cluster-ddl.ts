// Cluster mode's DDL (SLUICE_CLICKHOUSE_CLUSTER, DESIGN §5), derived from the
// single-server statements of schema.ts so that a column is declared once.
// Pure: statements in, statements out; engine/sink/cluster-schema.ts runs them.
//
//   per-event table t (events, groups, heatmaps…)      small table s (control plane, definitions, warnings, persons)
//   ┌────────────────────────────────────────┐        ┌───────────────────────────────────────┐
//   │ db.t        Distributed(c, db, t_local, │        │ db.s  Replicated…MergeTree            │
//   │             cityHash64(<shard key>))    │        │       /clickhouse/tables/c/all/db.s   │
//   │ db.t_local  Replicated…MergeTree        │        │       one copy on every node: reads   │
//   │   /clickhouse/tables/c/{shard}/db.t_local│       │       never fan out                    │
//   └────────────────────────────────────────┘        └───────────────────────────────────────┘
//
// Readers and writers keep using `db.t`: the Distributed table for per-event
// tables (inserts are split by the sharding key, reads gather every shard),
// the local replica for small tables. Replica names come from {replica},
// which must be unique across the cluster (one copy of a small table per node).
// ReplacingMergeTree's version column is kept; 18.16 takes the ZooKeeper path
// and the replica name first: ReplicatedReplacingMergeTree(path, replica, ver).

/** How a table is laid out on a cluster. Every table of schema.ts has an entry: a new one must choose. */
export type Placement = { kind: 'sharded'; key: string } | { kind: 'everywhere' }

export const PLACEMENT: Readonly<Record<string, Placement>> = {
  // one user's rows on one shard: a funnel or a person's timeline never joins across shards
  events: { kind: 'sharded', key: 'cityHash64(distinct_id)' },
  // every version of a group on one shard, so FINAL collapses them there
  groups: { kind: 'sharded', key: 'cityHash64(group_key)' },
  heatmaps: { kind: 'sharded', key: 'cityHash64(distinct_id)' },
  projects: { kind: 'everywhere' },
  environments: { kind: 'everywhere' },
  group_type_mappings: { kind: 'everywhere' },
  sdk_keys: { kind: 'everywhere' },
  admin_keys: { kind: 'everywhere' },
  ingestion_warnings: { kind: 'everywhere' },
  event_definitions: { kind: 'everywhere' },
  property_definitions: { kind: 'everywhere' },
  event_properties: { kind: 'everywhere' },
  person: { kind: 'everywhere' },
  person_distinct_id2: { kind: 'everywhere' },
  person_distinct_id_overrides: { kind: 'everywhere' },
}

export const LOCAL_SUFFIX = '_local'

export interface ParsedTable {
  database: string
  table: string
  /** the column list between the parentheses, as written */
  columns: string
  /** MergeTree, ReplacingMergeTree, … */
  engine: string
  /** the engine's arguments (a version column), '' when none */
  engineArgs: string
  /** PARTITION BY / ORDER BY / SETTINGS, as written */
  tail: string
}

const CREATE_TABLE = /^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) \(([\s\S]*)\) ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?([\s\S]*)$/
const CREATE_DATABASE = /^CREATE DATABASE IF NOT EXISTS (\w+)$/

export function parseCreateTable(sql: string): ParsedTable | undefined {
  const m = CREATE_TABLE.exec(sql)
  if (!m) return undefined
  return { database: m[1], table: m[2], columns: m[3], engine: m[4], engineArgs: (m[5] ?? '').trim(), tail: m[6] }
}

/** `name Type` pairs of a column list (types may hold parentheses and commas: DateTime64(6, 'UTC')). */
export function parseColumns(columns: string): { name: string; type: string }[] {
  const out: { name: string; type: string }[] = []
  let depth = 0
  let current = ''
  const push = () => {
    const m = /^\s*(`[^`]+`|\w+)\s+([\s\S]+?)\s*$/.exec(current)
    if (m) out.push({ name: m[1].replace(/`/g, ''), type: m[2] })
    current = ''
  }
  for (const ch of columns) {
    if (ch === '(') depth++
    else if (ch === ')') depth--
    if (ch === ',' && depth === 0) push()
    else current += ch
  }
  push()
  return out
}

export function placementOf(table: string): Placement {
  const p = PLACEMENT[table]
  if (!p) throw new Error(`table ${table} has no cluster placement: add it to PLACEMENT in engine/sink/cluster-ddl.ts (sharded per-event table, or everywhere)`)
  return p
}

export function zooKeeperPath(cluster: string, database: string, table: string, placement: Placement): string {
  return placement.kind === 'sharded'
    ? `/clickhouse/tables/${cluster}/{shard}/${database}.${table}${LOCAL_SUFFIX}`
    : `/clickhouse/tables/${cluster}/all/${database}.${table}`
}

function replicatedEngine(t: ParsedTable, zkPath: string): string {
  const args = [`'${zkPath}'`, "'{replica}'"]
  if (t.engineArgs) args.push(t.engineArgs)
  return `Replicated${t.engine}(${args.join(', ')})`
}

/** non_replicated_deduplication_window is for plain MergeTree; Replicated tables deduplicate by replicated_deduplication_window */
const stripNonReplicatedSettings = (tail: string) => tail.replace(/\s*SETTINGS non_replicated_deduplication_window = \d+/, '')

export function distributedStatement(cluster: string, database: string, table: string, key: string): string {
  return `CREATE TABLE IF NOT EXISTS ${database}.${table} ON CLUSTER ${cluster} AS ${database}.${table}${LOCAL_SUFFIX}
ENGINE = Distributed(${cluster}, ${database}, ${table}${LOCAL_SUFFIX}, ${key})`
}

/** The single-server statements of schemaStatements(), rewritten for a cluster. */
export function clusterStatements(single: readonly string[], cluster: string): string[] {
  const out: string[] = []
  for (const sql of single) {
    const db = CREATE_DATABASE.exec(sql)
    if (db) { out.push(`CREATE DATABASE IF NOT EXISTS ${db[1]} ON CLUSTER ${cluster}`); continue }
    const t = parseCreateTable(sql)
    if (!t) throw new Error(`cluster mode cannot rewrite this statement: ${sql.slice(0, 80)}`)
    const placement = placementOf(t.table)
    const engine = replicatedEngine(t, zooKeeperPath(cluster, t.database, t.table, placement))
    const tail = stripNonReplicatedSettings(t.tail)
    if (placement.kind === 'sharded') {
      out.push(`CREATE TABLE IF NOT EXISTS ${t.database}.${t.table}${LOCAL_SUFFIX} ON CLUSTER ${cluster} (${t.columns}) ENGINE = ${engine}${tail}`)
      out.push(distributedStatement(cluster, t.database, t.table, placement.key))
    } else {
      out.push(`CREATE TABLE IF NOT EXISTS ${t.database}.${t.table} ON CLUSTER ${cluster} (${t.columns}) ENGINE = ${engine}${tail}`)
    }
  }
  return out
}

export interface ColumnChange {
  /** the table that stores the rows: t_local for sharded tables, t for the others */
  table: string
  placement: Placement
  /** the logical table (what readers and writers name) */
  logical: string
  add: { name: string; type: string; after: string | undefined }[]
  /** a sharded table's Distributed table lacks columns of its local table (also after an interrupted migration) */
  recreateDistributed: boolean
}

/**
 * Schema migration between releases (ADD COLUMN only: 18.16 has no
 * `ADD COLUMN IF NOT EXISTS`, so what exists is read first). `existing` maps a
 * storing table to the columns it has now; tables absent from it are new and
 * were created by clusterStatements.
 */
export function columnChanges(single: readonly string[], existing: ReadonlyMap<string, ReadonlySet<string>>): ColumnChange[] {
  const changes: ColumnChange[] = []
  for (const sql of single) {
    const t = parseCreateTable(sql)
    if (!t) continue
    const placement = placementOf(t.table)
    const table = placement.kind === 'sharded' ? t.table + LOCAL_SUFFIX : t.table
    const have = existing.get(table)
    if (!have) continue
    const add: ColumnChange['add'] = []
    let previous: string | undefined
    const columns = parseColumns(t.columns)
    for (const c of columns) {
      if (!have.has(c.name)) add.push({ name: c.name, type: c.type, after: previous })
      previous = c.name
    }
    const distributed = placement.kind === 'sharded' ? existing.get(t.table) : undefined
    const recreateDistributed = distributed !== undefined && columns.some((c) => !distributed.has(c.name))
    if (add.length > 0 || recreateDistributed) changes.push({ table, placement, logical: t.table, add, recreateDistributed })
  }
  return changes
}

const quoteName = (name: string) => (/^\w+$/.test(name) ? name : `\`${name}\``)

/**
 * The statements of one change. Sharded local tables are altered ON CLUSTER
 * (the DDL queue runs it on one replica per shard; replication carries it to
 * the others). A table replicated to every node has one ZooKeeper path: it is
 * altered once, here, and replication carries it everywhere (ON CLUSTER would
 * run it once per shard on the same replicated table). A Distributed table
 * holds no rows (inserts are synchronous) and 18.16 refuses ALTER … ON CLUSTER
 * on it ("isn't replicated"): it is dropped and created again from its local table.
 */
export function migrationStatements(change: ColumnChange, cluster: string, database: string): string[] {
  const adds = change.add.map((c) => `ADD COLUMN ${quoteName(c.name)} ${c.type}${c.after ? ` AFTER ${quoteName(c.after)}` : ''}`).join(', ')
  if (change.placement.kind === 'everywhere') return adds ? [`ALTER TABLE ${database}.${change.table} ${adds}`] : []
  const out = adds ? [`ALTER TABLE ${database}.${change.table} ON CLUSTER ${cluster} ${adds}`] : []
  out.push(`DROP TABLE IF EXISTS ${database}.${change.logical} ON CLUSTER ${cluster}`, distributedStatement(cluster, database, change.logical, change.placement.key))
  return out
}
