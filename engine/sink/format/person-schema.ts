// The persons tables (DESIGN §4b, §5), per environment by `team_id`, and the
// person columns of `events`. ReplacingMergeTree by `version`: the newest row
// of a person or a distinct_id wins, and a replayed batch writes the same
// versions (engine/sink/writers/persons.ts), so retries collapse.
import type { ColumnType } from '../../../workers/clickhouse-types'
import type { DateTimeFlavor } from '../../../workers/protocol'

export interface PersonTables { readonly person: string; readonly distinctIds: string; readonly overrides: string }

export function personTables(database: string): PersonTables {
  return { person: `${database}.person`, distinctIds: `${database}.person_distinct_id2`, overrides: `${database}.person_distinct_id_overrides` }
}

/** The person columns of `events` (also in its CREATE, schema.ts), for a table created before them. */
export function eventPersonColumns(flavor: DateTimeFlavor): string {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  return `person_id UUID,\n  person_properties String,\n  person_created_at ${dt}`
}

/**
 * Rows per index mark of the persons tables. They are read by key, a batch's
 * missing distinct_ids (or persons) at a time, scattered over the key space:
 * a lookup reads at most one granule per key, so the default 8,192 made each
 * batch's lookup read the whole table once it had a few hundred thousand
 * rows (bench: 2.5 M rows read by 107 lookups of a 50,000-person run).
 */
export const LOOKUP_GRANULARITY = 256

export function personStatements(database: string, flavor: DateTimeFlavor): string[] {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  const t = personTables(database)
  const mapping = (table: string, what: string) => `CREATE TABLE IF NOT EXISTS ${table} (
  team_id Int64,
  distinct_id String,
  person_id UUID,
  is_deleted UInt8,
  version UInt64,
  _timestamp ${dt}
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, distinct_id)
SETTINGS index_granularity = ${LOOKUP_GRANULARITY}
-- ${what}`
  return [
    `CREATE TABLE IF NOT EXISTS ${t.person} (
  id UUID,
  team_id Int64,
  properties String,
  is_identified UInt8,
  created_at ${dt},
  version UInt64,
  is_deleted UInt8,
  _timestamp ${dt}
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, id)
SETTINGS index_granularity = ${LOOKUP_GRANULARITY}`,
    mapping(t.distinctIds, 'the person of each distinct_id'),
    mapping(t.overrides, 'distinct_ids whose person is not their deterministic one: resolved person = override if present, else events.person_id'),
  ]
}

/** RowBinary columns of `person` rows (engine/sink/writers/persons.ts writes them in this order). */
export const personColumns = (flavor: DateTimeFlavor): readonly (readonly [string, ColumnType])[] => [
  ['id', 'UUID'], ['team_id', 'Int64'], ['properties', 'String'], ['is_identified', 'UInt8'], ['created_at', flavor],
  ['version', 'UInt64'], ['is_deleted', 'UInt8'], ['_timestamp', flavor],
]

/** RowBinary columns of `person_distinct_id2` and `person_distinct_id_overrides` rows. */
export const mappingColumns = (flavor: DateTimeFlavor): readonly (readonly [string, ColumnType])[] => [
  ['team_id', 'Int64'], ['distinct_id', 'String'], ['person_id', 'UUID'], ['is_deleted', 'UInt8'], ['version', 'UInt64'], ['_timestamp', flavor],
]
