// DESIGN §4 step 9: the project's taxonomy, shared by its environments: one
// event definition per name; property definitions for top-level keys (type
// 1), `$set`/`$set_once` keys (type 2, person) and `$group_set` keys of a
// `$groupidentify` (type 3, with the group type index); event→property links.
// Steady traffic repeats the same observations, so each worker remembers what
// it has reported (lru-cache) and reports only what is new; the sink
// de-duplicates again across workers and writes in batches.
import { LRUCache } from 'lru-cache'
import type { StepContext, Step } from '../context'
import type { WorkingEvent } from '../event'
import { detectPropertyType } from '../property-type'
import { ok } from '../result'

const SKIP = new Set(['$set', '$set_once', '$unset', '$groups', '$group_0', '$group_1', '$group_2', '$group_3', '$group_4'])
const MAX_KEY_BYTES = 200

const reported = new LRUCache<string, true>({ max: 250_000 })

/** A key is remembered only once its message is encoded: a message that fails later reports again next time. */
function report(ctx: StepContext, key: string): boolean {
  if (reported.get(key)) return false
  ctx.reportedKeys.push(key)
  return true
}

/** Called by the worker after the message's row is encoded. */
export function rememberReported(keys: string[]): void {
  for (const k of keys) reported.set(k, true)
  keys.length = 0
}

function keyTooLong(key: string): boolean {
  return key.length > MAX_KEY_BYTES || (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES)
}

function property(ctx: StepContext, projectId: number, name: string, value: unknown, type: number, groupIndex: number): void {
  const ptype = detectPropertyType(name, value, ctx.nowMs)
  // the type is part of the key: a property first seen as null is reported again once a value has a type
  const k = `p\u0000${projectId}\u0000${type}\u0000${groupIndex}\u0000${ptype}\u0000${name}`
  if (!report(ctx, k)) return
  ctx.observations.propertyDefinitions.push([projectId, name, type, groupIndex, ptype])
}

function objectKeys(ctx: StepContext, projectId: number, obj: unknown, type: number, groupIndex: number): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return
  for (const [name, value] of Object.entries(obj as Record<string, unknown>)) {
    if (!keyTooLong(name)) property(ctx, projectId, name, value, type, groupIndex)
  }
}

export const extractDefinitions: Step = (event: WorkingEvent, ctx) => {
  const projectId = event.projectId
  const name = event.eventName
  // hourly: an event definition's last_seen moves at most once an hour
  const ek = `e\u0000${Math.floor(ctx.nowMs / 3_600_000)}\u0000${projectId}\u0000${name}`
  if (report(ctx, ek)) {
    ctx.observations.eventDefinitions.push([projectId, name])
  }
  const props = event.properties
  for (const key in props) {
    if (SKIP.has(key) || keyTooLong(key)) continue
    property(ctx, projectId, key, props[key], 1, -1)
    const lk = `l\u0000${projectId}\u0000${name}\u0000${key}`
    if (report(ctx, lk)) {
      ctx.observations.eventProperties.push([projectId, name, key])
    }
  }
  objectKeys(ctx, projectId, props.$set, 2, -1)
  objectKeys(ctx, projectId, props.$set_once, 2, -1)
  if (event.groupIdentifyIndex >= 0) objectKeys(ctx, projectId, props.$group_set, 3, event.groupIdentifyIndex)
  return ok()
}

/** Tests only: forget what this thread reported. */
export function forgetReportedDefinitions(): void {
  reported.clear()
}
