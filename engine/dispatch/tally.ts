// The collector: every task answer of one consumed batch (one per round, or
// several when a failing task was split) folded into one tally — the events
// rows and where each came from, drops by reason, dead letters, side outputs
// (warnings, group updates, taxonomy observations) — and, per round, the
// messages that must run again. Pure: no Kafka, no ClickHouse, no metrics;
// engine/dispatch/ingest.ts acts on the tally (test/unit/engine/dispatch/tally.test.ts).
import type Kafka from 'node-rdkafka'
import type { GroupUpdate, HeatmapRecord, Observations, TaskOutput, WarningRecord } from '../../workers/protocol'
import type { DropReason } from '../../workers/result'
import { deadLetterOf, type DeadLetter } from './outcomes'

/** One task's answer and the messages it ran on (answers name messages by index). */
export interface RanPart { output: TaskOutput; messages: Kafka.Message[] }

/** What a round leaves to do: messages to run again, and why. */
export interface RoundLeftovers {
  /** their token is not in the control state the task ran with */
  unresolved: Kafka.Message[]
  /** they wait for group type claims */
  pending: Kafka.Message[]
  /** [project id, group type] to claim, de-duplicated */
  claims: [number, string][]
}

export class BatchTally {
  readonly chunks: Uint8Array[] = []
  /** the answers that produced rows, in the order of `chunks` (persons fill in their columns per answer) */
  readonly rowParts: TaskOutput[] = []
  rows = 0
  /** per events row: partition, offset of its message (a rejected row's dead letter names it) */
  readonly coords: number[] = []
  /** months the events rows fall in (inserts are split by partition) */
  readonly partitions = new Set<number>()
  readonly drops: Partial<Record<DropReason, number>> = {}
  /** SDK key id → events rows */
  readonly keyRows = new Map<number, number>()
  readonly letters: DeadLetter[] = []
  readonly warnings: WarningRecord[] = []
  readonly groupUpdates: GroupUpdate[] = []
  readonly heatmaps: HeatmapRecord[] = []
  readonly observations: Observations[] = []

  /** Folds one round's answers in; returns what must run again. */
  collect(parts: readonly RanPart[]): RoundLeftovers {
    const left: RoundLeftovers = { unresolved: [], pending: [], claims: [] }
    const claims = new Map<string, [number, string]>()
    for (const { output, messages: sent } of parts) {
      const h = output.header
      if (h.eventRows > 0) {
        this.chunks.push(output.events)
        this.rowParts.push(output)
        this.rows += h.eventRows
        for (const i of h.rowMessages) this.coords.push(sent[i].partition, sent[i].offset)
        for (const p of h.partitions) this.partitions.add(p)
      }
      for (const [reason, n] of Object.entries(h.drops) as [DropReason, number][]) this.drop(reason, n)
      for (const [key, n] of h.keyRows ?? []) this.keyRows.set(key, (this.keyRows.get(key) ?? 0) + n)
      for (const w of h.warnings) this.warnings.push(w)
      for (const g of h.groupUpdates) this.groupUpdates.push(g)
      if (h.heatmaps) for (const r of h.heatmaps) this.heatmaps.push(r)
      this.observations.push(h.observations)
      for (const d of h.deadLetters) this.letters.push(deadLetterOf(sent[d.index], d.reason, 'process', d.error))
      for (const i of h.unresolved) left.unresolved.push(sent[i])
      for (const i of h.pendingClaims.indexes) left.pending.push(sent[i])
      for (const [p, type] of h.pendingClaims.claims) claims.set(`${p}\u0000${type}`, [p, type])
    }
    left.claims = [...claims.values()]
    return left
  }

  drop(reason: DropReason, n: number): void {
    if (n > 0) this.drops[reason] = (this.drops[reason] ?? 0) + n
  }

  /** The events rows as one chunk (the workers' own memory when there is one answer). */
  eventsChunk(): Uint8Array {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
  }
}

/** Messages over the size limit are dead-lettered before any worker sees them. */
export function splitOversize(messages: readonly Kafka.Message[], maxBytes: number): { fit: Kafka.Message[]; letters: DeadLetter[] } {
  const fit: Kafka.Message[] = []
  const letters: DeadLetter[] = []
  for (const m of messages) {
    if (m.value && m.value.length > maxBytes) letters.push(deadLetterOf(m, 'message_too_large', 'consume', `message of ${m.value.length} bytes exceeds SLUICE_MAX_MESSAGE_BYTES=${maxBytes}`))
    else fit.push(m)
  }
  return { fit, letters }
}
