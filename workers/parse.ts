// The only code that sees `unknown`: turns one Kafka message value (DESIGN §4:
// outer JSON with `data`, a JSON string of the raw event) into a WorkingEvent.
// One JSON.parse for the outer value and one for `data`; outer fields win.
// The text of `properties` is kept for encoding (properties-text.ts).
import type { WorkingEvent } from './event'
import { findPropertiesText } from './properties-text'
import { deadLetter, type DeadLetter } from './result'
import { wellFormedJson, wellFormedJsonText } from './well-formed'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type Obj = Record<string, unknown>

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

// NUL characters are kept in property values, as PostHog keeps them (issue
// 15 rule 10): the kept text still says `\u0000` and ClickHouse's String
// holds the byte. They are replaced by U+FFFD only where PostHog replaces
// them: the distinct_id (validate-distinct-id.ts, PostHog's
// nodejs/src/utils/event.ts normalizeEvent) and event names in the taxonomy
// (extract-definitions.ts, property-defs-rs's sanitize_string). A client's
// literal six-character text `\u0000` is never touched.

export function parseCapturedMessage(raw: string): WorkingEvent | DeadLetter {
  // lone surrogates (`"\ud800x"`) become U+FFFD here, at the boundary, so every step and format sees well-formed text
  const { text, nested } = wellFormedJsonText(raw)
  let outer: unknown
  try {
    outer = JSON.parse(text)
  } catch (err) {
    return deadLetter('invalid_json', `message is not JSON: ${(err as Error).message}`)
  }
  if (!isObject(outer)) return deadLetter('invalid_json', 'message is not a JSON object')
  const rawData = outer.data
  if (typeof rawData !== 'string') return deadLetter('invalid_data', '`data` must be a JSON string of the event')
  let data: unknown
  // the common message spells no escape that could make a lone surrogate in `data` (well-formed.ts wellFormedJsonText)
  const dataText = nested ? wellFormedJson(rawData) : rawData
  try {
    data = JSON.parse(dataText)
  } catch (err) {
    return deadLetter('invalid_data', `\`data\` is not JSON: ${(err as Error).message}`)
  }
  if (!isObject(data)) return deadLetter('invalid_data', '`data` is not a JSON object')

  const uuid = outer.uuid ?? data.uuid
  if (uuid === undefined || uuid === null || uuid === '') return deadLetter('invalid_uuid', 'the event has no uuid')
  if (typeof uuid !== 'string' || !UUID.test(uuid)) return deadLetter('invalid_uuid', `uuid ${JSON.stringify(uuid).slice(0, 80)} is not a UUID`)

  const hasProperties = isObject(data.properties)
  const properties: Obj = hasProperties ? data.properties as Obj : {}
  let propertiesText = hasProperties ? findPropertiesText(dataText) : '{}'
  // PostHog's normalization: top-level $set/$set_once move into properties (top-level keys win)
  for (const k of ['$set', '$set_once'] as const) {
    const top = data[k]
    if (isObject(top)) {
      properties[k] = isObject(properties[k]) ? { ...(properties[k] as Obj), ...top } : top
      propertiesText = undefined
    }
  }
  return {
    uuid: uuid.toLowerCase(),
    token: optionalString(outer.token) ?? optionalString(data.token) ?? optionalString(data.api_key) ?? optionalString(properties.token),
    distinctId: outer.distinct_id ?? data.distinct_id ?? properties.distinct_id,
    rawEvent: data.event,
    eventName: '',
    properties,
    propertiesText,
    propertiesHead: '',
    ip: optionalString(outer.ip),
    now: outer.now,
    sentAt: outer.sent_at ?? data.sent_at,
    timestamp: data.timestamp,
    offset: data.offset,
    env: undefined,
    groups: undefined,
    groupIdentifyIndex: -1,
    teamId: 0,
    projectId: 0,
    timestampMs: 0,
    capturedMs: 0,
    elementsChain: '',
  }
}
