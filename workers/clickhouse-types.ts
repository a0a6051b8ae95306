// ClickHouse types and time text, used by both threads: the workers write
// `events` rows with them, the main thread the other tables and the inserts'
// column lists (engine/ imports this module, never workers/encode.ts).
import type { DateTimeFlavor } from './protocol'

// The last few times formatted, per flavor: a row's timestamp, its Kafka
// timestamp and the task's created_at mostly fall in the same second
// (DateTime) or millisecond as the previous row's, so a Date and an ISO
// string per call are rarely needed (JSONEachRow only: RowBinary writes numbers).
const SLOTS = 4
const recent: Record<DateTimeFlavor, { key: number[]; text: string[]; next: number }> = {
  DateTime: { key: new Array<number>(SLOTS).fill(NaN), text: new Array<string>(SLOTS).fill(''), next: 0 },
  DateTime64: { key: new Array<number>(SLOTS).fill(NaN), text: new Array<string>(SLOTS).fill(''), next: 0 },
}

/** ClickHouse text form of a time: 18.16's DateTime has seconds; DateTime64(6) takes microseconds. */
export function formatDateTime(ms: number, flavor: DateTimeFlavor): string {
  const key = flavor === 'DateTime64' ? ms : Math.floor(ms / 1000)
  const c = recent[flavor]
  for (let i = 0; i < SLOTS; i++) if (c.key[i] === key) return c.text[i]
  const iso = new Date(ms).toISOString() // 2026-11-21T13:41:49.123Z
  const text = flavor === 'DateTime64'
    ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`
    : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  c.key[c.next] = key
  c.text[c.next] = text
  c.next = (c.next + 1) % SLOTS
  return text
}

/** YYYYMM of a time in UTC: the partition of `events` and `ingestion_warnings` (toYYYYMM of a DateTime('UTC')). */
export function monthOf(ms: number): number {
  const d = new Date(ms)
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1
}

/** ClickHouse types of the `events` columns Sluice writes, as RowBinary lays them out. */
export type ColumnType = 'UUID' | 'String' | 'Int64' | 'UInt64' | 'UInt8' | 'DateTime' | 'DateTime64'

/**
 * The `events` columns of an insert, in row order (engine/sink/format/schema.ts
 * creates them). RowBinary rows
 * carry no names, so the insert names these columns and the batcher splits
 * rows by these types.
 */
export function eventColumns(flavor: DateTimeFlavor, persons = false): readonly (readonly [string, ColumnType])[] {
  const columns: (readonly [string, ColumnType])[] = [
    ['uuid', 'UUID'], ['event', 'String'], ['properties', 'String'], ['timestamp', flavor], ['team_id', 'Int64'], ['project_id', 'Int64'],
    ['distinct_id', 'String'], ['created_at', flavor],
    ['$group_0', 'String'], ['$group_1', 'String'], ['$group_2', 'String'], ['$group_3', 'String'], ['$group_4', 'String'],
    ['elements_chain', 'String'],
    ['_timestamp', flavor], ['_offset', 'UInt64'],
  ]
  // appended to each row by the main thread (engine/sink/writers/persons.ts), which owns the persons' state
  if (persons) columns.push(...PERSON_COLUMNS(flavor))
  return columns
}

export const PERSON_COLUMNS = (flavor: DateTimeFlavor): readonly (readonly [string, ColumnType])[] =>
  [['person_id', 'UUID'], ['person_properties', 'String'], ['person_created_at', flavor]]
