// Encodes processed events as JSONEachRow rows of the `events` table
// (DESIGN §5), and a task's answer as one transferable buffer:
//
//   [u32 header length][header: msgpack TaskHeader][events rows: UTF-8 JSONEachRow]
//
// Rows are built by concatenation (no intermediate row object); `properties`
// is a JSON string inside the JSON row, hence the double stringify.
import { pack, unpack } from 'msgpackr'
import type { WorkingEvent } from './event'
import type { DateTimeFlavor, TaskHeader, TaskOutput } from './protocol'

// The last two times formatted, per flavor: an event's timestamp and its
// Kafka timestamp mostly fall in the same second (DateTime) or millisecond as
// the previous message's, so a Date and an ISO string per call are rarely needed.
const recent: Record<DateTimeFlavor, { key: number[]; text: string[] }> = {
  DateTime: { key: [NaN, NaN], text: ['', ''] },
  DateTime64: { key: [NaN, NaN], text: ['', ''] },
}

/** ClickHouse text form of a time: 18.16's DateTime has seconds; DateTime64(6) takes microseconds. */
export function formatDateTime(ms: number, flavor: DateTimeFlavor): string {
  const key = flavor === 'DateTime64' ? ms : Math.floor(ms / 1000)
  const c = recent[flavor]
  if (key === c.key[0]) return c.text[0]
  if (key === c.key[1]) return c.text[1]
  const iso = new Date(ms).toISOString() // 2026-11-21T13:41:49.123Z
  const text = flavor === 'DateTime64'
    ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`
    : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  c.key[1] = c.key[0]
  c.text[1] = c.text[0]
  c.key[0] = key
  c.text[0] = text
  return text
}

export function encodeEventRow(
  e: WorkingEvent,
  createdAt: string,
  kafkaTimestamp: string,
  kafkaOffset: number,
  flavor: DateTimeFlavor,
): string {
  return '{"uuid":"' + e.uuid +
    '","event":' + JSON.stringify(e.eventName) +
    ',"properties":' + JSON.stringify(JSON.stringify(e.properties)) +
    ',"timestamp":"' + formatDateTime(e.timestampMs, flavor) +
    '","team_id":' + e.teamId +
    ',"project_id":' + e.projectId +
    ',"distinct_id":' + JSON.stringify(e.distinctId) +
    (e.groups === undefined ? '' : encodeGroups(e.groups)) +
    ',"created_at":"' + createdAt +
    '","_timestamp":"' + kafkaTimestamp +
    '","_offset":' + kafkaOffset + '}\n'
}

function encodeGroups(groups: (string | undefined)[]): string {
  let s = ''
  for (let i = 0; i < groups.length; i++) if (groups[i] !== undefined) s += ',"$group_' + i + '":' + JSON.stringify(groups[i])
  return s
}

/** One ArrayBuffer for the whole answer, so Piscina can transfer it (only a top-level movable is transferred). */
export function encodeTaskOutput(header: TaskHeader, eventRows: string): ArrayBuffer {
  const head = pack(header)
  const rowsBytes = Buffer.byteLength(eventRows, 'utf8')
  const out = Buffer.from(new ArrayBuffer(4 + head.length + rowsBytes))
  out.writeUInt32LE(head.length, 0)
  head.copy(out, 4)
  out.write(eventRows, 4 + head.length, 'utf8')
  return out.buffer as ArrayBuffer
}

export function decodeTaskOutput(buf: ArrayBuffer): TaskOutput {
  const bytes = new Uint8Array(buf)
  const headLength = Buffer.from(buf, 0, 4).readUInt32LE(0)
  const header = unpack(bytes.subarray(4, 4 + headLength)) as TaskHeader
  return { header, events: bytes.subarray(4 + headLength) }
}
