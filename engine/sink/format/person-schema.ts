// The persons tables (DESIGN §4b, §5), per environment by `team_id`, and the
// person columns of `events`. ReplacingMergeTree by `version`: the newest row
// of a person or a distinct_id wins, and a replayed batch writes the same
// versions (engine/sink/writers/persons.ts), so retries collapse.
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
ORDER BY (team_id, id)`,
    mapping(t.distinctIds, 'the person of each distinct_id'),
    mapping(t.overrides, 'distinct_ids whose person is not their deterministic one: resolved person = override if present, else events.person_id'),
  ]
}
