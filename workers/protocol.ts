// The shapes that cross the thread boundary between engine/dispatch and the
// workers (Piscina's common.ts). Bytes travel as transferred ArrayBuffers:
// the main thread hands a consumed batch over as one buffer (shared or
// transferred), the worker answers with one transferred buffer, so neither
// side clones per-message objects.
import { Packr } from 'msgpackr'
import type { DeadLetterReason, DropReason } from './result'
import { RowWriter } from './row-writer'

/** Values per message in TaskInput.meta */
export const META_STRIDE = 4
export const META_END = 0 // end of this message's value in `values` (start = previous end)
export const META_PARTITION = 1
export const META_OFFSET = 2
export const META_TIMESTAMP = 3 // Kafka message timestamp, ms

export interface TaskInput {
  /** message values, concatenated: a whole batch's shared memory, or a transferred copy of a subset (engine/dispatch/pack.ts) */
  values: ArrayBuffer | SharedArrayBuffer
  /** META_STRIDE float64 per message */
  meta: Float64Array
  topic: string
  /** the control state the worker resolves tokens with */
  snapshot: SnapshotRef
  /** processing time, ms since epoch (one clock reading per task) */
  nowMs: number
  /** set on the re-run after the task's group type claims were folded */
  claimsSettled: boolean
}

export interface SnapshotRef {
  version: number
  /** msgpack of ControlSnapshot, in shared memory: posting it to a worker copies nothing */
  buffer: SharedArrayBuffer
  length: number
}

export interface SnapshotEnvironment {
  id: number
  project_id: number
  /** [token, SDK key id]: every token accepted now (keys, and rotated tokens still in their grace period) */
  tokens: [string, number][]
  anonymize_ips: boolean
  /** 0: keep events of any age */
  drop_older_than_ms: number
}

export interface SnapshotProject {
  id: number
  drop_event_names: string[]
  redact_property_names: string[]
  group_types: [string, number][]
}

/** What workers need from the control state; built by engine/control/snapshot.ts */
export interface ControlSnapshot {
  version: number
  environments: SnapshotEnvironment[]
  projects: SnapshotProject[]
}

/** The main thread still holds the original messages: records name them by index, bytes are not sent back. */
export interface DeadLetterRecord {
  index: number
  reason: DeadLetterReason
  error: string
}

/** Header of a task's answer; the encoded rows follow it in the same buffer. */
export interface TaskHeader {
  snapshotVersion: number
  messages: number
  eventRows: number
  /** per `events` row, in row order: the index of the message it came from (dead letters of rejected rows name their source) */
  rowMessages: number[]
  /** distinct partitions (YYYYMM of `timestamp`) of the `events` rows: the batcher splits an insert by them when needed */
  partitions: number[]
  drops: Partial<Record<DropReason, number>>
  deadLetters: DeadLetterRecord[]
  /** [SDK key id, events rows] of this task (sluice_events_by_key_total): ids, never tokens */
  keyRows: [number, number][]
  /** indexes of messages whose token is not in the snapshot the task ran with */
  unresolved: number[]
  /** indexes of messages waiting for group type claims, and the claims */
  pendingClaims: { indexes: number[]; claims: [number, string][] }
  warnings: WarningRecord[]
  groupUpdates: GroupUpdate[]
  observations: Observations
  /** persons on (RowEncoding.persons): one intent per `events` row, in row order (workers/intent-codec.ts) */
  intents?: Uint8Array
  /** persons on: per `events` row, the end of its bytes in the rows; the main thread appends the person columns there */
  rowEnds?: number[]
  /** rows of `heatmaps` (issue 15 rule 2); absent when the task has none */
  heatmaps?: HeatmapRecord[]
  /**
   * Seconds the worker spent on the task (decode, pipeline, row encoding),
   * measured inside the thread with process.hrtime; set by the task entry
   * point, absent when processBatch is called directly. The main thread
   * observes it as sluice_worker_task_seconds (engine/metrics.ts says why
   * workers report figures instead of recording metrics).
   */
  workerSeconds?: number
  /** the worker's OS thread id (Linux), so the main thread can tell its CPU time apart (engine/status/thread-cpu.ts) */
  threadId?: number
}

/** [team_id, type, details JSON, rate-limit key] */
export type WarningRecord = [number, import('./result').WarningType, string, string]

/**
 * One row of `heatmaps`, PostHog's columns (workers/steps/extract-heatmaps.ts):
 * [team_id, session_id, distinct_id, timestamp ms, x, y, scale_factor,
 *  viewport_width, viewport_height, pointer_target_fixed, current_url, type]
 */
export type HeatmapRecord = [number, string, string, number, number, number, number, number, number, boolean, string, string]

/** [team_id, group_type_index, group_key, $group_set JSON, timestamp ms] from a `$groupidentify` */
export type GroupUpdate = [number, number, string, string, number]

/** Taxonomy seen in a task, after the worker's own de-duplication. */
export interface Observations {
  /** [project_id, event name] */
  eventDefinitions: [number, string][]
  /** [project_id, name, type (1 event, 2 person, 3 group), group_type_index (−1 none), property_type or null] */
  propertyDefinitions: [number, string, number, number, string | null][]
  /** [project_id, event name, property name] */
  eventProperties: [number, string, string][]
}

export interface TaskOutput {
  header: TaskHeader
  /** rows for the `events` table, in the pool's RowEncoding */
  events: Uint8Array
}

