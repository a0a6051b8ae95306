// Encodes processed events as rows of the `events` table (DESIGN §5), in
// RowBinary or JSONEachRow (protocol.ts RowEncoding). Column types and time
// formatting, shared with the main thread, are in clickhouse-types.ts.
//
// Rows go straight into one RowWriter (no intermediate row object).
import type { WorkingEvent } from './event'
import { formatDateTime } from './clickhouse-types'
import type { DateTimeFlavor, RowEncoding } from './protocol'
import type { RowWriter } from './row-writer'
import { wellFormedJson } from './well-formed'

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
    w.string(e.elementsChain)
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
    (e.elementsChain === '' ? '' : ',"elements_chain":' + JSON.stringify(e.elementsChain)) +
    ',"created_at":"' + formatDateTime(createdAtMs, flavor) +
    '","_timestamp":"' + formatDateTime(kafkaTimestampMs, flavor) +
    '","_offset":' + kafkaOffset + '}\n'))
}

function encodeGroups(groups: (string | undefined)[]): string {
  let s = ''
  for (let i = 0; i < groups.length; i++) if (groups[i] !== undefined) s += ',"$group_' + i + '":' + JSON.stringify(groups[i])
  return s
}
