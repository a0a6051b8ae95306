// The owner of person state on the main thread (DESIGN §4b). Workers send one
// PersonIntent per stored event (workers/steps/extract-person.ts); this class
// applies them in Kafka order to a bounded cache of distinct_id mappings and
// persons (workers/recent-map.ts, at most SLUICE_PERSON_CACHE_SIZE entries each; loaded from
// ClickHouse on a miss, one query per table per batch, written through as
// rows of the batch), appends each event's person columns to its row, and
// returns the person, mapping and override rows, which go into the same
// contribution as the events: offsets commit only after they are acknowledged.
//
// Order: batches are processed concurrently, so a batch takes its turn when
// it is consumed (turn()) and applies its intents only after every earlier
// batch applied theirs. Versions are max(previous + 1, the message's Kafka
// timestamp): a replayed batch starts from the same stored state and writes
// the same versions, and a later change anywhere writes a higher one.
//
// Other instances: a merge moves a distinct_id another partition (another
// instance) may own. Every instance reads new override rows back every
// SLUICE_PERSON_OVERRIDES_POLL_MS and corrects its cache; events written in
// between carry the old person id and are resolved through the overrides
// table at query time (README "Persons").
import type { Logger } from 'pino'
import { formatDateTime } from '../../../workers/clickhouse-types'
import { personIdOf } from '../../../workers/persons/uuidv5'
import {
  PERSON_MERGE_DANGEROUSLY, PERSON_PERSONLESS,
  type DateTimeFlavor, type TaskOutput, type WarningRecord,
} from '../../../workers/protocol'
import { IntentReader, type ReadIntent } from '../../../workers/intent-codec'
import { RecentMap } from '../../../workers/recent-map'
import { readLength, RowWriter } from '../../../workers/row-writer'
import { jsonText } from '../../../workers/well-formed'
import { automaticMask, automaticValues, expandAutomatic } from '../../../workers/persons/rules'
import type { TableRows } from './batcher'
import { quoteDateTime, quoteInteger, quoteString } from '../format/escape'
import { applyIntent, decideMerge, mergeProperties, type Properties } from '../../../workers/persons/properties'
import { backoffMs } from '../transport/retry'
import { eventRowProperties, type InsertFormat } from '../format/row-format'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'
import { mappingColumns, personColumns } from '../format/person-schema'
import type { BufferPool } from '../../dispatch/buffer-pool'

export interface PersonStoreOptions {
  /** entries in each cache (mappings, persons) */
  cacheSize: number
  /** how often new override rows are read back; 0: never (tests) */
  overridesPollMs: number
  /**
   * A person with several distinct_ids may be written by the owners of
   * several partitions: its cached copy is read again once older than this,
   * when this process has not changed it for as long (its own changes are
   * acknowledged by then). Default 5 s.
   */
  sharedTtlMs?: number
}

interface Mapping {
  personId: string
  /** version of its person_distinct_id2 row; −1: none stored (the deterministic id, no person yet) */
  version: number
}

export interface PersonState {
  id: string
  team: number
  /**
   * the properties as an object while they are being changed; between
   * batches only their encoded form is kept (`text` or `columns`) and parsed
   * again when a later event changes them: an object per cached person was
   * most of the main thread's heap, and the garbage collector's threads spent
   * 12 µs per event marking it (bench, persons on vs off, per-thread CPU)
   */
  properties: Properties | undefined
  /** properties as JSON text; undefined until needed after a change (RowBinary: read back from `columns`) */
  text: string | undefined
  /**
   * RowBinary: the person columns of its events (id, properties, created_at)
   * as bytes, encoded once per change and copied into each event's row, not
   * encoded per event; undefined until needed after a change
   */
  columns: Buffer | undefined
  isIdentified: boolean
  createdAtMs: number
  version: number
  deleted: boolean
  /** distinct_ids this process assigned to it (a merge also asks ClickHouse); undefined until one is (an array: most persons have one) */
  distinctIds: string[] | undefined
  /** which automatic keys (and their $initial_*) it holds: rules.ts automaticMask */
  autoLo: number
  autoHi: number
  /** Date.now() when read from ClickHouse, and when this process last changed it */
  loadedAt: number
  changedAt: number
}

/** Where an event's row is, for reading its automatic properties back when they matter (one object reused per batch). */
interface RowRef { events: Uint8Array; start: number; end: number; format: InsertFormat }

interface Loaded {
  mappings: Map<string, Mapping>
  persons: Map<string, PersonState>
  /** cached persons due to be read again whose stored version is the cached one: only their loadedAt moves */
  current: string[]
}

/** A batch's place in the order persons are applied in. */
export interface PersonTurn { readonly previous: Promise<void>; release(): void }

