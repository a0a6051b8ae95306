// DESIGN §4 step 8: `$groups = {type: key}` → `$group_<index>` through the
// project's mapping (shared by its environments), and `$groupidentify` →
// a group update for the environment. A type without an index is not decided
// here: the event waits (needs_claim) while the main thread claims the type
// through the control log, so every instance assigns the same index; the
// worker never blocks. Past 5 types the key is not written and the user is
// told (group_type_limit_exceeded), unlike PostHog, which drops it silently.
import { warn, type StepContext, type Step } from '../context'
import type { WorkingEvent } from '../event'
import { drop, needsClaim, ok } from '../result'

export const MAX_GROUP_TYPES = 5
export const MAX_GROUP_KEY_LENGTH = 400

type Index = number | 'pending' | 'none'

function indexOf(type: string, event: WorkingEvent, ctx: StepContext): Index {
  const project = event.env!.project
  const index = project.groupTypes.get(type)
  if (index !== undefined) return index
  if (project.groupTypes.size >= MAX_GROUP_TYPES) {
    warn(ctx, event, 'group_type_limit_exceeded', { group_type: type, limit: MAX_GROUP_TYPES }, type)
    return 'none'
  }
  // claimed already and still unknown: the claim lost a race for the last index
  if (ctx.claimsSettled) {
    warn(ctx, event, 'group_type_limit_exceeded', { group_type: type, limit: MAX_GROUP_TYPES }, type)
    return 'none'
  }
  ctx.claims.set(`${project.id}\u0000${type}`, [project.id, type])
  return 'pending'
}

function groupKey(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

export const resolveGroups: Step = (event, ctx) => {
  const props = event.properties
  const identify = event.eventName === '$groupidentify'
  // decided first: a dropped event must claim no group type
  if (identify) {
    const key = groupKey(props.$group_key)
    if (key !== undefined && key.length > MAX_GROUP_KEY_LENGTH) {
      warn(ctx, event, 'group_key_too_long', { group_type: String(props.$group_type).slice(0, 200), length: key.length }, String(props.$group_type))
      return drop('group_key_too_long')
    }
  }
  const groups = props.$groups
  let pending = false
  if (typeof groups === 'object' && groups !== null && !Array.isArray(groups)) {
    for (const [type, raw] of Object.entries(groups as Record<string, unknown>)) {
      const key = groupKey(raw)
      if (key === undefined || type.length === 0) continue
      if (key.length > MAX_GROUP_KEY_LENGTH) {
        warn(ctx, event, 'group_key_too_long', { group_type: type, length: key.length }, type)
        continue
      }
      const index = indexOf(type, event, ctx)
      if (index === 'pending') pending = true
      else if (index !== 'none') (event.groups ??= [])[index] = key
    }
  }
  if (identify) {
    const type = props.$group_type
    const key = groupKey(props.$group_key)
    if (typeof type !== 'string' || type.length === 0 || key === undefined) {
      warn(ctx, event, 'invalid_group_identify', { reason: 'needs a string $group_type and a $group_key' })
    } else {
      const index = indexOf(type, event, ctx)
      if (index === 'pending') pending = true
      else if (index !== 'none') {
        event.groupIdentifyIndex = index
        const set = props.$group_set
        const setJson = typeof set === 'object' && set !== null && !Array.isArray(set) ? JSON.stringify(set) : '{}'
        if (!pending) ctx.groupUpdates.push([event.teamId, index, key, setJson, event.timestampMs])
      }
    }
  }
  return pending ? needsClaim() : ok()
}
