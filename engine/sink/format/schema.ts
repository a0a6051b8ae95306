// The ClickHouse schema (DESIGN §5), created at start-up. The server version
// is probed once (store.version) and decides the column types: 18.16 has no
// DateTime64, so times are DateTime('UTC') there and DateTime64(6, 'UTC') on
// anything from 20.1 on. Workers are told the choice (WorkerData.dateTime).
import type { DateTimeFlavor } from '../../../workers/protocol'
import { parseVersion, type ClickHouseStore } from '../transport/store'
import { createClusterSchema, existingColumns, type ClusterSchemaReport } from './cluster-schema'
import { parseColumns, parseCreateTable } from './cluster-ddl'
import { heatmapsTableStatement } from './heatmaps-schema'
import { eventPersonColumns, personStatements, personTables, type PersonTables } from './person-schema'

export interface Schema {
  readonly database: string
  readonly dateTime: DateTimeFlavor
  /** insert_deduplication_token is understood (ClickHouse ≥ 22.2; not 18.16) */
  readonly dedupTokens: boolean
  /** the server's max_partitions_per_insert_block (100 on current servers; 0: no limit, or 18.16, which has no such setting) */
  readonly maxPartitionsPerInsert: number
  /** SLUICE_CLICKHOUSE_CLUSTER mode: the cluster, its hosts, the migration that ran (engine/sink/cluster-schema.ts) */
  readonly cluster?: { readonly name: string } & ClusterSchemaReport
  readonly tables: {
    readonly events: string; readonly projects: string; readonly environments: string; readonly groupTypes: string
    /** issue 17: SDK keys and admin keys (only salted hashes of admin secrets) */
    readonly sdkKeys: string; readonly adminKeys: string
    readonly groups: string; readonly warnings: string; readonly eventDefinitions: string; readonly propertyDefinitions: string; readonly eventProperties: string
    /** issue 15: heatmap points (heatmaps-schema.ts) */
    readonly heatmaps: string
  }
  readonly persons: PersonTables
}

export function dateTimeFlavorFor(version: string): DateTimeFlavor {
  const [major] = parseVersion(version)
  return major >= 20 ? 'DateTime64' : 'DateTime'
}

export function supportsDedupTokens(version: string): boolean {
  const [major, minor] = parseVersion(version)
  return major > 22 || (major === 22 && minor >= 2)
}

/** `events`, per environment: a redelivered event has the same sorting key and collapses on merge. */
function eventsTable(database: string, flavor: DateTimeFlavor, dedupTokens: boolean): string[] {
  // without a window, non-replicated tables ignore insert_deduplication_token
  const dedup = dedupTokens ? '\nSETTINGS non_replicated_deduplication_window = 10000' : ''
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  // 18.16's cityHash64 does not take a UUID
  const uuidHash = flavor === 'DateTime64' ? 'cityHash64(uuid)' : 'cityHash64(toString(uuid))'
  const groups = [0, 1, 2, 3, 4].map((i) => `\`$group_${i}\` String`).join(',\n  ')
  return [
    `CREATE TABLE IF NOT EXISTS ${database}.events (
  uuid UUID,
  event String,
  properties String,
  timestamp ${dt},
  team_id Int64,
  project_id Int64,
  distinct_id String,
  elements_chain String,
  created_at ${dt},
  ${groups},
  _timestamp ${dt},
  _offset UInt64,
  ${eventPersonColumns(flavor)}
) ENGINE = ReplacingMergeTree(_timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), ${uuidHash})${dedup}`,
  ]
}

/** The folded control log, for SQL users and for re-seeding an empty log; `_version` is the control-log offset. */
function controlTables(database: string, flavor: DateTimeFlavor): string[] {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  return [
    `CREATE TABLE IF NOT EXISTS ${database}.projects (
  id Int64,
  name String,
  settings String,
  created_at ${dt},
  merged_into Int64,
  deleted UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY id`,
    `CREATE TABLE IF NOT EXISTS ${database}.environments (
  id Int64,
  project_id Int64,
  name String,
  api_token String,
  settings String,
  created_at ${dt},
  deleted UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY id`,
    // Per project, shared by its environments; an index never changes once assigned.
    `CREATE TABLE IF NOT EXISTS ${database}.group_type_mappings (
  project_id Int64,
  group_type String,
  group_type_index UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY (project_id, group_type)`,
    // every SDK key, revoked ones too (their tokens are never handed out again after a re-seed)
    `CREATE TABLE IF NOT EXISTS ${database}.sdk_keys (
  id Int64,
  environment_id Int64,
  name String,
  api_token String,
  created_at ${dt},
  revoked UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY id`,
    // admin keys: the secret's lookup prefix, salt and sha256 only, never the secret
    `CREATE TABLE IF NOT EXISTS ${database}.admin_keys (
  id Int64,
  name String,
  scopes String,
  lookup String,
  salt String,
  hash String,
  created_at ${dt},
  revoked UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY id`,
  ]
}

