// DESIGN §4 step 9: the project's taxonomy, shared by its environments: one
// event definition per name; property definitions for top-level keys (type
// 1), `$set`/`$set_once` keys (type 2, person) and `$group_set` keys of a
// `$groupidentify` (type 3, with the group type index); event→property links.
// Steady traffic repeats the same observations, so each worker remembers what
// it has reported and reports only what is new; the sink de-duplicates again
// across workers and writes in batches.
//
// What was reported is kept in nested maps keyed by the names as they come
// out of JSON.parse (V8 interns object keys, so their hashes are cached),
// never in a key string built per property per event: with ~30 properties an
// event, building and hashing those strings (and lru-cache's bookkeeping) was
// a third of a worker's time. bench/parse.bench.ts, a whole worker task per
// event: ~55–65 µs before, ~27–31 µs after (with the key-class cache of
// property-type.ts and the time-text cache of encode.ts).
//
//   seen: project id ─► { events: name ─► { hour, links: {property names} },
//                         props[slot]: name ─► bitmask of reported types }
//   slot: 0 event properties (type 1), 1 person (type 2), 2 + index group (type 3)
//
// Bounded: past MAX_ENTRIES remembered names everything is forgotten at once
// and reported again (the sink's own de-duplication absorbs that).
import type { StepContext, Step } from '../context'
import type { WorkingEvent } from '../event'
import { detectPropertyType, keyClass, propertyTypeOf, type PropertyType } from '../property-type'
import { ok } from '../result'

const SKIP = new Set(['$set', '$set_once', '$unset', '$groups', '$group_0', '$group_1', '$group_2', '$group_3', '$group_4'])
const MAX_KEY_BYTES = 200
const MAX_ENTRIES = 250_000

interface EventSeen { hour: number; readonly links: Set<string> }
interface ProjectSeen { readonly events: Map<string, EventSeen>; readonly props: Map<string, number>[] }

const seen = new Map<number, ProjectSeen>()
let entries = 0

/**
 * An observation reported by a message, remembered once the message's row is
 * encoded (a message that fails later reports again next time):
 * [0, project, event name, hour] | [1, project, slot, property name, type bit] | [2, project, event name, property name]
 */
export type ReportedKey =
  | readonly [0, number, string, number]
  | readonly [1, number, number, string, number]
  | readonly [2, number, string, string]

const TYPE_BITS: Record<PropertyType, number> = { String: 2, Numeric: 4, Boolean: 8, DateTime: 16 }
const typeBit = (t: PropertyType | null) => (t === null ? 1 : TYPE_BITS[t])

function project(id: number): ProjectSeen {
  let p = seen.get(id)
  if (p === undefined) seen.set(id, (p = { events: new Map(), props: [] }))
  return p
}

function slotMap(p: ProjectSeen, slot: number): Map<string, number> {
  let m = p.props[slot]
  if (m === undefined) p.props[slot] = m = new Map()
  return m
}

/** Called by the worker after the message's row is encoded. */
export function rememberReported(keys: ReportedKey[]): void {
  for (const k of keys) {
    if (entries >= MAX_ENTRIES) forgetReportedDefinitions()
    const p = project(k[1])
    if (k[0] === 0) {
      const e = p.events.get(k[2])
      if (e === undefined) { p.events.set(k[2], { hour: k[3], links: new Set() }); entries++ } else if (k[3] > e.hour) e.hour = k[3]
    } else if (k[0] === 1) {
      const m = slotMap(p, k[2])
      const bits = m.get(k[3])
      if (bits === undefined) entries++
      m.set(k[3], (bits ?? 0) | k[4])
    } else {
      let e = p.events.get(k[2])
      // hour −1: the link is known, the event definition is not (yet)
      if (e === undefined) { p.events.set(k[2], (e = { hour: -1, links: new Set() })); entries++ }
      if (!e.links.has(k[3])) { e.links.add(k[3]); entries++ }
    }
  }
  keys.length = 0
}

function keyTooLong(key: string): boolean {
  return key.length > MAX_KEY_BYTES || (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES)
}

// A top-level key's fate decided once, not per event: skipped (SKIP, too
// long), or its key class for type detection. One lookup instead of three
// per property (bench/parse.bench.ts). Bounded: cleared when full.
const SKIPPED = -1
const topLevelKeys = new Map<string, number>()
const MAX_TOP_LEVEL_KEYS = 50_000

function topLevelKind(key: string): number {
  let kind = topLevelKeys.get(key)
  if (kind === undefined) {
    kind = SKIP.has(key) || keyTooLong(key) ? SKIPPED : keyClass(key)
    if (topLevelKeys.size >= MAX_TOP_LEVEL_KEYS) topLevelKeys.clear()
    topLevelKeys.set(key, kind)
  }
  return kind
}

function property(ctx: StepContext, projectId: number, known: Map<string, number> | undefined, slot: number, name: string, value: unknown, type: number, groupIndex: number, cls = -1): void {
  const ptype = cls === -1 ? detectPropertyType(name, value, ctx.nowMs) : propertyTypeOf(cls, value, ctx.nowMs)
  // the type is part of what is remembered: a property first seen as null is reported again once a value has a type
  const bit = typeBit(ptype)
  if (known !== undefined && ((known.get(name) ?? 0) & bit) !== 0) return
  ctx.reportedKeys.push([1, projectId, slot, name, bit])
  ctx.observations.propertyDefinitions.push([projectId, name, type, groupIndex, ptype])
}

function objectKeys(ctx: StepContext, p: ProjectSeen | undefined, projectId: number, obj: unknown, type: number, groupIndex: number): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return
  const slot = type === 3 ? 2 + groupIndex : 1
  const known = p?.props[slot]
  for (const [name, value] of Object.entries(obj as Record<string, unknown>)) {
    if (!keyTooLong(name)) property(ctx, projectId, known, slot, name, value, type, groupIndex)
  }
}

export const extractDefinitions: Step = (event: WorkingEvent, ctx) => {
  const projectId = event.projectId
  const name = event.eventName
  const p = seen.get(projectId)
  const e = p?.events.get(name)
  // hourly: an event definition's last_seen moves at most once an hour
  const hour = Math.floor(ctx.nowMs / 3_600_000)
  if (e === undefined || hour > e.hour) {
    ctx.reportedKeys.push([0, projectId, name, hour])
    ctx.observations.eventDefinitions.push([projectId, name])
  }
  const known = p?.props[0]
  const links = e?.links
  const props = event.properties
  for (const key in props) {
    const kind = topLevelKind(key)
    if (kind === SKIPPED) continue
    property(ctx, projectId, known, 0, key, props[key], 1, -1, kind)
    if (links === undefined || !links.has(key)) {
      ctx.reportedKeys.push([2, projectId, name, key])
      ctx.observations.eventProperties.push([projectId, name, key])
    }
  }
  objectKeys(ctx, p, projectId, props.$set, 2, -1)
  objectKeys(ctx, p, projectId, props.$set_once, 2, -1)
  if (event.groupIdentifyIndex >= 0) objectKeys(ctx, p, projectId, props.$group_set, 3, event.groupIdentifyIndex)
  return ok()
}

/** Forgets what this thread reported (tests; and when the memory bound is reached). */
export function forgetReportedDefinitions(): void {
  seen.clear()
  entries = 0
}
