// Pure rules of a person's state (DESIGN §4b): applying one event's `$set`,
// `$set_once` and `$unset` to a person's properties, and merging two
// persons' properties. No I/O: engine/sink/writers/persons.ts applies them in Kafka
// order to its cache, and a worker to a user new to it (the properties a
// person created by the event gets); test/unit/workers/persons/rules.test.ts tables them.
import { FILTERED_PERSON_KEYS } from './rules'

export type Properties = Record<string, unknown>

const same = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  // objects and arrays compare by value: a repeated `$set: {address: {...}}` is no change
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) return JSON.stringify(a) === JSON.stringify(b)
  return false
}

/**
 * The properties after the intent, or undefined when nothing is to be
 * written. As PostHog's person-update.ts (computeEventPropertyUpdates):
 * `$set_once` fills absent keys; `$set` changes count only when one of them
 * is new, is not a frequently changing automatic key ($current_url, …), or
 * the event is a person event; then every changed key is applied together.
 * `$unset` removes present keys. The input is never modified.
 */
/** What one event asks of its person's properties (null or absent: nothing). */
export interface PropertyChanges {
  set?: Properties | null
  setOnce?: Properties | null
  unset?: readonly string[] | null
  force?: boolean
}

export function applyIntent(current: Properties, intent: PropertyChanges): Properties | undefined {
  let next: Properties | undefined
  const setOnce = intent.setOnce
  if (setOnce != null) {
    for (const k in setOnce) {
      if (k === '__proto__') continue // an own key of parsed JSON; assigning it would set the prototype
      if (current[k] === undefined && (next === undefined || next[k] === undefined) && setOnce[k] !== undefined) {
        if (next === undefined) next = { ...current }
        next[k] = setOnce[k]
      }
    }
  }
  const set = intent.set
  if (set != null) {
    let changed: string[] | undefined
    let triggers = intent.force === true
    for (const k in set) {
      if (k === '__proto__') continue
      const v = set[k]
      if (v === undefined || same(current[k], v)) continue
      ;(changed ??= []).push(k)
      if (!triggers && (current[k] === undefined || !FILTERED_PERSON_KEYS.has(k))) triggers = true
    }
    if (changed !== undefined && triggers) {
      if (next === undefined) next = { ...current }
      for (const k of changed) next[k] = set[k]
    }
  }
  const unset = intent.unset
  if (unset != null) {
    for (const k of unset) {
      if (k in (next ?? current)) {
        if (next === undefined) next = { ...current }
        delete next[k]
      }
    }
  }
  return next
}

/**
 * The properties of a merged person: the surviving person's values win,
 * except `$initial_*` (first-touch, set once), where the older person's win.
 */
export function mergeProperties(into: Properties, intoCreatedMs: number, absorbed: Properties, absorbedCreatedMs: number): Properties {
  const merged: Properties = { ...absorbed, ...into }
  if (absorbedCreatedMs < intoCreatedMs) {
    for (const k in absorbed) if (k.startsWith('$initial_')) merged[k] = absorbed[k]
  }
  return merged
}

/** What a merge does, decided from the two sides' state (PostHog: person-merge-service.ts, handleIdentifyOrAlias). */
export type MergeDecision =
  | { kind: 'same' } // already one person: mark identified
  | { kind: 'adopt_other' } // only the other id has a person: this id joins it
  | { kind: 'adopt_this' } // only this id has a person: the other joins it
  | { kind: 'create' } // neither has one: one new person with both
  | { kind: 'merge' } // two persons: the other's is absorbed into this one
  | { kind: 'refuse_identified' } // two identified persons and not $merge_dangerously

export function decideMerge(thisPerson: { id: string; isIdentified: boolean } | undefined, otherPerson: { id: string; isIdentified: boolean } | undefined, dangerously: boolean): MergeDecision {
  if (thisPerson === undefined && otherPerson === undefined) return { kind: 'create' }
  if (thisPerson === undefined) return { kind: 'adopt_other' }
  if (otherPerson === undefined) return { kind: 'adopt_this' }
  if (thisPerson.id === otherPerson.id) return { kind: 'same' }
  // the anonymous side of an identify must not already be someone: that would join two known users
  if (otherPerson.isIdentified && !dangerously) return { kind: 'refuse_identified' }
  return { kind: 'merge' }
}
