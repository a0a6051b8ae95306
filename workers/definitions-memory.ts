// What one worker thread has already reported of the projects' taxonomy, so
// that steady traffic reports almost nothing (steps/extract-definitions.ts
// explains the shape and the measurement behind it). One instance per thread,
// created by workers/index.ts and carried by the step context; tests make
// their own.
//
//   seen: project id ─► { events: name ─► { hour, links: {property names} },
//                         props[slot]: name ─► bitmask of reported types }
//   slot: 0 event properties (type 1), 1 person (type 2), 2 + index group (type 3)
//
// Bounded: past MAX_ENTRIES remembered names everything is forgotten at once
// and reported again (the sink's own de-duplication absorbs that).
import { keyClass } from './property-type'

export const MAX_ENTRIES = 250_000
const MAX_KEY_BYTES = 200
const MAX_TOP_LEVEL_KEYS = 50_000
const SKIP = new Set(['$set', '$set_once', '$unset', '$groups', '$group_0', '$group_1', '$group_2', '$group_3', '$group_4'])
/** topLevelKind() of a key that gets no definition */
export const SKIPPED = -1

export interface EventSeen { hour: number; readonly links: Set<string> }
export interface ProjectSeen { readonly events: Map<string, EventSeen>; readonly props: Map<string, number>[] }

export const REPORTED_EVENT = 0
export const REPORTED_PROPERTY = 1
export const REPORTED_LINK = 2

/**
 * An observation reported by a message, remembered once the message's row is
 * encoded (a message that fails later reports again next time).
 */
export type ReportedKey =
  | readonly [typeof REPORTED_EVENT, number, string, number] // project, event name, hour
  | readonly [typeof REPORTED_PROPERTY, number, number, string, number] // project, slot, property name, type bit
  | readonly [typeof REPORTED_LINK, number, string, string] // project, event name, property name

export function keyTooLong(key: string): boolean {
  return key.length > MAX_KEY_BYTES || (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES)
}

export class DefinitionsMemory {
  private readonly seen = new Map<number, ProjectSeen>()
  private entries = 0
  // A top-level key's fate decided once, not per event: skipped (SKIP, too
  // long), or its key class for type detection. One lookup instead of three
  // per property (bench/parse.bench.ts). Bounded: cleared when full.
  private readonly topLevelKeys = new Map<string, number>()

  projectIfSeen(id: number): ProjectSeen | undefined {
    return this.seen.get(id)
  }

  topLevelKind(key: string): number {
    let kind = this.topLevelKeys.get(key)
    if (kind === undefined) {
      kind = SKIP.has(key) || keyTooLong(key) ? SKIPPED : keyClass(key)
      if (this.topLevelKeys.size >= MAX_TOP_LEVEL_KEYS) this.topLevelKeys.clear()
      this.topLevelKeys.set(key, kind)
    }
    return kind
  }

  private project(id: number): ProjectSeen {
    let p = this.seen.get(id)
    if (p === undefined) this.seen.set(id, (p = { events: new Map(), props: [] }))
    return p
  }

  private slotMap(p: ProjectSeen, slot: number): Map<string, number> {
    let m = p.props[slot]
    if (m === undefined) p.props[slot] = m = new Map()
    return m
  }

  /** Called once the message's row is encoded; empties `keys`. */
  remember(keys: ReportedKey[]): void {
    for (const k of keys) {
      if (this.entries >= MAX_ENTRIES) this.forget()
      const p = this.project(k[1])
      if (k[0] === REPORTED_EVENT) {
        const e = p.events.get(k[2])
        if (e === undefined) { p.events.set(k[2], { hour: k[3], links: new Set() }); this.entries++ } else if (k[3] > e.hour) e.hour = k[3]
      } else if (k[0] === REPORTED_PROPERTY) {
        const m = this.slotMap(p, k[2])
        const bits = m.get(k[3])
        if (bits === undefined) this.entries++
        m.set(k[3], (bits ?? 0) | k[4])
      } else {
        let e = p.events.get(k[2])
        // hour −1: the link is known, the event definition is not (yet)
        if (e === undefined) { p.events.set(k[2], (e = { hour: -1, links: new Set() })); this.entries++ }
        if (!e.links.has(k[3])) { e.links.add(k[3]); this.entries++ }
      }
    }
    keys.length = 0
  }

  /** Forgets everything reported (the memory bound; tests). */
  forget(): void {
    this.seen.clear()
    this.entries = 0
  }
}
