// What happens to one consumed batch, from the consumer to the batcher:
// register its offset segments, run it on a worker, settle the tokens the
// worker did not know (only after catching up with the control log) and the
// group types it had no index for (claimed through the control log), turn
// warnings, group updates and taxonomy into rows, produce its dead letters,
// and hand all its rows to the batcher as one contribution. Offsets move only when
// the batcher reports the rows acknowledged.
//
// A task that throws (a poison message crashing the parser, a dying worker)
// is split in halves and retried until the message responsible is alone; that
// one is dead-lettered (`processing_error`) and the rest are ingested.
import type Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import type { GroupUpdate, Observations, TaskOutput, WarningRecord } from '../../workers/protocol'
import type { ControlLog } from '../control/log'
import type { Metrics } from '../metrics'
import type { AckedFlush, InsertBatcher, TableRows } from '../sink/batcher'
import type { InsertFormat } from '../sink/row-format'
import type { DefinitionsWriter } from '../sink/definitions'
import type { GroupMerger } from '../sink/groups'
import type { PersonPart, PersonStore, PersonTurn } from '../sink/persons'
import { backoffMs } from '../sink/retry'
import type { WarningsWriter } from '../sink/warnings'
import type { OffsetTracker, Segment } from '../source/offsets'
import { contributionTimes } from './lag'
import { deadLetterOf, type DeadLetter, type OutcomeRecorder } from './outcomes'
import { BatchBuffers, compactValues, packMessages } from './pack'
import type { WorkerPool } from './pool'

export interface IngestSinks {
  warnings: WarningsWriter
  definitions: DefinitionsWriter
  groups: GroupMerger
  /** SLUICE_PERSONS=on */
  persons?: PersonStore
}

export interface IngestOptions {
  topic: string
  eventsTable: string
  /** how the workers encode `events` rows */
  eventsFormat: InsertFormat
  maxMessageBytes: number
  maxInflightBytes: number
  maxOutstandingBatches: number
}

interface RanPart { output: TaskOutput; messages: Kafka.Message[] }

export class Ingestion {
  private outstanding = 0
  private inflightBytes = 0
  private batcher!: InsertBatcher
  private idleWaiters: (() => void)[] = []
  private slotWaiters: (() => void)[] = []
  private readonly batchBuffers: BatchBuffers

  constructor(
    private readonly o: IngestOptions,
    private readonly pool: WorkerPool,
    private readonly control: ControlLog,
    private readonly outcomes: OutcomeRecorder,
    private readonly tracker: OffsetTracker,
    private readonly sinks: IngestSinks,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    // at most maxOutstandingBatches batches are between the consumer and the batcher
    this.batchBuffers = new BatchBuffers(o.maxOutstandingBatches + 1)
  }

  attach(batcher: InsertBatcher): void {
    this.batcher = batcher
  }

  /** Hysteresis: pause at the bound, resume below 80 % of it, so that a saturated engine does not flip every flush. */
  hasCapacity = (paused: boolean): boolean => this.inflightBytes < (paused ? 0.8 : 1) * this.o.maxInflightBytes

