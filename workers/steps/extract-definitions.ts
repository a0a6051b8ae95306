// DESIGN §4 step 9: the project's taxonomy, shared by its environments: one
// event definition per name; property definitions for top-level keys (type
// 1), `$set`/`$set_once` keys and automatic person properties (type 2, person) and `$group_set` keys of a
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
// What was reported lives in the thread's DefinitionsMemory
// (workers/definitions-memory.ts), carried by the step context.
import type { StepContext, Step } from '../context'
import { keyTooLong, REPORTED_EVENT, REPORTED_LINK, REPORTED_PROPERTY, SKIPPED, type DefinitionsMemory, type ProjectSeen } from '../definitions-memory'
import type { WorkingEvent } from '../event'
import { AUTOMATIC_PERSON_KEYS, automaticPresence, INITIAL_KEYS } from '../persons/rules'
import { detectPropertyType, keyClass, propertyTypeOf, type PropertyType } from '../property-type'
import { ok } from '../result'

const TYPE_BITS: Record<PropertyType, number> = { String: 2, Numeric: 4, Boolean: 8, DateTime: 16 }
const typeBit = (t: PropertyType | null) => (t === null ? 1 : TYPE_BITS[t])

function property(ctx: StepContext, projectId: number, known: Map<string, number> | undefined, slot: number, name: string, value: unknown, type: number, groupIndex: number, cls = -1): void {
  const ptype = cls === -1 ? detectPropertyType(name, value, ctx.nowMs) : propertyTypeOf(cls, value, ctx.nowMs)
  // the type is part of what is remembered: a property first seen as null is reported again once a value has a type
  const bit = typeBit(ptype)
  if (known !== undefined && ((known.get(name) ?? 0) & bit) !== 0) return
  ctx.reportedKeys.push([REPORTED_PROPERTY, projectId, slot, name, bit])
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

// The automatic person properties (workers/persons/rules.ts), as PostHog's
// personInitialAndUTMProperties adds them to the event's `$set` (current
// value) and `$set_once` (`$initial_<key>`) before property-defs-rs reads
// them: person property definitions (type 2) for both names. A key the
// event's own `$set` / `$set_once` names is described there (its value wins in
// PostHog). Personless events have no `$set` in PostHog (normalizeProcessPerson),
// so they report none.
//
// Cost: which automatic keys the event has is the mask the person step has
// just computed (its intent, the last one pushed); only with persons off is it
// computed here. Only the keys present are visited, and a value's type is
// detected once for both names unless their key classes differ (`utm_*` is
// String by its key, `$initial_utm_*` is not). A bare loop over the 33 keys
// with a type detection per name cost ~2 µs an event on a whole worker task
// of ~8 µs (a typical web pageview, everything already reported).
const AUTOMATIC_CLASSES = AUTOMATIC_PERSON_KEYS.map(keyClass)
const INITIAL_CLASSES = INITIAL_KEYS.map(keyClass)

function hasKey(obj: unknown, key: string): boolean {
  return typeof obj === 'object' && obj !== null && !Array.isArray(obj) && (obj as Record<string, unknown>)[key] !== undefined
}

function report(ctx: StepContext, projectId: number, known: Map<string, number> | undefined, name: string, ptype: PropertyType | null): void {
  const bit = typeBit(ptype)
  if (known !== undefined && ((known.get(name) ?? 0) & bit) !== 0) return
  ctx.reportedKeys.push([REPORTED_PROPERTY, projectId, 1, name, bit])
  ctx.observations.propertyDefinitions.push([projectId, name, 2, -1, ptype])
}

function automaticKey(ctx: StepContext, known: Map<string, number> | undefined, projectId: number, props: Record<string, unknown>, i: number): void {
  const k = AUTOMATIC_PERSON_KEYS[i]
  let v = props[k]
  if (v === undefined) v = props.$os_name // only `$os` is ever marked present without its own value
  const cls = AUTOMATIC_CLASSES[i]
  const ptype = propertyTypeOf(cls, v, ctx.nowMs)
  if (!hasKey(props.$set, k)) report(ctx, projectId, known, k, ptype)
  const initial = INITIAL_KEYS[i]
  if (!hasKey(props.$set_once, initial)) report(ctx, projectId, known, initial, INITIAL_CLASSES[i] === cls ? ptype : propertyTypeOf(INITIAL_CLASSES[i], v, ctx.nowMs))
}

function automaticKeys(event: WorkingEvent, ctx: StepContext, p: ProjectSeen | undefined, projectId: number): void {
  const props = event.properties
  const intents = ctx.personIntents
  const intent = intents.length > 0 ? intents[intents.length - 1] : undefined
  let lo: number
  let hi: number
  if (intent !== undefined && intent.distinctId === event.distinctId && intent.timestampMs === event.timestampMs) {
    lo = intent.autoLo
    hi = intent.autoHi
  } else {
    ({ lo, hi } = automaticPresence(props))
  }
  if (lo === 0 && hi === 0) return
  const known = p?.props[1]
  for (let m = lo; m !== 0; m &= m - 1) automaticKey(ctx, known, projectId, props, 31 - Math.clz32(m & -m))
  for (let m = hi; m !== 0; m &= m - 1) automaticKey(ctx, known, projectId, props, 30 + 31 - Math.clz32(m & -m))
}

// Issue 15 rule 8, as PostHog's rust/property-defs-rs (src/types.rs, the
// per-event updates): an event whose name is over 200 bytes describes
// nothing; a `$groupidentify` contributes only its `$group_set` keys (type 3),
// not its own properties nor event→property links; links skip feature flag
// keys (`$feature/…`, `$feature_enrollment/…`).
const MAX_EVENT_NAME_BYTES = 200
const GROUP_IDENTIFY = '$groupidentify'

function nameTooLong(name: string): boolean {
  // a name of at most 66 UTF-16 units is at most 198 bytes: most names skip the count
  return name.length > 66 && Buffer.byteLength(name, 'utf8') > MAX_EVENT_NAME_BYTES
}

const isFeatureKey = (key: string) => key.charCodeAt(1) === 102 /* f */ && (key.startsWith('$feature/') || key.startsWith('$feature_enrollment/'))

export const extractDefinitions: Step = (event: WorkingEvent, ctx) => {
  const projectId = event.projectId
  let name = event.eventName
  if (nameTooLong(name)) return ok()
  // Postgres keeps no NUL: PostHog's sanitize_string replaces it in event names (not in property names)
  if (name.includes('\u0000')) name = name.replace(/\u0000/g, '\ufffd')
  const memory: DefinitionsMemory = ctx.definitions
  const p = memory.projectIfSeen(projectId)
  const e = p?.events.get(name)
  // hourly: an event definition's last_seen moves at most once an hour
  const hour = Math.floor(ctx.nowMs / 3_600_000)
  if (e === undefined || hour > e.hour) {
    ctx.reportedKeys.push([REPORTED_EVENT, projectId, name, hour])
    ctx.observations.eventDefinitions.push([projectId, name])
  }
  const known = p?.props[0]
  const links = e?.links
  const props = event.properties
  if (name === GROUP_IDENTIFY) {
    if (event.groupIdentifyIndex >= 0) objectKeys(ctx, p, projectId, props.$group_set, 3, event.groupIdentifyIndex)
    return ok()
  }
  for (const key in props) {
    const kind = memory.topLevelKind(key)
    if (kind === SKIPPED) continue
    property(ctx, projectId, known, 0, key, props[key], 1, -1, kind)
    if ((links === undefined || !links.has(key)) && !isFeatureKey(key)) {
      ctx.reportedKeys.push([REPORTED_LINK, projectId, name, key])
      ctx.observations.eventProperties.push([projectId, name, key])
    }
  }
  objectKeys(ctx, p, projectId, props.$set, 2, -1)
  objectKeys(ctx, p, projectId, props.$set_once, 2, -1)
  if (props.$process_person_profile !== false) automaticKeys(event, ctx, p, projectId)
  return ok()
}
