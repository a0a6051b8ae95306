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
 * first value into `$set_once` as `$initial_<key>` (`$browser` → `$initial_browser`; PostHog/posthog:
 * plugin-server/src/utils/db/eventToPersonProperties.ts, generated there from
 * posthog-js's campaign and device keys).
 */
export const AUTOMATIC_PERSON_KEYS: readonly string[] = [
  '$app_build', '$app_name', '$app_namespace', '$app_version',
  '$browser', '$browser_version', '$device_type', '$current_url', '$pathname', '$os', '$os_version', '$referring_domain', '$referrer',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_name', 'utm_term',
  'gclid', 'gad_source', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'twclid', 'li_fat_id', 'mc_cid', 'igshid', 'ttclid', 'rdt_cid',
]

/** `$initial_<key>` without the key's own leading `$`, as PostHog names them (`$initial_browser`, `$initial_utm_source`) */
export const initialKeyOf = (key: string): string => '$initial_' + (key.charCodeAt(0) === 36 /* $ */ ? key.slice(1) : key)

/** AUTOMATIC_PERSON_KEYS' `$initial_*` names, index for index */
export const INITIAL_KEYS: readonly string[] = AUTOMATIC_PERSON_KEYS.map(initialKeyOf)

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
  const found = automaticValues(props)
  return found === undefined ? undefined : expandAutomatic(found.values)
}

/**
 * What a worker sends of the automatic keys: their values as one object,
 * and which keys are present as a bit mask over AUTOMATIC_PERSON_KEYS (lo:
 * keys 0–29, hi: 30–). The main thread expands them only when the person
 * lacks one of those keys or the event changes something else: once a
 * person has them, changes to them alone write nothing, so the common event
 * costs a mask comparison (bench: persons on vs off).
 */
export function automaticValues(props: Record<string, unknown>): { values: Record<string, unknown>; lo: number; hi: number } | undefined {
  let values: Record<string, unknown> | undefined
  const mask = eachAutomatic(props, (k, v) => { (values ??= {})[k] = v })
  return values === undefined ? undefined : { values, lo: mask.lo, hi: mask.hi }
}

/**
 * Calls `each` for every automatic key with a scalar value (`$os` falls back
 * to `$os_name`; these are URLs, names and ids: an object or array there is
 * not one, and may be nested without bound); returns which keys were found,
 * as a mask over AUTOMATIC_PERSON_KEYS (lo: keys 0–29, hi: 30–).
 */
function eachAutomatic(props: Record<string, unknown>, each?: (key: string, value: unknown) => void): { lo: number; hi: number } {
  let lo = 0
  let hi = 0
  for (let i = 0; i < AUTOMATIC_PERSON_KEYS.length; i++) {
    const k = AUTOMATIC_PERSON_KEYS[i]
    let v = props[k]
    if (v === undefined && k === '$os') v = props.$os_name
    if (v === undefined || (typeof v === 'object' && v !== null)) continue
    each?.(k, v)
    if (i < 30) lo |= 1 << i
    else hi |= 1 << (i - 30)
  }
  return { lo, hi }
}

/**
 * What a worker sends of the automatic keys: which are present, as
 * automaticValues' masks, and no values. The main thread compares the mask
 * with the person's (a person that has every key writes nothing for them)
 * and reads the values from the event's stored properties only in the rare
 * case they are needed: values sent with every event were ~15 % of the cost
 * persons add (bench:parse --persons, bench:persons).
 */
export function automaticPresence(props: Record<string, unknown>): { lo: number; hi: number } {
  return eachAutomatic(props)
}

/** automaticValues' values as JSON text (keys are ours, plain ASCII; values are scalars of an event parsed at the well-formed boundary). */
export function automaticText(props: Record<string, unknown>): string | undefined {
  let text = ''
  eachAutomatic(props, (k, v) => { text += (text === '' ? '{"' : ',"') + k + '":' + JSON.stringify(v) })
  return text === '' ? undefined : text + '}'
}

/**
 * The properties of a person created by an event that sets nothing else, as
 * JSON text: its automatic values' `$initial_*` (set once, first), then the
 * values themselves, which is what applying expandAutomatic's `$set` and
 * `$set_once` to an empty person gives (test/unit/workers/persons/rules.test.ts
 * compares them), built without the intermediate objects. '{}' without any.
 */
export function automaticPersonText(props: Record<string, unknown>): string {
  let initial = ''
  let current = ''
  for (let i = 0; i < AUTOMATIC_PERSON_KEYS.length; i++) {
    const k = AUTOMATIC_PERSON_KEYS[i]
    let v = props[k]
    if (v === undefined && k === '$os') v = props.$os_name
    if (v === undefined || (typeof v === 'object' && v !== null)) continue
    // keys are ours (plain ASCII); values are scalars of an event parsed at the well-formed boundary
    const json = JSON.stringify(v)
    initial += ',"' + INITIAL_KEYS[i] + '":' + json
    current += ',"' + k + '":' + json
  }
  return initial === '' ? '{}' : '{' + initial.slice(1) + current + '}'
}

/** The `$set` and `$set_once` ($initial_*) of automatic values. */
export function expandAutomatic(values: Record<string, unknown>): { set: Record<string, unknown>; setOnce: Record<string, unknown> } {
  const setOnce: Record<string, unknown> = {}
  for (const k in values) setOnce[initialKeyOf(k)] = values[k]
  return { set: values, setOnce }
}

/** Which automatic keys a person's properties hold, as automaticValues' masks. */
export function automaticMask(properties: Record<string, unknown>): { lo: number; hi: number } {
  let lo = 0
  let hi = 0
  for (let i = 0; i < AUTOMATIC_PERSON_KEYS.length; i++) {
    const k = AUTOMATIC_PERSON_KEYS[i]
    if (properties[k] === undefined || properties[INITIAL_KEYS[i]] === undefined) continue
    if (i < 30) lo |= 1 << i
    else hi |= 1 << (i - 30)
  }
  return { lo, hi }
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
