// Person intents on their way from a worker to the main thread (TaskHeader.intents).
//
// A worker writes each event's intent as soon as the event is processed, so
// no intent object outlives its event; the main thread reads a task's
// intents twice, in place: their keys for its cache fetch, then the whole
// intents at the batch's turn, into one reused object. msgpack records did
// the same job with an object per intent on each side (the main thread's
// scavenges follow what it allocates: with persons on it allocated 3.3 times
// as much per event, msgpackr's decoding first among it) and a second packed
// stream of keys for the fetch; packing was ~8 % of a worker's profile.
//
// One record per intent, little-endian:
//
//   u8 kind | u8 flags | f64 team | f64 timestampMs | f64 kafkaMs | u32 autoLo | u32 autoHi | String distinctId
//   then, each when its flag is set: String personId | String $set JSON | String $set_once JSON
//   | String newText, u32 newLo, u32 newHi | String autoText | String $unset JSON | String other
//
// Strings are RowBinary's (LEB128 byte length, UTF-8), written by RowWriter.
import type { PersonIntent, PersonIntentKind } from './protocol'
import { readLength, RowWriter } from './row-writer'

/**
 * An intent as the main thread reads it: the new person's properties as the
 * UTF-8 bytes they travelled as (copied into the person's RowBinary columns,
 * never decoded to a string and encoded again).
 */
export type ReadIntent = Omit<PersonIntent, 'newText'> & { newProperties: Uint8Array | null }

const HAS_PERSON_ID = 1
const HAS_SET = 2
const HAS_SET_ONCE = 4
const HAS_NEW = 8
const HAS_AUTO_TEXT = 16
const HAS_UNSET = 32
const HAS_OTHER = 64
const FORCE = 128

/** A task's intents, written in row order (one per `events` row). */
export class IntentWriter {
  private readonly w: RowWriter

  constructor(capacity = 64 << 10) {
    this.w = new RowWriter(capacity)
  }

  add(i: PersonIntent): void {
    const w = this.w
    const flags = (i.personId !== null ? HAS_PERSON_ID : 0) | (i.set !== null ? HAS_SET : 0) | (i.setOnce !== null ? HAS_SET_ONCE : 0) |
      (i.newText !== null ? HAS_NEW : 0) | (i.autoText !== null ? HAS_AUTO_TEXT : 0) | (i.unset !== null ? HAS_UNSET : 0) |
      (i.other !== null ? HAS_OTHER : 0) | (i.force ? FORCE : 0)
    w.uint8(i.kind)
    w.uint8(flags)
    w.float64(i.team)
    w.float64(i.timestampMs)
    w.float64(i.kafkaMs)
    w.uint32(i.autoLo)
    w.uint32(i.autoHi)
    w.string(i.distinctId)
    if (i.personId !== null) w.string(i.personId)
    // bounded by extract-person.ts (depth, 64 KiB of JSON) and parsed at the well-formed boundary: JSON.stringify is enough
    if (i.set !== null) w.string(JSON.stringify(i.set))
    if (i.setOnce !== null) w.string(JSON.stringify(i.setOnce))
    if (i.newText !== null) {
      w.string(i.newText)
      w.uint32(i.newLo)
      w.uint32(i.newHi)
    }
    if (i.autoText !== null) w.string(i.autoText)
    if (i.unset !== null) w.string(JSON.stringify(i.unset))
    if (i.other !== null) w.string(i.other)
  }

  /** Starts over in the same memory (a thread's writer, reused by every task: the task codec copied the last task's intents out). */
  reset(): this {
    this.w.pos = 0
    return this
  }

  /** Bytes of memory held (a writer grown by an unusually large task is replaced, not kept). */
  get capacity(): number {
    return this.w.buf.length
  }

  /** The intents written so far (a view of the writer's memory: the task codec copies it into the answer). */
  bytes(): Uint8Array {
    return this.w.bytes()
  }
}

type Utf8Readable = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string }

const EMPTY = Buffer.alloc(0) as Utf8Readable

/**
 * Reads a task's intents one at a time into itself: its fields are the
 * current intent's until the next call of next(). Hand it on as a
 * ReadIntent only for as long as the current one is used.
 */
