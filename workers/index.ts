// The one function Piscina runs: decode a batch of raw Kafka message values →
// parse → pipeline → encode. Pure: bytes in, rows and tallies out; Kafka,
// ClickHouse and metrics belong to the main thread (the task's own processing
// time travels back in its header, like the tallies).
import fs from 'node:fs'
import { move, workerData } from 'piscina'
import { unpack } from 'msgpackr'
import { newContext, type StepContext } from './context'
import { encodeEventRow } from './encode'
import { monthOf } from './clickhouse-types'
import { environmentsByToken, type ResolvedEnvironment } from './environment'
import { parseCapturedMessage } from './parse'
import { PERSONS_PIPELINE, PIPELINE } from './pipeline'
import { RowWriter } from './row-writer'
import { currentThreadId } from './thread-id'
import { DefinitionsMemory } from './definitions-memory'
import { IntentWriter } from './intent-codec'
import {
  encodeTaskOutput, META_END, META_OFFSET, META_STRIDE, META_TIMESTAMP,
  type ControlSnapshot, type RowEncoding, type SnapshotRef, type TaskHeader, type TaskInput,
} from './protocol'

// Test only (config/CONFIGURATION.md): a file whose existence makes the first
// thread to remove it exit halfway through its next task, as a crashing
// thread would (test/integration/worker-death.test.ts). Unset in production:
// one comparison per task.
const TEST_EXIT_FILE = process.env.SLUICE_TEST_WORKER_EXIT_FILE

function exitIfAsked(file: string): void {
  try {
    fs.unlinkSync(file) // only one thread can remove it
  } catch {
    return
  }
  process.exit(70)
}

let cachedVersion = -1
let cachedEnvironments: Map<string, ResolvedEnvironment> = new Map()

/** Decoded once per control-state version, not per task. */
function environmentsFor(ref: SnapshotRef): Map<string, ResolvedEnvironment> {
  if (ref.version !== cachedVersion) {
    // slice(): msgpackr's native string reader rejects views of shared memory
    const snapshot = unpack(new Uint8Array(ref.buffer, 0, ref.length).slice()) as ControlSnapshot
    cachedEnvironments = environmentsByToken(snapshot)
    cachedVersion = ref.version
  }
  return cachedEnvironments
}

/** One message: parse → steps → a row written to `out`; false when it stopped (tallied in the header). */
function processMessage(text: string, i: number, ctx: StepContext, header: TaskHeader, out: RowWriter, enc: RowEncoding, meta: Float64Array, m: number, wrote: { timestampMs: number }): boolean {
  const parsed = parseCapturedMessage(text)
  if ('kind' in parsed) {
    header.deadLetters.push({ index: i, reason: parsed.reason, error: parsed.error })
    return false
  }
  const steps = enc.persons === true ? PERSONS_PIPELINE : PIPELINE
  for (let s = 0; s < steps.length; s++) {
    const r = steps[s](parsed, ctx)
    if (r.kind === 'ok') continue
    if (r.kind === 'drop') header.drops[r.reason] = (header.drops[r.reason] ?? 0) + 1
    else if (r.kind === 'dead_letter') header.deadLetters.push({ index: i, reason: r.reason, error: r.error })
    else {
      if (r.kind === 'unresolved') header.unresolved.push(i)
      else header.pendingClaims.indexes.push(i)
      // the message runs again: what it raised so far is raised then, not twice
      ctx.rollback()
    }
    return false
  }
  encodeEventRow(out, parsed, enc, ctx.nowMs, meta[m + META_TIMESTAMP], meta[m + META_OFFSET])
  // a task's events mostly carry one key: compare with the last one before touching the list
  const keyId = parsed.env!.keyId
  const rows = header.keyRows
  const last = rows.length - 1
  if (last >= 0 && rows[last][0] === keyId) rows[last][1]++
  else {
    const at = rows.findIndex((r) => r[0] === keyId)
    if (at >= 0) rows[at][1]++
    else rows.push([keyId, 1])
  }
  ctx.definitions.remember(ctx.reportedKeys)
  wrote.timestampMs = parsed.timestampMs
  return true
}

/** What this thread has reported of the taxonomy: outlives tasks, so that steady traffic reports almost nothing. */
export const threadDefinitions = new DefinitionsMemory()