/** Per environment besides events: groups and ingestion warnings. */
function environmentTables(database: string, flavor: DateTimeFlavor): string[] {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  return [
    // Per environment: the group's full properties after each applied update. The highest
    // _version wins: the offset of the update on SLUICE_GROUPS_TOPIC, + 1 (engine/sink/writers/groups.ts).
    `CREATE TABLE IF NOT EXISTS ${database}.groups (
  team_id Int64,
  group_type_index UInt8,
  group_key String,
  group_properties String,
  created_at ${dt},
  _timestamp ${dt},
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY (team_id, group_type_index, group_key)`,
    `CREATE TABLE IF NOT EXISTS ${database}.ingestion_warnings (
  team_id Int64,
  source String,
  type String,
  details String,
  timestamp ${dt}
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, timestamp)`,
  ]
}

/** Per project, shared by its environments: event and property definitions, event→property links. */
function taxonomyTables(database: string, flavor: DateTimeFlavor): string[] {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  return [
    // Per project (shared by its environments). Rows are observations: the API
    // reads min(first_seen) and max(last_seen) per name, so instances never race.
    `CREATE TABLE IF NOT EXISTS ${database}.event_definitions (
  project_id Int64,
  name String,
  first_seen ${dt},
  last_seen ${dt}
) ENGINE = ReplacingMergeTree(last_seen)
ORDER BY (project_id, name, first_seen)`,
    // _version makes the first detected type stick: a typed row's version falls
    // with its first_seen (earliest wins), an untyped row has version 0.
    `CREATE TABLE IF NOT EXISTS ${database}.property_definitions (
  project_id Int64,
  name String,
  type UInt8,
  group_type_index Int8,
  property_type String,
  is_numerical UInt8,
  first_seen ${dt},
  _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY (project_id, type, group_type_index, name)`,
    `CREATE TABLE IF NOT EXISTS ${database}.event_properties (
  project_id Int64,
  event String,
  property String
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, event, property)`,
  ]
}

export function schemaStatements(database: string, flavor: DateTimeFlavor, dedupTokens = false): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    ...eventsTable(database, flavor, dedupTokens),
    ...controlTables(database, flavor),
    ...environmentTables(database, flavor),
    ...taxonomyTables(database, flavor),
    ...personStatements(database, flavor),
    heatmapsTableStatement(database, flavor),
  ]
}

/**
 * A single server's migration between releases: the columns a table of an
 * older release lacks (ADD COLUMN only, as on a cluster: 18.16 has no
 * `ADD COLUMN IF NOT EXISTS`, so what exists is read first). The engine and
 * its version column stay as they were created: `groups` of a release before
 * issue 19 keeps ReplacingMergeTree(_timestamp), and readers pick the newest
 * row by (_version, _timestamp).
 */
export function singleServerMigrations(statements: readonly string[], existing: ReadonlyMap<string, ReadonlySet<string>>, database: string): string[] {
  const out: string[] = []
  for (const sql of statements) {
    const t = parseCreateTable(sql)
    const have = t && existing.get(t.table)
    if (!t || !have) continue
    const add = parseColumns(t.columns).filter((c) => !have.has(c.name)).map((c) => `ADD COLUMN ${/^\w+$/.test(c.name) ? c.name : `\`${c.name}\``} ${c.type}`)
    if (add.length > 0) out.push(`ALTER TABLE ${database}.${t.table} ${add.join(', ')}`)
  }
  return out
}

/** max_partitions_per_insert_block as the server sees it for our user; 0 when it has no such setting (18.16 accepts any number). */
export async function readPartitionLimit(store: ClickHouseStore): Promise<number> {
  const rows = await store.query<{ value: string }>("SELECT value FROM system.settings WHERE name = 'max_partitions_per_insert_block'")
  const n = rows.length > 0 ? Number(rows[0].value) : 0
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

export async function createSchema(store: ClickHouseStore, database: string, cluster?: string): Promise<Schema> {
  const dateTime = dateTimeFlavorFor(store.version)
  const dedupTokens = supportsDedupTokens(store.version)
  const maxPartitionsPerInsert = await readPartitionLimit(store)
  const statements = schemaStatements(database, dateTime, dedupTokens)
  // cluster mode: the same statements rewritten ON CLUSTER (Replicated + Distributed), same table names for readers and writers
  const onCluster = cluster ? { name: cluster, ...await createClusterSchema(store, database, cluster, statements) } : undefined
  if (!onCluster) {
    await store.command(statements[0])
    // read before creating: a table created now has every column already
    const existing = await existingColumns(store, database)
    for (const sql of statements.slice(1)) await store.command(sql)
    for (const sql of singleServerMigrations(statements, existing, database)) await store.command(sql)
  }
  return {
    database,
    dateTime,
    dedupTokens,
    maxPartitionsPerInsert,
    cluster: onCluster,
    tables: { events: `${database}.events`, projects: `${database}.projects`, environments: `${database}.environments`, groupTypes: `${database}.group_type_mappings`,
      sdkKeys: `${database}.sdk_keys`, adminKeys: `${database}.admin_keys`,
      groups: `${database}.groups`,
      warnings: `${database}.ingestion_warnings`,
      eventDefinitions: `${database}.event_definitions`,
      propertyDefinitions: `${database}.property_definitions`,
      eventProperties: `${database}.event_properties`,
      heatmaps: `${database}.heatmaps`,
    },
    persons: personTables(database),
  }
}
