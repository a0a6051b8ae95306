// DESIGN §4b, the worker's share: what the event asks of its person, as one
// intent per stored event (ctx.personIntents), applied in Kafka order on the
// main thread, which owns the persons' state (engine/sink/writers/persons.ts). Checks
// that need no state happen here: personless events, merges naming an
// illegal id or themselves, `$set` that is not an object.
import { warn, type Step } from '../context'
import { automaticMask, automaticPersonText, automaticPresence, automaticText, automaticValues, expandAutomatic, isIllegalDistinctId, PERSON_EVENTS, unsetKeys } from '../persons/rules'
import { applyIntent } from '../persons/properties'
import { recentPersonId } from '../persons/uuidv5'
import { drop, ok } from '../result'
import {
  PERSON_ALIAS, PERSON_IDENTIFY, PERSON_MERGE_DANGEROUSLY, PERSON_PERSONLESS, PERSON_UPDATE,
  type PersonIntent, type PersonIntentKind,
} from '../protocol'

type Obj = Record<string, unknown>

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Largest `$set` / `$set_once` taken, as JSON text: a person's whole profile is written with every event */
export const MAX_PERSON_SET_CHARS = 64 * 1024

/** Deepest nesting taken in a person property: the main thread stringifies whole profiles, and deep enough nesting overflows its stack */
export const MAX_PERSON_DEPTH = 64

function within(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (depth === 0) return false
  if (Array.isArray(v)) {
    for (const x of v) if (!within(x, depth - 1)) return false
  } else {
    for (const k in v) if (!within((v as Obj)[k], depth - 1)) return false
  }
  return true
}

/** An object of bounded depth and JSON size */
function bounded(v: Obj): boolean {
  if (!within(v, MAX_PERSON_DEPTH)) return false
  try {
    return JSON.stringify(v).length <= MAX_PERSON_SET_CHARS
  } catch {
    return false
  }
}

const MERGES: Readonly<Record<string, PersonIntentKind>> = { $identify: PERSON_IDENTIFY, $create_alias: PERSON_ALIAS, $merge_dangerously: PERSON_MERGE_DANGEROUSLY }

/** Every field present, in one order: the task codec packs intents as records (workers/protocol.ts) */
function newIntent(team: number, distinctId: string, kind: PersonIntentKind, timestampMs: number, props?: Record<string, unknown>): PersonIntent {
  const { id, fresh } = recentPersonId(team, distinctId)
  const intent: PersonIntent = {
    team, distinctId, kind, personId: fresh ? id : null, set: null, setOnce: null, autoLo: 0, autoHi: 0,
    newText: null, newLo: 0, newHi: 0, autoText: null, unset: null, other: null, force: false, timestampMs, kafkaMs: 0,
  }
  if (props !== undefined) {
    const auto = automaticPresence(props)
    intent.autoLo = auto.lo
    intent.autoHi = auto.hi
  }
  return intent
}

/**
 * What a person created by this event holds (PersonIntent.newText): the
 * main thread's rule for a new person (engine/sink/writers/persons.ts
 * applyOne), applied here to the event's parsed properties.
 */
function newPersonOf(intent: PersonIntent, props: Record<string, unknown>): void {
  if (intent.set === null && intent.setOnce === null && intent.unset === null) {
    // most events: the automatic keys alone, every one of them held with its $initial_*
    intent.newText = automaticPersonText(props)
    intent.newLo = intent.autoLo
    intent.newHi = intent.autoHi
    return
  }
  let set = intent.set
  let setOnce = intent.setOnce
  if (intent.autoLo !== 0 || intent.autoHi !== 0) {
    const values = automaticValues(props)?.values
    if (values !== undefined) {
      const expanded = expandAutomatic(values)
      set = set === null ? expanded.set : { ...expanded.set, ...set }
      setOnce = setOnce === null ? expanded.setOnce : { ...expanded.setOnce, ...setOnce }
    }
  }
  const properties = set === null && setOnce === null && intent.unset === null ? undefined : applyIntent({}, { set, setOnce, unset: intent.unset, force: intent.force })
  if (properties === undefined) {
    intent.newText = '{}'
    return
  }
  intent.newText = JSON.stringify(properties)
  const mask = automaticMask(properties)
  intent.newLo = mask.lo
  intent.newHi = mask.hi
}

export const extractPerson: Step = (event, ctx) => {
  const props = event.properties
  const distinctId = event.distinctId as string // validate-distinct-id leaves a string
  const name = event.eventName
  const mergeKind = MERGES[name]
  if (props.$process_person_profile === false) {
    // PostHog drops these: a merge or group update without a person is a contradiction
    if (mergeKind !== undefined || name === '$groupidentify') {
      warn(ctx, event, 'invalid_process_person_profile', { event: name })
      return drop('invalid_process_person_profile')
    }
    if (props.$set !== undefined || props.$set_once !== undefined || props.$unset !== undefined) {
      delete props.$set
      delete props.$set_once
      delete props.$unset
      event.propertiesText = undefined
    }
    ctx.personIntents.push(newIntent(event.teamId, distinctId, PERSON_PERSONLESS, event.timestampMs))
    return ok()
  }
  const intent = newIntent(event.teamId, distinctId, PERSON_UPDATE, event.timestampMs, props)
  let set = props.$set as Obj | undefined
  let setOnce = props.$set_once as Obj | undefined
  if (set !== undefined && (!isObject(set) || !bounded(set))) { warn(ctx, event, 'invalid_person_properties', { key: '$set' }, '$set'); set = undefined }
  if (setOnce !== undefined && (!isObject(setOnce) || !bounded(setOnce))) { warn(ctx, event, 'invalid_person_properties', { key: '$set_once' }, '$set_once'); setOnce = undefined }
  if (set !== undefined) intent.set = set
  if (setOnce !== undefined) intent.setOnce = setOnce
  const unset = props.$unset === undefined ? undefined : unsetKeys(props.$unset)
  if (unset !== undefined) intent.unset = unset
  if (PERSON_EVENTS.has(name)) intent.force = true
  if (mergeKind !== undefined) {
    const other = mergeKind === PERSON_IDENTIFY ? props.$anon_distinct_id : props.alias
    if (typeof other === 'string' && other.length > 0 && other !== distinctId) {
      if (isIllegalDistinctId(other) || isIllegalDistinctId(distinctId)) {
        warn(ctx, event, 'cannot_merge_with_illegal_distinct_id', { illegal_distinct_id: isIllegalDistinctId(other) ? other : distinctId, distinct_id: distinctId, other_distinct_id: other }, 'illegal')
      } else {
        intent.kind = mergeKind
        intent.other = other
      }
    } else if (other !== undefined && typeof other !== 'string') {
      warn(ctx, event, 'invalid_person_properties', { key: mergeKind === PERSON_IDENTIFY ? '$anon_distinct_id' : 'alias' }, 'merge')
    }
    // a merge naming itself (or nobody) is an ordinary person update
  }
  // a user new to this thread is likely a new person: what the main thread would compute for one, computed here
  if (intent.personId !== null && intent.kind === PERSON_UPDATE) newPersonOf(intent, props)
  if ((intent.autoLo !== 0 || intent.autoHi !== 0) && (intent.set !== null || intent.setOnce !== null || intent.unset !== null || intent.force)) {
    intent.autoText = automaticText(props) ?? null
  }
  ctx.personIntents.push(intent)
  return ok()
}