/** What an event asks of its person; the main thread (engine/sink/writers/persons.ts) applies it in Kafka order. */
export const PERSON_UPDATE = 0
/** `$process_person_profile: false`: stamp the known (or deterministic) person id, write nothing */
export const PERSON_PERSONLESS = 1
export const PERSON_IDENTIFY = 2
export const PERSON_ALIAS = 3
export const PERSON_MERGE_DANGEROUSLY = 4
export type PersonIntentKind = typeof PERSON_UPDATE | typeof PERSON_PERSONLESS | typeof PERSON_IDENTIFY | typeof PERSON_ALIAS | typeof PERSON_MERGE_DANGEROUSLY

/**
 * What an event asks of its person, as a worker extracts it. Every field is
 * always present (null when absent): one shape for every intent. It travels
 * to the main thread in workers/intent-codec.ts's layout, written as soon as
 * its event is processed, and is read there as a ReadIntent.
 */
export interface PersonIntent {
  team: number
  distinctId: string
  kind: PersonIntentKind
  /**
   * the deterministic person id of distinctId, sent only for a user this
   * thread had not seen lately (computed here: workers have CPU to spare, the
   * main thread has not); null otherwise: the main thread's cache has the
   * user's mapping, or, rarely, computes the id itself. 36 characters per
   * event were a tenth of the intents' bytes.
   */
  personId: string | null
  /** the event's own $set and $set_once */
  set: Record<string, unknown> | null
  setOnce: Record<string, unknown> | null
  /**
   * which automatic person properties the event has (workers/persons/rules.ts
   * automaticPresence); their values are read from the event's stored
   * properties only when they matter (engine/sink/writers/persons.ts)
   */
  autoLo: number
  autoHi: number
  /**
   * for a user this thread had not seen lately (likely a new person): the
   * properties, as JSON text, of a person this event creates (its automatic
   * values and their `$initial_*`, its `$set`, `$set_once` and `$unset`,
   * applied by workers/persons/properties.ts as the main thread would), and
   * which automatic keys they hold (`newLo`, `newHi`). The main thread takes
   * them as they are when the person is indeed new, and otherwise applies
   * the intent itself: creating a person from its first event was the main
   * thread's largest person cost (parsing, expanding, applying, serializing:
   * ~6 KB of objects per person, which drove its garbage collection). They
   * reach the main thread as UTF-8 bytes (ReadIntent.newProperties).
   * null when not computed.
   */
  newText: string | null
  newLo: number
  newHi: number
  /**
   * the automatic values as JSON text, sent with events that write something
   * else too (`$set`, `$set_once`, `$unset`, a person event): their changes
   * carry the automatic ones along, and the main thread otherwise parsed the
   * event's whole stored properties to find them (a tenth of the events, and
   * most of its person allocations). null otherwise: the main thread reads
   * them from the stored row in the rare case it needs them
   */
  autoText: string | null
  unset: string[] | null
  /** merges: the other distinct_id, moved to this event's person (already checked: legal, a string, not the event's own) */
  other: string | null
  /** a person event ($identify, $set, …): every change is written, the frequently changing automatic keys included */
  force: boolean
  timestampMs: number
  /** the message's Kafka timestamp: the floor of the versions this event writes (a replay writes the same) */
  kafkaMs: number
}

export type DateTimeFlavor = 'DateTime' | 'DateTime64'

/**
 * RowBinary for a ClickHouse server (no escaping on our side, no text parsing
 * on its side); JSONEachRow for chDB, whose insert API takes text formats only.
 */
export type RowFormat = 'JSONEachRow' | 'RowBinary'

/** How workers write `events` rows; the pool passes it as Piscina's workerData. */
export interface RowEncoding {
  /** how times are written: 18.16 has no DateTime64 */
  dateTime: DateTimeFlavor
  format: RowFormat
  /** person processing (SLUICE_PERSONS): the pipeline extracts person intents and reports row ends */
  persons?: boolean
}

// The task codec: both sides of the boundary in one place.

/**
 * The task's answer as one exact-size ArrayBuffer, so Piscina transfers it
 * (only a top-level movable is transferred) and the main thread, which keeps
 * the rows until ClickHouse acknowledged them, holds no spare capacity. The
 * last 8 bytes give both lengths.
 *
 *   [events rows][msgpack TaskHeader][u32 rows length][u32 header length]
 */
/** Records: the header's same-shaped objects (dead letters, taxonomy observations) carry their keys once per answer. */
const headerCodec = new Packr({ useRecords: true })

export function encodeTaskOutput(header: TaskHeader, rows: RowWriter): ArrayBuffer {
  const rowsLength = rows.pos
  const head = headerCodec.pack(header)
  const out = Buffer.allocUnsafeSlow(rowsLength + head.length + 8)
  rows.buf.copy(out, 0, 0, rowsLength)
  head.copy(out, rowsLength)
  out.writeUInt32LE(rowsLength, out.length - 8)
  out.writeUInt32LE(head.length, out.length - 4)
  return out.buffer as ArrayBuffer
}

export function decodeTaskOutput(buf: ArrayBuffer): TaskOutput {
  const bytes = new Uint8Array(buf)
  const tail = Buffer.from(buf, buf.byteLength - 8, 8)
  const rowsLength = tail.readUInt32LE(0)
  const header = headerCodec.unpack(bytes.subarray(rowsLength, rowsLength + tail.readUInt32LE(4))) as TaskHeader
  return { header, events: bytes.subarray(0, rowsLength) }
}
