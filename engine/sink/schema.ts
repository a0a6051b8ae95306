// The ClickHouse schema (DESIGN §5), created at start-up. The server version
// is probed once (store.version) and decides the column types: 18.16 has no
// DateTime64, so times are DateTime('UTC') there and DateTime64(6, 'UTC') on
// anything from 20.1 on. Workers are told the choice (WorkerData.dateTime).
import type { DateTimeFlavor } from '../../workers/protocol'
import { parseVersion, type ClickHouseStore } from './store'

export interface Schema {
  readonly database: string
  readonly dateTime: DateTimeFlavor
  readonly tables: { readonly events: string; readonly projects: string; readonly environments: string; readonly groupTypes: string }
}

export function dateTimeFlavorFor(version: string): DateTimeFlavor {
  const [major] = parseVersion(version)
  return major >= 20 ? 'DateTime64' : 'DateTime'
}

export function schemaStatements(database: string, flavor: DateTimeFlavor): string[] {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  // 18.16's cityHash64 does not take a UUID
  const uuidHash = flavor === 'DateTime64' ? 'cityHash64(uuid)' : 'cityHash64(toString(uuid))'
  const groups = [0, 1, 2, 3, 4].map((i) => `\`$group_${i}\` String`).join(',\n  ')
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    // A redelivered event has the same sorting key and collapses on merge.
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
  _offset UInt64
) ENGINE = ReplacingMergeTree(_timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), ${uuidHash})`,
    // Control-plane tables: the folded control log, for SQL users and for
    // re-seeding an empty log. `_version` is the control-log offset.
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
  ]
}

export async function createSchema(store: ClickHouseStore, database: string): Promise<Schema> {
  const dateTime = dateTimeFlavorFor(store.version)
  for (const sql of schemaStatements(database, dateTime)) await store.command(sql)
  return {
    database,
    dateTime,
    tables: { events: `${database}.events`, projects: `${database}.projects`, environments: `${database}.environments`, groupTypes: `${database}.group_type_mappings` },
  }
}
