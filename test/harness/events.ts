// PostHog capture messages as they sit on the input topic (DESIGN §4): outer
// fields plus `data`, the raw event as a JSON string.
import { randomUUID } from 'node:crypto'

export interface EventSpec {
  token?: string
  distinct_id?: string
  event?: string
  properties?: Record<string, unknown>
  uuid?: string
  timestamp?: string
  sent_at?: string
  now?: string
  ip?: string
}

export function capturedMessage(spec: EventSpec): string {
  const uuid = spec.uuid ?? randomUUID()
  const now = spec.now ?? new Date().toISOString()
  const data: Record<string, unknown> = {
    event: spec.event ?? '$pageview',
    distinct_id: spec.distinct_id ?? 'user-1',
    properties: spec.properties ?? { $current_url: 'https://example.com/' },
    uuid,
  }
  if (spec.timestamp) data.timestamp = spec.timestamp
  const outer: Record<string, unknown> = {
    uuid,
    distinct_id: data.distinct_id,
    ip: spec.ip ?? '127.0.0.1',
    site_url: 'https://example.com',
    now,
    sent_at: spec.sent_at ?? '',
    data: JSON.stringify(data),
  }
  if (spec.token !== undefined) outer.token = spec.token
  return JSON.stringify(outer)
}

/** The message V8's JSON.parse gives for `text` (what a dead letter for it says); throws if `text` is JSON. */
export function jsonError(text: string): string {
  try {
    JSON.parse(text)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error(`${text} is JSON`)
}
