// The one function Piscina runs: decode a batch of raw Kafka message values →
// parse → pipeline → encode. Pure: bytes in, rows and tallies out; Kafka,
// ClickHouse and metrics belong to the main thread.
import { move, workerData } from 'piscina'
import { unpack } from 'msgpackr'
import { newContext } from './context'
import { encodeEventRow, encodeTaskOutput, formatDateTime } from './encode'
import { environmentsByToken, type ResolvedEnvironment } from './environment'
import { parseCapturedMessage } from './parse'
import { PIPELINE } from './pipeline'
import {
  META_END, META_OFFSET, META_STRIDE, META_TIMESTAMP,
  type ControlSnapshot, type DateTimeFlavor, type SnapshotRef, type TaskHeader, type TaskInput, type WorkerData,
} from './protocol'

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

export function processBatch(task: TaskInput, flavor: DateTimeFlavor): { header: TaskHeader; rows: string } {
  const values = Buffer.from(task.values)
  const meta = task.meta
  const count = meta.length / META_STRIDE
  const ctx = newContext(environmentsFor(task.snapshot), task.nowMs, task.claimsSettled === true)
  const header: TaskHeader = {
    snapshotVersion: task.snapshot.version, messages: count, eventRows: 0, drops: {}, deadLetters: [], unresolved: [],
    pendingClaims: { indexes: [], claims: [] }, warnings: ctx.warnings, groupUpdates: ctx.groupUpdates, observations: ctx.observations,
  }
  const createdAt = formatDateTime(task.nowMs, flavor)
  let rows = ''
  let start = 0
  for (let i = 0; i < count; i++) {
    const m = i * META_STRIDE
    const end = meta[m + META_END]
    const text = values.toString('utf8', start, end)
    const parsed = parseCapturedMessage(text)
    let fate: 'ok' | 'stop' = 'ok'
    if ('kind' in parsed) {
      header.deadLetters.push({ index: i, reason: parsed.reason, error: parsed.error })
      fate = 'stop'
    } else {
      const warningsBefore = ctx.warnings.length
      for (let s = 0; s < PIPELINE.length; s++) {
        const r = PIPELINE[s](parsed, ctx)
        if (r.kind === 'ok') continue
        if (r.kind === 'drop') header.drops[r.reason] = (header.drops[r.reason] ?? 0) + 1
        else if (r.kind === 'dead_letter') header.deadLetters.push({ index: i, reason: r.reason, error: r.error })
        else {
          if (r.kind === 'unresolved') header.unresolved.push(i)
          else header.pendingClaims.indexes.push(i)
          // the message runs again: its warnings are raised then, not twice
          ctx.warnings.length = warningsBefore
        }
        fate = 'stop'
        break
      }
      if (fate === 'ok') {
        rows += encodeEventRow(parsed, createdAt, formatDateTime(meta[m + META_TIMESTAMP], flavor), meta[m + META_OFFSET], flavor)
        header.eventRows++
      }
    }
    start = end
  }
  header.pendingClaims.claims = [...ctx.claims.values()]
  return { header, rows }
}

const flavor: DateTimeFlavor = (workerData as WorkerData | undefined)?.dateTime ?? 'DateTime64'

export default function runTask(task: TaskInput): ArrayBuffer {
  const { header, rows } = processBatch(task, flavor)
  return move(encodeTaskOutput(header, rows)) as ArrayBuffer
}