export class IntentReader implements ReadIntent {
  team = 0
  distinctId = ''
  kind: PersonIntentKind = 0
  personId: string | null = null
  set: Record<string, unknown> | null = null
  setOnce: Record<string, unknown> | null = null
  autoLo = 0
  autoHi = 0
  newProperties: Uint8Array | null = null
  newLo = 0
  newHi = 0
  autoText: string | null = null
  unset: string[] | null = null
  other: string | null = null
  force = false
  timestampMs = 0
  kafkaMs = 0
  private readonly buf: Utf8Readable
  private pos = 0
  private end = 0

  constructor(bytes: Uint8Array | undefined) {
    this.buf = bytes === undefined || bytes.length === 0 ? EMPTY : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) as Utf8Readable
  }

  /**
   * The next intent, or false after the last. `keysOnly` (the cache fetch):
   * team, distinctId, personId and other are read, the rest is skipped
   * (left null: $set and the others are neither parsed nor decoded).
   */
  next(keysOnly = false): boolean {
    const b = this.buf
    if (this.pos >= b.length) return false
    this.kind = b[this.pos] as PersonIntentKind
    const flags = b[this.pos + 1]
    this.team = b.readDoubleLE(this.pos + 2)
    this.timestampMs = b.readDoubleLE(this.pos + 10)
    this.kafkaMs = b.readDoubleLE(this.pos + 18)
    this.autoLo = b.readUInt32LE(this.pos + 26)
    this.autoHi = b.readUInt32LE(this.pos + 30)
    this.pos += 34
    this.force = (flags & FORCE) !== 0
    this.distinctId = this.text()
    this.personId = (flags & HAS_PERSON_ID) !== 0 ? this.ascii() : null
    this.set = (flags & HAS_SET) !== 0 ? this.json(keysOnly) as Record<string, unknown> | null : null
    this.setOnce = (flags & HAS_SET_ONCE) !== 0 ? this.json(keysOnly) as Record<string, unknown> | null : null
    this.newProperties = null
    this.newLo = 0
    this.newHi = 0
    if ((flags & HAS_NEW) !== 0) {
      this.length()
      if (!keysOnly) this.newProperties = b.subarray(this.pos, this.end)
      this.newLo = b.readUInt32LE(this.end)
      this.newHi = b.readUInt32LE(this.end + 4)
      this.pos = this.end + 8
    }
    this.autoText = (flags & HAS_AUTO_TEXT) !== 0 && !keysOnly ? this.text() : this.skip((flags & HAS_AUTO_TEXT) !== 0)
    this.unset = (flags & HAS_UNSET) !== 0 ? this.json(keysOnly) as string[] | null : null
    this.other = (flags & HAS_OTHER) !== 0 ? this.text() : null
    return true
  }

  /** A plain copy of the current intent (tests, benches). */
  copy(): ReadIntent {
    const { team, distinctId, kind, personId, set, setOnce, autoLo, autoHi, newProperties, newLo, newHi, autoText, unset, other, force, timestampMs, kafkaMs } = this
    return { team, distinctId, kind, personId, set, setOnce, autoLo, autoHi, newProperties, newLo, newHi, autoText, unset, other, force, timestampMs, kafkaMs }
  }

  /** Reads a String's length: its bytes are [pos, end). */
  private length(): void {
    const [len, first] = readLength(this.buf, this.pos)
    this.pos = first
    this.end = first + len
  }

  private text(): string {
    this.length()
    const s = this.buf.utf8Slice(this.pos, this.end)
    this.pos = this.end
    return s
  }

  /** person ids: 36 ASCII characters */
  private ascii(): string {
    this.length()
    const s = this.buf.latin1Slice(this.pos, this.end)
    this.pos = this.end
    return s
  }

  private json(skip: boolean): Record<string, unknown> | string[] | null {
    if (skip) return this.skip(true)
    return JSON.parse(this.text()) as Record<string, unknown> | string[]
  }

  private skip(present: boolean): null {
    if (present) {
      this.length()
      this.pos = this.end
    }
    return null
  }
}

/** A task's intents as plain objects, in row order (tests, benches; the main thread reads them in place). */
export function readIntents(bytes: Uint8Array | undefined): ReadIntent[] {
  const r = new IntentReader(bytes)
  const all: ReadIntent[] = []
  while (r.next()) all.push(r.copy())
  return all
}
