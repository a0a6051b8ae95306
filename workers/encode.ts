// Encodes processed events as rows of the `events` table (DESIGN §5), in
// RowBinary or JSONEachRow (protocol.ts RowEncoding), and a task's answer as
// one transferable buffer (encodeTaskOutput).
//
// Rows go straight into one RowWriter (no intermediate row object).
import { pack, unpack } from 'msgpackr'
import type { WorkingEvent } from './event'
import type { DateTimeFlavor, RowEncoding, TaskHeader, TaskOutput } from './protocol'
import { RowWriter } from './row-writer'
import { wellFormedJson } from './well-formed'

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
export type ColumnType = 'UUID' | 'String' | 'Int64' | 'UInt64' | 'DateTime' | 'DateTime64'

/**
 * The `events` columns of an insert, in row order (engine/sink/schema.ts
 * creates them; `elements_chain` is left to its default). RowBinary rows
 * carry no names, so the insert names these columns and the batcher splits
 * rows by these types.
 */
export function eventColumns(flavor: DateTimeFlavor, persons = false): readonly (readonly [string, ColumnType])[] {
  const columns: (readonly [string, ColumnType])[] = [
    ['uuid', 'UUID'], ['event', 'String'], ['properties', 'String'], ['timestamp', flavor], ['team_id', 'Int64'], ['project_id', 'Int64'],
    ['distinct_id', 'String'], ['created_at', flavor],
    ['$group_0', 'String'], ['$group_1', 'String'], ['$group_2', 'String'], ['$group_3', 'String'], ['$group_4', 'String'],
    ['_timestamp', flavor], ['_offset', 'UInt64'],
  ]
  // appended to each row by the main thread (engine/sink/person-columns.ts), which owns the persons' state
  if (persons) columns.push(...PERSON_COLUMNS(flavor))
  return columns
}

export const PERSON_COLUMNS = (flavor: DateTimeFlavor): readonly (readonly [string, ColumnType])[] =>
  [['person_id', 'UUID'], ['person_properties', 'String'], ['person_created_at', flavor]]

/** RowBinary time: DateTime is UInt32 seconds, DateTime64(6) Int64 microseconds. */
function binaryTime(w: RowWriter, ms: number, flavor: DateTimeFlavor): void {
  if (flavor === 'DateTime64') w.int64(Math.round(ms) * 1000)
  else w.uint32(Math.floor(ms / 1000))
}

/**
 * One `events` row. `properties` is the event's own JSON text when no step
 * changed it (parse.ts keeps it; add-ip.ts prepends `$ip`), so the common
 * event serializes no object; RowBinary then writes it as it is, JSONEachRow
 * quotes it once.
 */
export function encodeEventRow(
  w: RowWriter,
  e: WorkingEvent,
  enc: RowEncoding,
  createdAtMs: number,
  kafkaTimestampMs: number,
  kafkaOffset: number,
): void {
  const text = e.propertiesText
  const distinctId = e.distinctId as string // validate-distinct-id leaves a string
  const flavor = enc.dateTime
  if (enc.format === 'RowBinary') {
    w.uuid(e.uuid)
    w.string(e.eventName)
    if (text === undefined) w.string(JSON.stringify(e.properties))
    else w.strings(e.propertiesHead, text)
    binaryTime(w, e.timestampMs, flavor)
    w.int64(e.teamId)
    w.int64(e.projectId)
    w.string(distinctId)
    binaryTime(w, createdAtMs, flavor)
    const g = e.groups
    if (g === undefined) w.emptyStrings(5)
    else for (let i = 0; i < 5; i++) w.string(g[i] ?? '')
    binaryTime(w, kafkaTimestampMs, flavor)
    w.int64(kafkaOffset)
    return
  }
  // one pass of the well-formed encoder per line: ClickHouse ≥ 2x rejects a lone surrogate escape (workers/well-formed.ts)
  w.utf8(wellFormedJson('{"uuid":"' + e.uuid +
    '","event":' + JSON.stringify(e.eventName) +
    ',"properties":' + JSON.stringify(text === undefined ? JSON.stringify(e.properties) : e.propertiesHead + text) +
    ',"timestamp":"' + formatDateTime(e.timestampMs, flavor) +
    '","team_id":' + e.teamId +
    ',"project_id":' + e.projectId +
    ',"distinct_id":' + JSON.stringify(distinctId) +
    (e.groups === undefined ? '' : encodeGroups(e.groups)) +
    ',"created_at":"' + formatDateTime(createdAtMs, flavor) +
    '","_timestamp":"' + formatDateTime(kafkaTimestampMs, flavor) +
    '","_offset":' + kafkaOffset + '}\n'))
}

function encodeGroups(groups: (string | undefined)[]): string {
  let s = ''
  for (let i = 0; i < groups.length; i++) if (groups[i] !== undefined) s += ',"$group_' + i + '":' + JSON.stringify(groups[i])
  return s
}

/**
 * The task's answer as one exact-size ArrayBuffer, so Piscina transfers it
 * (only a top-level movable is transferred) and the main thread, which keeps
 * the rows until ClickHouse acknowledged them, holds no spare capacity. The
 * last 8 bytes give both lengths.
 *
 *   [events rows][msgpack TaskHeader][u32 rows length][u32 header length]
 */
export function encodeTaskOutput(header: TaskHeader, rows: RowWriter): ArrayBuffer {
  const rowsLength = rows.pos
  const head = pack(header)
  const out = Buffer.allocUnsafeSlow(rowsLength + head.length + 8)
  rows.buf.copy(out, 0, 0, rowsLength)
  head.copy(out, rowsLength)
  out.writeUInt32LE(rowsLength, out.length - 8)
  out.writeUInt32LE(head.length, out.length - 4)
  return out.buffer as ArrayBuffer
}

export function decodeTaskOutput(buf: ArrayBuffer): TaskOutput {
  const bytes = new Uint8Array(buf)
  const tail = Buffer.from(buf, buf.byteLength - 8, 8)
  const rowsLength = tail.readUInt32LE(0)
  const header = unpack(bytes.subarray(rowsLength, rowsLength + tail.readUInt32LE(4))) as TaskHeader
  return { header, events: bytes.subarray(0, rowsLength) }
}
