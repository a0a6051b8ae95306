// PostHog's person rules that need no state (DESIGN §4b): which distinct_ids
// may never be merged, and which event properties are copied to the person
// automatically. Pure; the step (steps/extract-person.ts) and the main
// thread's PersonStore use them.

// Ids SDKs and integrations send by mistake; merging on them would join
// unrelated users. Case-insensitive ones, then exact ones (PostHog/posthog:
// nodejs/src/worker/ingestion/persons/person-merge-service.ts, isDistinctIdIllegal).
const ILLEGAL_ANY_CASE = new Set(['anonymous', 'guest', 'distinctid', 'distinct_id', 'id', 'not_authenticated', 'email', 'undefined', 'true', 'false'])
const ILLEGAL_EXACT = new Set(['[object Object]', 'NaN', 'None', 'none', 'null', '0', 'undefined'])

export function isIllegalDistinctId(id: string): boolean {
  const trimmed = id.trim()
  return trimmed === '' || ILLEGAL_EXACT.has(trimmed) || ILLEGAL_ANY_CASE.has(trimmed.toLowerCase())
}

/**
 * Event properties whose current value goes into the person's `$set` and
 * first value into `$set_once` as `$initial_<key>` (PostHog/posthog:
 * plugin-server/src/utils/db/eventToPersonProperties.ts, generated there from
 * posthog-js's campaign and device keys).
 */
export const AUTOMATIC_PERSON_KEYS: readonly string[] = [
  '$app_build', '$app_name', '$app_namespace', '$app_version',
  '$browser', '$browser_version', '$device_type', '$current_url', '$pathname', '$os', '$os_version', '$referring_domain', '$referrer',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_name', 'utm_term',
  'gclid', 'gad_source', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'twclid', 'li_fat_id', 'mc_cid', 'igshid', 'ttclid', 'rdt_cid',
]

const INITIAL_KEYS: readonly string[] = AUTOMATIC_PERSON_KEYS.map((k) => '$initial_' + k)

/**
 * Changes to these keys alone (on an existing value, outside person events)
 * write nothing: `$current_url` changes on every page view, and a person row
 * per event would cost more than the event (PostHog/posthog:
 * nodejs/src/worker/ingestion/persons/person-update.ts, isFilteredPersonPropertyKey).
 */
export const FILTERED_PERSON_KEYS: ReadonlySet<string> = new Set(AUTOMATIC_PERSON_KEYS)

/** Events whose person changes are always written */
export const PERSON_EVENTS: ReadonlySet<string> = new Set(['$identify', '$create_alias', '$merge_dangerously', '$set'])

/** The automatic `$set` and `$set_once` of an event's properties; `$os` falls back to `$os_name`. Undefined when there are none. */
export function automaticProperties(props: Record<string, unknown>): { set: Record<string, unknown>; setOnce: Record<string, unknown> } | undefined {
  let set: Record<string, unknown> | undefined
  let setOnce: Record<string, unknown> | undefined
  for (let i = 0; i < AUTOMATIC_PERSON_KEYS.length; i++) {
    const k = AUTOMATIC_PERSON_KEYS[i]
    let v = props[k]
    if (v === undefined && k === '$os') v = props.$os_name
    if (v === undefined) continue
    if (set === undefined) { set = {}; setOnce = {} }
    set[k] = v
    setOnce![INITIAL_KEYS[i]] = v
  }
  return set === undefined ? undefined : { set, setOnce: setOnce! }
}

/** `$unset` as PostHog takes it: a list of keys, or an object whose keys are unset. Non-string entries are skipped. */
export function unsetKeys(v: unknown): string[] | undefined {
  if (Array.isArray(v)) {
    const keys = v.filter((k): k is string => typeof k === 'string')
    return keys.length > 0 ? keys : undefined
  }
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v)
    return keys.length > 0 ? keys : undefined
  }
  return undefined
}