/** Rows go to `out` (by default a new writer sized for the task); the caller may reuse one across tasks. */
export function processBatch(task: TaskInput, enc: RowEncoding, out?: RowWriter, definitions: DefinitionsMemory = threadDefinitions, intentsOut?: IntentWriter): { header: TaskHeader; rows: RowWriter } {
  const values = Buffer.from(task.values)
  const meta = task.meta
  const count = meta.length / META_STRIDE
  const ctx = newContext(environmentsFor(task.snapshot), task.nowMs, task.claimsSettled === true, definitions)
  const header: TaskHeader = {
    snapshotVersion: task.snapshot.version, messages: count, eventRows: 0, rowMessages: [], partitions: [], drops: {}, deadLetters: [], unresolved: [], keyRows: [],
    pendingClaims: { indexes: [], claims: [] }, warnings: ctx.warnings, groupUpdates: ctx.groupUpdates, observations: ctx.observations,
  }
  const persons = enc.persons === true
  const intents = persons ? intentsOut?.reset() ?? new IntentWriter(count * 256) : undefined
  if (persons) header.rowEnds = []
  // rows are shorter than the messages they come from (about 70 % in bench/)
  if (out === undefined) out = new RowWriter(values.length + count * 64)
  else out.pos = 0
  const wrote = { timestampMs: 0 }
  const exitAt = TEST_EXIT_FILE === undefined ? -1 : count >> 1
  let start = 0
  // rows of one task mostly fall in one month: one Date per month change, not per row
  let monthStart = Infinity
  let monthEnd = -Infinity
  for (let i = 0; i < count; i++) {
    if (i === exitAt) exitIfAsked(TEST_EXIT_FILE!)
    const m = i * META_STRIDE
    const end = meta[m + META_END]
    ctx.checkpoint()
    const rowStart = out.pos
    try {
      if (processMessage(values.toString('utf8', start, end), i, ctx, header, out, enc, meta, m, wrote)) {
        header.eventRows++
        header.rowMessages.push(i)
        if (persons) {
          header.rowEnds!.push(out.pos)
          ctx.personIntents[ctx.personIntents.length - 1].kafkaMs = meta[m + META_TIMESTAMP]
        }
        const ms = wrote.timestampMs
        if (ms < monthStart || ms >= monthEnd) {
          const month = monthOf(ms)
          if (!header.partitions.includes(month)) header.partitions.push(month)
          monthStart = Date.UTC(Math.floor(month / 100), (month % 100) - 1, 1)
          monthEnd = Date.UTC(Math.floor(month / 100), month % 100, 1)
        }
      }
    } catch (err) {
      // An unexpected throw is this message's problem alone: undo what it left behind, dead-letter it, go on.
      ctx.rollback()
      out.pos = rowStart
      header.deadLetters.push({ index: i, reason: 'processing_error', error: `${(err as Error)?.name}: ${(err as Error)?.message}`.slice(0, 500) })
    }
    if (intents !== undefined && ctx.personIntents.length > 0) {
      // written now, so that no intent object outlives its event (intent-codec.ts)
      for (const intent of ctx.personIntents) intents.add(intent)
      ctx.personIntents.length = 0
    }
    start = end
  }
  if (intents !== undefined) {
    header.intents = intents.bytes()
  }
  header.pendingClaims.claims = [...ctx.claims.values()]
  if (ctx.heatmaps.length > 0) header.heatmaps = ctx.heatmaps
  return { header, rows: out }
}

const encoding: RowEncoding = (workerData as RowEncoding | undefined) ?? { dateTime: 'DateTime64', format: 'JSONEachRow' }

// One writer per thread, reused by every task: its memory stays warm, and the
// answer is copied out of it at its exact size (encodeTaskOutput).
const MAX_KEPT_WRITER_BYTES = 64 << 20
const THREAD_ID = currentThreadId()
let scratch = new RowWriter(4 << 20)
let intentScratch = new IntentWriter(1 << 20)

export default function runTask(task: TaskInput): ArrayBuffer {
  const started = process.hrtime.bigint()
  const { header, rows } = processBatch(task, encoding, scratch, threadDefinitions, intentScratch)
  // an unusually large task does not pin its memory for good (the answer is copied out of both below)
  if (scratch.buf.length > MAX_KEPT_WRITER_BYTES) scratch = new RowWriter(4 << 20)
  if (intentScratch.capacity > MAX_KEPT_WRITER_BYTES) intentScratch = new IntentWriter(1 << 20)
  header.workerSeconds = Number(process.hrtime.bigint() - started) / 1e9
  header.threadId = THREAD_ID
  return move(encodeTaskOutput(header, rows)) as ArrayBuffer
}