/** One task's answer: its rows and intents. */
export type PersonPart = Pick<TaskOutput, 'events' | 'header'>

export interface AppliedPersons {
  /** the parts' `events` rows with the person columns appended, in part order, in one piece (no concatenation after) */
  rows: Uint8Array
  /** the memory `rows` is a view of: back to the pool once the rows are acknowledged */
  memory: ArrayBuffer
  tables: TableRows[]
  warnings: WarningRecord[]
}

/** Encodes a person's columns before they are copied out at their size (a fresh writer per changed person showed in profiles). */
const columnsScratch = new RowWriter(64 * 1024)

/** UTF-8 bytes as text (chDB's JSONEachRow rows need the new person's properties as a string). */
const utf8Text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')

const keyOfText = (team: number, distinctId: string) => `${team}\u0000${distinctId}`

/**
 * The cache key of a distinct_id, remembered for the last one asked: an
 * event asks for its own several times, and each new concatenation is a new
 * string to flatten and hash on every Map lookup (0.47 µs against 0.11 for a
 * key built once, in a micro-benchmark of 10^5 keys), which made the cache reads the
 * main thread's largest person cost after the garbage collector.
 */
let lastTeam = -1
let lastId = ''
let lastKey = ''
function keyOf(team: number, distinctId: string): string {
  if (team !== lastTeam || distinctId !== lastId) {
    lastTeam = team
    lastId = distinctId
    lastKey = keyOfText(team, distinctId)
  }
  return lastKey
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A UUID literal; throws on anything else (only ids read from ClickHouse or computed here reach it). */
export function quoteUuid(id: string): string {
  if (!UUID.test(id)) throw new TypeError(`not a UUID: ${JSON.stringify(id)}`)
  return `toUUID(${quoteString(id)})`
}

/** ClickHouse `YYYY-MM-DD hh:mm:ss[.ffffff]` (UTC) → ms */
const msOf = (ch: string): number => Date.parse(ch.replace(' ', 'T') + 'Z')

/** The changes of one batch, written as rows at its end. */
class Changes {
  readonly persons = new Map<string, PersonState>()
  /** team, distinct_id, person id, version, whether the person is not the id's deterministic one (an override) */
  readonly mappings = new Map<string, [number, string, string, number, boolean]>()
  readonly warnings: WarningRecord[] = []
  person(p: PersonState): void {
    p.text = undefined
    p.columns = undefined
    p.changedAt = Date.now()
    const mask = automaticMask(p.properties!) // the store materializes them before any change
    p.autoLo = mask.lo
    p.autoHi = mask.hi
    this.persons.set(p.id, p)
  }
  mapping(team: number, distinctId: string, m: Mapping, override: boolean): void { this.mappings.set(keyOf(team, distinctId), [team, distinctId, m.personId, m.version, override]) }
}

function addDistinctId(p: PersonState, id: string): void {
  if (p.distinctIds === undefined) p.distinctIds = [id]
  else if (!p.distinctIds.includes(id)) p.distinctIds.push(id)
}

export class PersonStore {
  private readonly mappings: RecentMap<string, Mapping>
  private readonly persons: RecentMap<string, PersonState>
  private tail: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private pollSince = 0
  private readonly flavor: DateTimeFlavor
  /** overrides this process wrote or has read back (key → version): reading them (again) changes nothing */
  private readonly knownOverrides = new RecentMap<string, number>(100_000)

  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema, private readonly o: PersonStoreOptions, private readonly log: Logger) {
    this.mappings = new RecentMap(o.cacheSize)
    this.persons = new RecentMap(o.cacheSize)
    this.flavor = schema.dateTime
  }

  start(): void {
    if (this.o.overridesPollMs <= 0) return
    this.pollSince = Date.now() - 60_000
    const tick = () => {
      this.timer = setTimeout(() => { this.pollOverrides().catch((err: Error) => this.log.warn({ err: err.message }, 'could not read person overrides; retrying')).finally(tick) }, this.o.overridesPollMs)
      this.timer.unref()
    }
    tick()
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Called in consumption order (synchronously when a batch arrives); release() is called once, whatever happens. */
  turn(): PersonTurn {
    const previous = this.tail
    let release!: () => void
    this.tail = new Promise<void>((r) => { release = r })
    return { previous, release }
  }

  /** Applies the parts' intents after every earlier turn, appends person columns to their rows, returns the person rows. */
  async apply(turn: PersonTurn, parts: readonly PersonPart[], format: InsertFormat, nowMs: number, buffers?: BufferPool<ArrayBuffer>): Promise<AppliedPersons> {
    // read what the cache lacks while earlier batches apply theirs: the turns wait for each other, not for ClickHouse
    const turnovers = this.turnovers()
    const fetched = this.fetch(parts, true)
    await turn.previous
    try {
      this.install(await fetched)
      return await this.applyInOrder(parts, format, nowMs, turnovers, buffers)
    } finally {
      turn.release()
    }
  }

  /** The caches' generation turnovers so far: entries looked up before a turnover may be gone. */
  private turnovers(): number {
    return this.mappings.turnovers + this.persons.turnovers
  }

  private async applyInOrder(parts: readonly PersonPart[], format: InsertFormat, nowMs: number, turnoversAtFetch: number, buffers: BufferPool<ArrayBuffer> | undefined): Promise<AppliedPersons> {
    // what was dropped since the fetch (earlier batches' entries, or this one's own installing, turned a generation over): read again, now in turn
    for (let seen = turnoversAtFetch, i = 0; i < 3 && this.turnovers() !== seen; i++) {
      seen = this.turnovers()
      this.install(await this.fetch(parts, false))
    }
    const changes = new Changes()
    // one writer for the whole batch, in reused memory (engine/dispatch/buffer-pool.ts): its rows go to the insert in one piece
    let size = 0
    for (const part of parts) size += part.events.length + (part.header.rowEnds?.length ?? 0) * 1024
    const out = new RowWriter(size, buffers?.take(size))
    const row: RowRef = { events: out.buf, start: 0, end: 0, format }
    for (const part of parts) {
      // read in place: one object for the part's intents, its fields the current one's
      const intent = new IntentReader(part.header.intents)
      const ends = part.header.rowEnds ?? []
      let start = 0
      for (let i = 0; intent.next(); i++) {
        let person: PersonState | undefined
        try {
          // no promise per event: only merges may wait for ClickHouse
          row.events = part.events
          row.start = start
          row.end = ends[i]
          person = intent.other === null ? this.applyOne(intent, undefined, changes, row) : this.applyOne(intent, await this.merge(intent, intent.other, changes), changes, row)
          if (person !== undefined && intent.kind !== PERSON_PERSONLESS) { if (format.kind === 'RowBinary') this.columnsOf(person); else this.textOf(person) }
        } catch (err) {
          // never a stalled partition: the event is stored as a personless one (workers bound what reaches here)
          this.log.error({ err: (err as Error).message, team: intent.team }, 'person processing failed for an event; stored without its person properties')
          person = undefined
        }
        const end = ends[i]
        if (format.kind === 'RowBinary') {
          out.append(part.events, start, end)
          this.binaryColumns(out, intent, person)
        } else {
          out.append(part.events, start, end - 2) // without `}\n`
          out.utf8(this.jsonColumns(intent, person))
        }
        start = end
      }
    }
    const tables = format.kind === 'RowBinary' ? this.binaryRows(changes, nowMs) : this.rows(changes, nowMs)
    // encoded now (the rows above): keep the bytes, let the objects go
    for (const p of changes.persons.values()) if (p.columns !== undefined || p.text !== undefined) p.properties = undefined
    return { rows: out.bytes(), memory: out.memory, tables, warnings: changes.warnings }
  }

  private binaryColumns(out: RowWriter, intent: ReadIntent, person: PersonState | undefined): void {
    if (person !== undefined && intent.kind !== PERSON_PERSONLESS) {
      const columns = this.columnsOf(person)
      out.append(columns)
      return
    }
    out.uuid(person?.id ?? this.mappingOf(intent.team, intent.distinctId, intent.personId).personId)
    out.string('{}')
    this.createdAt(out, person?.createdAtMs ?? 0)
  }

  private createdAt(out: RowWriter, ms: number): void {
    if (this.flavor === 'DateTime64') out.int64(Math.round(ms) * 1000)
    else out.uint32(Math.floor(ms / 1000))
  }

  /** The person's RowBinary columns, encoded once per change. */
  private columnsOf(p: PersonState): Buffer {
    if (p.columns !== undefined) return p.columns
    p.columns = this.encodeColumns(p, this.textOf(p))
    p.text = undefined // one copy kept: textOf reads it back from the bytes
    return p.columns
  }

  /** id, properties (text, or a worker's UTF-8 bytes of it), created_at: at their size, off the scratch writer. */
  private encodeColumns(p: PersonState, properties: string | Uint8Array): Buffer {
    const w = columnsScratch
    w.pos = 0
    w.uuid(p.id)
    if (typeof properties === 'string') w.string(properties)
    else w.stringBytes(properties)
    this.createdAt(w, p.createdAtMs)
    return Buffer.from(w.bytes())
  }

  private jsonColumns(intent: ReadIntent, person: PersonState | undefined): string {
    const personless = person === undefined || intent.kind === PERSON_PERSONLESS
    const id = person?.id ?? this.mappingOf(intent.team, intent.distinctId, intent.personId).personId
    return ',"person_id":"' + id + '","person_properties":' + JSON.stringify(personless ? '{}' : this.textOf(person)) +
      ',"person_created_at":"' + formatDateTime(person?.createdAtMs ?? 0, this.flavor) + '"}\n'
  }

  /** Where the properties String (its length prefix included) ends in `columns`: it starts after the 16 uuid bytes. */
  private propertiesEnd(columns: Buffer): { text: number; end: number } {
    const [len, text] = readLength(columns, 16)
    return { text, end: text + len }
  }

  /** The properties as an object, parsed again from their encoded form when they were let go after the last batch. */
  private propertiesOf(p: PersonState): Properties {
    if (p.properties === undefined) p.properties = JSON.parse(this.textOf(p)) as Properties
    return p.properties
  }

  private textOf(p: PersonState): string {
    if (p.text !== undefined) return p.text
    if (p.columns !== undefined) {
      // RowBinary keeps one copy: the text is read back from the bytes
      const at = this.propertiesEnd(p.columns)
      return p.columns.toString('utf8', at.text, at.end)
    }
    // properties come from events parsed at the well-formed boundary (workers/parse.ts) or from our own rows: JSON.stringify is enough
    p.text = JSON.stringify(p.properties!) // one of properties, text and columns is always there
    return p.text
  }

  /** The cached mapping (loaded before); an id never seen maps to its deterministic person, not stored yet. */
  private mappingOf(team: number, distinctId: string, deterministic?: string | null): Mapping {
    const k = keyOf(team, distinctId)
    let m = this.mappings.get(k)
    if (m === undefined) {
      m = { personId: deterministic ?? personIdOf(team, distinctId), version: -1 }
      this.mappings.set(k, m)
    }
    return m
  }

  private personOf(team: number, distinctId: string, deterministic?: string | null): PersonState | undefined {
    const m = this.mappingOf(team, distinctId, deterministic)
    if (m.version < 0) return undefined
    const p = this.persons.get(m.personId)
    return p === undefined || p.deleted ? undefined : p
  }

  private version(previous: number, intent: ReadIntent): number {
    return Math.max(previous + 1, Math.floor(intent.kafkaMs))
  }

  /** Points a distinct_id at a person: a new mapping version, and an override when it is not the id's deterministic person. */
  private assign(team: number, distinctId: string, person: PersonState, intent: ReadIntent, changes: Changes): void {
    const deterministic = distinctId === intent.distinctId && intent.personId !== null ? intent.personId : personIdOf(team, distinctId)
    const m = this.mappingOf(team, distinctId, deterministic)
    if (m.version >= 0 && m.personId === person.id) return
    const next: Mapping = { personId: person.id, version: this.version(m.version, intent) }
    this.mappings.set(keyOf(team, distinctId), next)
    addDistinctId(person, distinctId)
    changes.mapping(team, distinctId, next, person.id !== deterministic)
  }

  private create(intent: ReadIntent, id: string, changes: Changes): PersonState {
    const p: PersonState = {
      id, team: intent.team, properties: {}, text: undefined, columns: undefined, isIdentified: false, createdAtMs: intent.timestampMs,
      version: this.version(-1, intent), deleted: false, distinctIds: undefined, autoLo: 0, autoHi: 0, loadedAt: 0, changedAt: 0,
    }
    this.persons.set(id, p)
    changes.person(p)
    return p
  }

  /** One event, after its merge (`merged`: the person the merge left this id with): its properties. */
  private applyOne(intent: ReadIntent, merged: PersonState | undefined, changes: Changes, row: RowRef): PersonState | undefined {
    const team = intent.team
    if (intent.kind === PERSON_PERSONLESS) return this.personOf(team, intent.distinctId, intent.personId)
    let person = merged ?? this.personOf(team, intent.distinctId, intent.personId)
    if (person === undefined) {
      person = this.create(intent, this.mappingOf(team, intent.distinctId, intent.personId).personId, changes)
      this.assign(team, intent.distinctId, person, intent, changes)
      const computed = intent.newProperties
      if (computed !== null && merged === undefined) {
        // new, as the worker guessed: its properties are the ones the worker computed by the same rule (workers/steps/extract-person.ts)
        if (computed.length !== 2) { // not `{}`, the only two-byte object
          person.properties = undefined
          if (row.format.kind === 'RowBinary') person.columns = this.encodeColumns(person, computed)
          else person.text = utf8Text(computed)
          person.autoLo = intent.newLo
          person.autoHi = intent.newHi
          person.version = this.version(person.version, intent)
        }
        return person
      }
    }
    let set = intent.set
    let setOnce = intent.setOnce
    // the automatic keys matter when the person lacks one of them, or when something else is written with them
    if ((intent.autoLo !== 0 || intent.autoHi !== 0) && ((intent.autoLo & ~person.autoLo) !== 0 || (intent.autoHi & ~person.autoHi) !== 0 ||
        intent.force || set !== null || setOnce !== null || intent.unset !== null)) {
      const values = intent.autoText !== null
        ? JSON.parse(intent.autoText) as Properties
        : automaticValues(JSON.parse(eventRowProperties(row.events, row.start, row.end, row.format)) as Properties)?.values
      if (values !== undefined) {
        const expanded = expandAutomatic(values)
        // the event's own values win over the automatic ones
        set = set === null ? expanded.set : { ...expanded.set, ...set }
        setOnce = setOnce === null ? expanded.setOnce : { ...expanded.setOnce, ...setOnce }
      }
    }
    if (set === null && setOnce === null && intent.unset === null) return person
    const next = applyIntent(this.propertiesOf(person), { set, setOnce, unset: intent.unset, force: intent.force })
    if (next !== undefined) {
      person.properties = next
      person.version = this.version(person.version, intent)
      changes.person(person)
    }
    return person
  }

  private identify(person: PersonState, intent: ReadIntent, changes: Changes): void {
    if (person.isIdentified) return
    this.propertiesOf(person) // a change re-encodes them
    person.isIdentified = true
    person.version = this.version(person.version, intent)
    changes.person(person)
  }

  /** `$identify`, `$create_alias`, `$merge_dangerously`: the other id (and its person) joins this event's person. */
  private async merge(intent: ReadIntent, other: string, changes: Changes): Promise<PersonState | undefined> {
    const team = intent.team
    const mine = this.personOf(team, intent.distinctId)
    const theirs = this.personOf(team, other)
    const decision = decideMerge(mine, theirs, intent.kind === PERSON_MERGE_DANGEROUSLY)
    switch (decision.kind) {
      case 'same':
        this.identify(mine!, intent, changes)
        return mine
      case 'refuse_identified':
        changes.warnings.push([team, 'cannot_merge_already_identified', jsonText({ distinct_id: intent.distinctId, other_distinct_id: other, person_id: mine!.id, other_person_id: theirs!.id }), 'identified'])
        return mine
      case 'adopt_other':
        this.assign(team, intent.distinctId, theirs!, intent, changes)
        this.identify(theirs!, intent, changes)
        return theirs
      case 'adopt_this':
        this.assign(team, other, mine!, intent, changes)
        this.identify(mine!, intent, changes)
        return mine
      case 'create': {
        // the anonymous id's person: its earlier events (on any instance) already carry that id
        const p = this.create(intent, this.mappingOf(team, other).personId, changes)
        this.assign(team, other, p, intent, changes)
        this.assign(team, intent.distinctId, p, intent, changes)
        this.identify(p, intent, changes)
        return p
      }
      case 'merge': {
        const into = mine!
        const absorbed = theirs!
        for (const id of await this.distinctIdsOf(absorbed)) this.assign(team, id, into, intent, changes)
        into.properties = mergeProperties(this.propertiesOf(into), into.createdAtMs, this.propertiesOf(absorbed), absorbed.createdAtMs)
        into.createdAtMs = Math.min(into.createdAtMs, absorbed.createdAtMs)
        into.isIdentified = true
        into.version = this.version(into.version, intent)
        changes.person(into)
        this.propertiesOf(absorbed)
        absorbed.deleted = true
        absorbed.version = this.version(absorbed.version, intent)
        changes.person(absorbed)
        return into
      }
    }
  }

  /** Every distinct_id of a person: the ones this process assigned, and the ones ClickHouse holds (cached first, with their versions). */
  private async distinctIdsOf(p: PersonState): Promise<string[]> {
    // Created by this process and not read back since (loadedAt 0): every distinct_id it has was assigned here, except one
    // another instance merged in lately, which the overrides poll reports (and drops it from the cache, so it is read
    // again) and the shared-person refresh reads back after sharedTtlMs. Asking ClickHouse would not close that window
    // either (the other instance's rows arrive with its next insert); it was one query per merge: a third of the
    // bench's SELECTs, and analysing a SELECT was ~7 % of ClickHouse's CPU (perf, persons on).
    if (p.loadedAt === 0) return this.ownDistinctIds(p)
    // candidates first (a scan of two columns of the environment's rows), then their newest mapping by key: no GROUP BY over the whole environment
    const team = quoteInteger(p.team)
    const t = this.schema.persons.distinctIds
    const rows = await this.retrying(() => this.store.query<{ distinct_id: string; v: string | number }>(
      `SELECT distinct_id, max(version) AS v FROM ${t} WHERE team_id = ${team}
         AND distinct_id IN (SELECT distinct_id FROM ${t} WHERE team_id = ${team} AND person_id = ${quoteUuid(p.id)})
       GROUP BY distinct_id HAVING argMax(person_id, version) = ${quoteUuid(p.id)}`))
    for (const r of rows) {
      const k = keyOf(p.team, r.distinct_id)
      if (!this.mappings.has(k)) this.mappings.set(k, { personId: p.id, version: Number(r.v) })
      addDistinctId(p, r.distinct_id)
    }
    return this.ownDistinctIds(p)
  }

  /** The person's distinct_ids as this process knows them: one it moved elsewhere since is not the person's any more. */
  private ownDistinctIds(p: PersonState): string[] {
    return (p.distinctIds ?? []).filter((id) => this.mappingOf(p.team, id).personId === p.id)
  }

  /**
   * Reads the mappings and persons the parts need and the cache lacks (and,
   * with `refresh`, shared persons due to be read again): one query per table
   * per 1,000 ids. Leaves the cache alone: install() merges the result.
   */
  private async fetch(parts: readonly PersonPart[], refresh: boolean): Promise<Loaded> {
    const loaded: Loaded = { mappings: new Map(), persons: new Map(), current: [] }
    const missing = new Map<string, [number, string, string | null]>()
    const reread = new Map<string, number>()
    /** cached, shared and due: read again only if another instance wrote a newer version */
    const due = new Map<string, PersonState>()
    const now = Date.now()
    const ttl = this.o.sharedTtlMs ?? 5_000
    const need = (team: number, id: string, deterministic: string | null) => {
      const k = keyOf(team, id)
      const m = this.mappings.peek(k)
      if (m === undefined) return missing.set(k, [team, id, deterministic])
      if (m.version < 0) return
      const p = this.persons.peek(m.personId)
      if (p === undefined) return reread.set(m.personId, team)
      // shared with another partition's owner, and settled here: read it again
      if (refresh && (p.isIdentified || (p.distinctIds?.length ?? 0) > 1) && now - p.loadedAt > ttl && now - p.changedAt > ttl) due.set(m.personId, p)
    }
    for (const part of parts) {
      const intent = new IntentReader(part.header.intents)
      while (intent.next(true)) {
        need(intent.team, intent.distinctId, intent.personId)
        if (intent.other !== null) need(intent.team, intent.other, null)
      }
    }
    if (missing.size === 0 && reread.size === 0 && due.size === 0) return loaded
    const list = [...missing.values()]
    for (let i = 0; i < list.length; i += 1000) {
      const slice = list.slice(i, i + 1000)
      // `team_id IN … AND distinct_id IN …` walks the primary key (a tuple IN did not); the pairs are matched here
      const teams = [...new Set(slice.map(([team]) => team))].map(quoteInteger).join(', ')
      const ids = [...new Set(slice.map(([, id]) => id))].map(quoteString).join(', ')
      const rows = await this.retrying(() => this.store.query<{ team_id: string | number; distinct_id: string; pid: string; v: string | number }>(
        `SELECT team_id, distinct_id, toString(argMax(person_id, version)) AS pid, max(version) AS v
         FROM ${this.schema.persons.distinctIds} WHERE team_id IN (${teams}) AND distinct_id IN (${ids}) GROUP BY team_id, distinct_id`))
      for (const r of rows) {
        const team = Number(r.team_id)
        const k = keyOf(team, r.distinct_id)
        if (!missing.has(k)) continue // another environment's id of the same text
        loaded.mappings.set(k, { personId: r.pid, version: Number(r.v) })
        if (!this.persons.has(r.pid)) reread.set(r.pid, team)
      }
      // never seen: the deterministic person, not stored yet
      for (const [team, id, deterministic] of slice) {
        const k = keyOf(team, id)
        if (!loaded.mappings.has(k)) loaded.mappings.set(k, { personId: deterministic ?? personIdOf(team, id), version: -1 })
      }
    }
    const dueIds = [...due.values()].filter((p) => !reread.has(p.id))
    for (let i = 0; i < dueIds.length; i += 1000) await this.checkVersions(dueIds.slice(i, i + 1000), reread, loaded.current)
    const ids = [...reread]
    for (let i = 0; i < ids.length; i += 1000) await this.loadPersons(ids.slice(i, i + 1000), loaded.persons)
    return loaded
  }

  /**
   * Which due persons another instance changed: their stored version only
   * (two narrow columns), the whole row only where it is newer. Reading every
   * due person's properties again was the bench's largest person SELECT (6,700
   * rows with their properties per query, to learn that nothing had changed).
   */
  private async checkVersions(persons: PersonState[], reread: Map<string, number>, current: string[]): Promise<void> {
    const teams = [...new Set(persons.map((p) => p.team))].map(quoteInteger).join(', ')
    const rows = await this.retrying(() => this.store.query<{ pid: string; v: string | number }>(
      `SELECT toString(id) AS pid, max(version) AS v FROM ${this.schema.persons.person}
       WHERE team_id IN (${teams}) AND id IN (${persons.map((p) => quoteUuid(p.id)).join(', ')}) GROUP BY id`))
    const stored = new Map(rows.map((r) => [r.pid, Number(r.v)]))
    for (const p of persons) {
      const v = stored.get(p.id)
      // newer elsewhere: read it; not stored yet or older (this process's changes are on their way): keep the cached one
      if (v !== undefined && v > p.version) reread.set(p.id, p.team)
      else current.push(p.id)
    }
  }

  /** Takes what was read where it is newer than the cache (a higher version): this process's own unacknowledged changes stay. */
  private install(loaded: Loaded): void {
    for (const [k, m] of loaded.mappings) {
      const cur = this.mappings.peek(k)
      if (cur === undefined || cur.version < m.version) this.mappings.set(k, m)
    }
    for (const [id, p] of loaded.persons) {
      const cur = this.persons.peek(id)
      if (cur === undefined || cur.version < p.version) this.persons.set(id, p)
      else cur.loadedAt = p.loadedAt
    }
    const now = Date.now()
    for (const id of loaded.current) {
      const cur = this.persons.peek(id)
      if (cur !== undefined) cur.loadedAt = now
    }
  }

  private async loadPersons(ids: [string, number][], into: Map<string, PersonState>): Promise<void> {
    const teams = [...new Set(ids.map(([, team]) => team))].map(quoteInteger).join(', ')
    const rows = await this.retrying(() => this.store.query<{ pid: string; team: string | number; props: string; identified: number; created: string; v: string | number; deleted: number }>(
      `SELECT toString(id) AS pid, any(team_id) AS team, argMax(properties, version) AS props, argMax(is_identified, version) AS identified,
         toString(argMax(created_at, version)) AS created, max(version) AS v, argMax(is_deleted, version) AS deleted
       FROM ${this.schema.persons.person} WHERE team_id IN (${teams}) AND id IN (${ids.map(([id]) => quoteUuid(id)).join(', ')}) GROUP BY id`))
    for (const r of rows) {
      let properties: Properties = {}
      let text = r.props
      try { properties = JSON.parse(r.props) as Properties } catch { text = '{}' }
      const mask = automaticMask(properties)
      // kept as text (parsed again only if an event changes it)
      into.set(r.pid, {
        id: r.pid, team: Number(r.team), properties: undefined, text, columns: undefined, isIdentified: Number(r.identified) === 1,
        createdAtMs: msOf(r.created), version: Number(r.v), deleted: Number(r.deleted) === 1, distinctIds: undefined,
        autoLo: mask.lo, autoHi: mask.hi, loadedAt: Date.now(), changedAt: 0,
      })
    }
  }

  /** The batch's person, mapping and override rows as RowBinary (a ClickHouse server): no JSON for the server to parse. */
  private binaryRows(changes: Changes, nowMs: number): TableRows[] {
    const tables: TableRows[] = []
    const time = (w: RowWriter, ms: number) => { if (this.flavor === 'DateTime64') w.int64(Math.round(ms) * 1000); else w.uint32(Math.floor(ms / 1000)) }
    if (changes.persons.size > 0) {
      // at their exact size (a guess of 512 bytes a row grew the writer, a copy each time, for the bench's ~650-byte rows)
      let bytes = 0
      for (const p of changes.persons.values()) {
        try { bytes += this.columnsOf(p).length + 8 + 1 + 8 + 8 + 1 + 8 } catch { /* logged when its event was processed */ }
      }
      const w = new RowWriter(bytes)
      let rows = 0
      for (const p of changes.persons.values()) {
        let columns: Buffer
        try { columns = this.columnsOf(p) } catch { continue } // logged when its event was processed
        w.uuid(p.id)
        w.int64(p.team)
        // the properties String as its events carry it: copied, not decoded and encoded again
        w.append(columns, 16, this.propertiesEnd(columns).end)
        w.uint8(p.isIdentified ? 1 : 0)
        time(w, p.createdAtMs)
        w.int64(p.version)
        w.uint8(p.deleted ? 1 : 0)
        time(w, nowMs)
        rows++
      }
      if (rows > 0) tables.push({ table: this.schema.persons.person, chunk: w.bytes(), rows, format: { kind: 'RowBinary', columns: personColumns(this.flavor) } })
    }
    if (changes.mappings.size > 0) {
      const all = new RowWriter(changes.mappings.size * 80)
      const overrides = new RowWriter(256)
      let overrideRows = 0
      const format: InsertFormat = { kind: 'RowBinary', columns: mappingColumns(this.flavor) }
      for (const [team, distinctId, personId, version, override] of changes.mappings.values()) {
        for (const w of override ? [all, overrides] : [all]) {
          w.int64(team)
          w.string(distinctId)
          w.uuid(personId)
          w.uint8(0)
          w.int64(version)
          time(w, nowMs)
        }
        if (override) {
          overrideRows++
          this.knownOverrides.set(keyOf(team, distinctId), version)
        }
      }
      tables.push({ table: this.schema.persons.distinctIds, chunk: all.bytes(), rows: changes.mappings.size, format })
      if (overrideRows > 0) tables.push({ table: this.schema.persons.overrides, chunk: overrides.bytes(), rows: overrideRows, format })
    }
    return tables
  }

  /** The same rows as JSONEachRow (chDB takes text formats only). */
  private rows(changes: Changes, nowMs: number): TableRows[] {
    const now = formatDateTime(nowMs, this.flavor)
    const tables: TableRows[] = []
    if (changes.persons.size > 0) {
      let text = ''
      let rows = 0
      for (const p of changes.persons.values()) {
        let properties: string
        try { properties = this.textOf(p) } catch { continue } // logged when its event was processed
        text += '{"id":"' + p.id + '","team_id":' + p.team + ',"properties":' + JSON.stringify(properties) +
          ',"is_identified":' + (p.isIdentified ? 1 : 0) + ',"created_at":"' + formatDateTime(p.createdAtMs, this.flavor) +
          '","version":' + p.version + ',"is_deleted":' + (p.deleted ? 1 : 0) + ',"_timestamp":"' + now + '"}\n'
        rows++
      }
      if (rows > 0) tables.push({ table: this.schema.persons.person, chunk: Buffer.from(text), rows })
    }
    if (changes.mappings.size > 0) {
      let text = ''
      let overrides = ''
      let overrideRows = 0
      for (const [team, distinctId, personId, version, override] of changes.mappings.values()) {
        // distinct_ids come from events parsed at the well-formed boundary (workers/parse.ts): JSON.stringify is enough
        const row = '{"team_id":' + team + ',"distinct_id":' + JSON.stringify(distinctId) + ',"person_id":"' + personId + '","is_deleted":0,"version":' + version + ',"_timestamp":"' + now + '"}\n'
        text += row
        if (override) {
          overrides += row
          overrideRows++
          this.knownOverrides.set(keyOf(team, distinctId), version)
        }
      }
      tables.push({ table: this.schema.persons.distinctIds, chunk: Buffer.from(text), rows: changes.mappings.size })
      if (overrideRows > 0) tables.push({ table: this.schema.persons.overrides, chunk: Buffer.from(overrides), rows: overrideRows })
    }
    return tables
  }

  /** Reads override rows written since the last poll (by any instance) and corrects the cache where it disagrees. */
  async pollOverrides(): Promise<number> {
    const since = this.pollSince
    const started = Date.now()
    const rows = await this.store.query<{ team_id: string | number; distinct_id: string; pid: string; v: string | number }>(
      `SELECT team_id, distinct_id, toString(argMax(person_id, version)) AS pid, max(version) AS v FROM ${this.schema.persons.overrides}
       WHERE _timestamp >= ${quoteDateTime(formatDateTime(since - 5_000, this.flavor), this.flavor)} GROUP BY team_id, distinct_id`)
    this.pollSince = started
    if (rows.length === 0) return 0
    const turn = this.turn()
    await turn.previous
    let corrected = 0
    try {
      for (const r of rows) {
        const k = keyOf(Number(r.team_id), r.distinct_id)
        const v = Number(r.v)
        if (this.knownOverrides.get(k) === v) continue
        this.knownOverrides.set(k, v)
        // another instance merged into this person: read it again when next needed
        if (this.persons.delete(r.pid)) corrected++
        const m = this.mappings.get(k)
        if (m === undefined || m.personId === r.pid || m.version > v) continue
        // the id moved: its old person (absorbed) too
        this.persons.delete(m.personId)
        this.mappings.set(k, { personId: r.pid, version: v })
        corrected++
      }
    } finally {
      turn.release()
    }
    return corrected
  }

  private async retrying<T>(f: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await f()
      } catch (err) {
        this.log.error({ err: (err as Error).message, attempt }, 'could not read persons from ClickHouse; retrying')
        await new Promise((r) => setTimeout(r, backoffMs(attempt)))
      }
    }
  }
}