  waitForSlot = (): Promise<void> => {
    if (this.outstanding < this.o.maxOutstandingBatches) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, 200)
      function done() { clearTimeout(timer); resolve() }
      this.slotWaiters.push(done)
    })
  }

  private release(): void {
    this.metrics.inflightBytes.set(this.inflightBytes)
    if (this.outstanding < this.o.maxOutstandingBatches) for (const w of this.slotWaiters.splice(0)) w()
    if (this.outstanding === 0) for (const w of this.idleWaiters.splice(0)) w()
  }

  /** Resolves when no batch is between the consumer and the batcher. */
  whenIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  onBatch = (messages: Kafka.Message[]): void => {
    this.outstanding++
    this.process(messages)
      .catch((err) => {
        // process() handles every expected failure; reaching here is a bug: the batch's offsets stay uncommitted
        this.log.error({ err }, 'batch processing failed unexpectedly; its offsets will not be committed')
      })
      .finally(() => {
        this.outstanding--
        this.release()
      })
  }

  private async process(messages: Kafka.Message[]): Promise<void> {
    const consumedAt = Date.now()
    // one shared buffer instead of a Buffer per message (engine/dispatch/pack.ts says why)
    const block = compactValues(messages, this.batchBuffers)
    // persons are applied in consumption order: the turn is taken now, before any await
    const turn = this.sinks.persons?.turn()
    try {
      await this.settle(messages, consumedAt, turn)
    } finally {
      turn?.release()
    }
    // settled: dead letters hold copies, the rows are the workers' own memory
    this.batchBuffers.give(block)
  }

  private async settle(messages: Kafka.Message[], consumedAt: number, turn: PersonTurn | undefined): Promise<void> {
    const segments = this.track(messages)
    let bytes = 0
    for (const m of messages) bytes += m.value ? m.value.length : 0
    this.inflightBytes += bytes
    this.metrics.inflightBytes.set(this.inflightBytes)
    this.metrics.messagesConsumed.inc(messages.length)
    this.metrics.consumedBytes.inc(bytes)
    this.metrics.batchMessages.observe(messages.length)

    const letters: DeadLetter[] = []
    const fit: Kafka.Message[] = []
    for (const m of messages) {
      if (m.value && m.value.length > this.o.maxMessageBytes) letters.push(deadLetterOf(m, 'message_too_large', 'consume', `message of ${m.value.length} bytes exceeds SLUICE_MAX_MESSAGE_BYTES=${this.o.maxMessageBytes}`))
      else fit.push(m)
    }

    let chunks: Uint8Array[] = []
    const personParts: PersonPart[] = []
    let rows = 0
    // per events row: partition, offset of its message (named by the dead letter of a rejected row)
    const coords: number[] = []
    const partitions = new Set<number>()
    const warnings: WarningRecord[] = []
    const groupUpdates: GroupUpdate[] = []
    const observations: Observations[] = []
    let todo = fit
    let claimsSettled = false
    let tokensRechecked = false
    // Rounds: a message whose token is unknown waits for the control log to be
    // caught up; one whose group type has no index waits for its claim to be
    // folded. Each waits at most once, so four rounds settle every message.
    for (let round = 0; todo.length > 0 && round < 4; round++) {
      const snapshotBefore = this.control.snapshot().version
      const parts = await this.runIsolated(todo, letters, claimsSettled)
      todo = []
      const unresolved: Kafka.Message[] = []
      const pending: Kafka.Message[] = []
      const claims = new Map<string, [number, string]>()
      for (const { output, messages: sent } of parts) {
        const h = output.header
        if (h.eventRows > 0) {
          chunks.push(output.events)
          if (turn) personParts.push(output)
          rows += h.eventRows
          for (const i of h.rowMessages) coords.push(sent[i].partition, sent[i].offset)
          for (const p of h.partitions) partitions.add(p)
        }
        this.outcomes.drops(h.drops)
        for (const w of h.warnings) warnings.push(w)
        for (const g of h.groupUpdates) groupUpdates.push(g)
        observations.push(h.observations)
        for (const d of h.deadLetters) letters.push(deadLetterOf(sent[d.index], d.reason, 'process', d.error))
        for (const i of h.unresolved) unresolved.push(sent[i])
        for (const i of h.pendingClaims.indexes) pending.push(sent[i])
        for (const [p, type] of h.pendingClaims.claims) claims.set(`${p}\u0000${type}`, [p, type])
      }
      if (unresolved.length > 0) {
        if (tokensRechecked) {
          this.outcomes.drops({ invalid_token: unresolved.length })
        } else {
          // Never call a token unknown while this instance may lag the control log:
          // wait until everything appended before this batch was consumed is folded.
          await this.control.caughtUpSince(consumedAt)
          this.metrics.tokenRechecks.inc()
          tokensRechecked = true
          if (this.control.snapshot().version !== snapshotBefore) todo.push(...unresolved)
          else this.outcomes.drops({ invalid_token: unresolved.length })
        }
      }
      if (pending.length > 0) {
        await this.claim([...claims.values()])
        claimsSettled = true
        todo.push(...pending)
      }
    }
    for (const m of todo) letters.push(deadLetterOf(m, 'processing_error', 'process', 'the message did not settle after its token check and group type claims'))

    const nowMs = Date.now()
    let personTables: TableRows[] = []
    if (turn) {
      // one chunk per part, in the same order: the rows' coordinates stay valid
      const applied = await this.sinks.persons!.apply(turn, personParts, this.o.eventsFormat, nowMs)
      chunks = applied.chunks
      for (const w of applied.warnings) warnings.push(w)
      personTables = applied.tables
    }
    const topic = this.o.topic
    const tables: TableRows[] = rows > 0 ? [{
      table: this.o.eventsTable, chunk: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), rows, format: this.o.eventsFormat,
      sourceOf: (i) => ({ topic, partition: coords[2 * i], offset: coords[2 * i + 1] }),
      partitions: [...partitions],
    }] : []
    // warnings, taxonomy and group rows are derived from the batch as a whole: their source is its offset ranges
    const ranges = segments.map((s) => `${s.partition}:${s.first}-${s.last}`).join(',')
    const batchSource = () => ({ topic, messages: ranges })
    for (const t of [
      ...this.sinks.warnings.rows(warnings, nowMs),
      ...this.sinks.definitions.rows(observations, nowMs),
      ...(await this.sinks.groups.rows(groupUpdates, nowMs)),
      ...personTables,
    ]) tables.push({ ...t, sourceOf: batchSource })
    await this.outcomes.deadLetters(letters)
    this.batcher.add({ tables, segments, consumedBytes: bytes, messages: messages.length, times: contributionTimes(messages, consumedAt) })
  }

  /** Claims group types through the control log; resolves once each claim is folded here (retried while Kafka is unreachable). */
  private async claim(claims: [number, string][]): Promise<void> {
    await Promise.all(claims.map(async ([project_id, group_type]) => {
      for (let attempt = 0; ; attempt++) {
        try {
          this.metrics.groupTypeClaims.inc()
          await this.control.append({ type: 'claim_group_type', project_id, group_type })
          return
        } catch (err) {
          this.log.error({ err: (err as Error).message, project_id, attempt }, 'group type claim failed; retrying')
          await new Promise((r) => setTimeout(r, backoffMs(attempt)))
        }
      }
    }))
  }

  private track(messages: readonly Kafka.Message[]): Segment[] {
    const ranges = new Map<number, [number, number]>()
    for (const m of messages) {
      const r = ranges.get(m.partition)
      if (!r) ranges.set(m.partition, [m.offset, m.offset])
      else r[1] = m.offset
    }
    return [...ranges].map(([p, [first, last]]) => this.tracker.track(p, first, last))
  }

  private async runIsolated(messages: Kafka.Message[], letters: DeadLetter[], claimsSettled: boolean): Promise<RanPart[]> {
    if (messages.length === 0) return []
    const started = process.hrtime.bigint()
    try {
      const output = await this.pool.run(packMessages(messages), this.o.topic, this.control.snapshot(), claimsSettled)
      this.metrics.taskDuration.observe(Number(process.hrtime.bigint() - started) / 1e9)
      if (output.header.workerSeconds !== undefined) this.metrics.workerTaskDuration.observe(output.header.workerSeconds)
      return [{ output, messages }]
    } catch (err) {
      if (messages.length === 1) {
        letters.push(deadLetterOf(messages[0], 'processing_error', 'process', (err as Error).message ?? String(err)))
        return []
      }
      this.log.warn({ err, messages: messages.length }, 'worker task failed; splitting the batch to isolate the message responsible')
      const mid = messages.length >> 1
      return [...(await this.runIsolated(messages.slice(0, mid), letters, claimsSettled)), ...(await this.runIsolated(messages.slice(mid), letters, claimsSettled))]
    }
  }

  /** Called by the batcher once a flush is acknowledged. */
  acknowledged(flush: AckedFlush): ReturnType<OffsetTracker['complete']> {
    this.inflightBytes -= flush.consumedBytes
    const points = this.tracker.complete(flush.segments)
    this.release()
    return points
  }
}
