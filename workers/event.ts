// The working record of one message as it moves through the steps. Steps
// update it in place; only parse.ts builds it from unknown JSON.
import type { ResolvedEnvironment } from './environment'

export interface WorkingEvent {
  uuid: string
  /** outer token, else data.token / data.api_key / properties.token */
  token: string | undefined
  distinctId: unknown
  /** raw `event` field; normalize-event-name turns it into `eventName` */
  rawEvent: unknown
  eventName: string
  properties: Record<string, unknown>
  /**
   * `properties` as JSON text, propertiesHead + propertiesText, while it
   * still says exactly what `properties` holds: the event's own text, with
   * `$ip` prepended (add-ip.ts sets the head) or members left out
   * (add-ip.ts, redact-properties.ts: properties-text.ts withoutMembers). A
   * step that changes `properties` in any other way sets the text to
   * undefined, and the encoder serializes the object instead.
   */
  propertiesText: string | undefined
  propertiesHead: string
  ip: string | undefined
  /** capture-server receive time (outer `now`), raw */
  now: unknown
  sentAt: unknown
  timestamp: unknown
  offset: unknown
  // filled by the steps
  /** set by resolve-environment */
  env: ResolvedEnvironment | undefined
  /** `$group_0..4` values, by index; set by resolve-groups */
  groups: (string | undefined)[] | undefined
  /** index of `$group_type` of a `$groupidentify`; −1 otherwise */
  groupIdentifyIndex: number
  teamId: number
  projectId: number
  timestampMs: number
  /** capture time (outer `now`) in ms, else the task's clock; set by normalize-timestamp */
  capturedMs: number
  /** text of the `elements_chain` column; set by extract-elements ('' when none) */
  elementsChain: string
}
