// What happens to one consumed batch, from the consumer to the batcher (the
// I/O driver; its decisions are pure: tally.ts collects task answers,
// rounds.ts decides what runs again): register its offset segments, run it
// on a worker, settle the tokens the worker did not know (only after catching
// up with the control log) and the group types it had no index for (claimed
// through the control log), turn warnings and taxonomy into rows, produce its
// dead letters and its group updates (to their owners, group-updates.ts), and
// hand all its rows to the batcher as one contribution, once Kafka has
// acknowledged those. Offsets move only when the batcher reports the rows acknowledged.
//
// A task that throws (a poison message crashing the parser, a dying worker)
// is split in halves and retried until the message responsible is alone; that
// one is dead-lettered (`processing_error`) and the rest are ingested.
import type Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import type { ControlLog } from '../control/log'
import type { Metrics } from '../metrics'
import type { AckedFlush, InsertBatcher, TableRows } from '../sink/writers/batcher'
import type { InsertFormat } from '../sink/format/row-format'
import type { DefinitionsWriter } from '../sink/writers/definitions'
import type { GroupUpdatePublisher } from './group-updates'
import { retrying } from '../retrying'
import type { WarningsWriter } from '../sink/writers/warnings'
import type { PersonStore, PersonTurn } from '../sink/writers/persons'
import type { HeatmapsWriter } from '../sink/writers/heatmaps'
import type { OffsetTracker, Segment } from '../source/offsets'
import { contributionTimes } from './lag'
import { deadLetterOf, type DeadLetter, type OutcomeRecorder } from './outcomes'
import { BatchBuffers, compactValues, packMessages } from './pack'
import { BufferPool } from './buffer-pool'
import type { WorkerPool } from './pool'
import { afterRecheck, MAX_ROUNDS, planRound, UNSETTLED, type RoundState } from './rounds'
import { BatchTally, splitOversize, type RanPart } from './tally'

/**
 * Row buffers kept for reuse: about the batches between consumption and
 * acknowledgement at full speed (a flush every SLUICE_INSERT_INTERVAL_MS
 * holds a few, the next one fills meanwhile); more in flight get new ones.
 */
const ROW_BUFFERS_KEPT = 6

export interface IngestSinks {
  warnings: WarningsWriter
  definitions: DefinitionsWriter
  /** `$groupidentify` updates → SLUICE_GROUPS_TOPIC */
  groups: GroupUpdatePublisher
  /** SLUICE_PERSONS=on */
  persons?: PersonStore
  heatmaps: HeatmapsWriter
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

export class Ingestion {
  private outstanding = 0
  private inflightBytes = 0
  private batcher!: InsertBatcher
  private idleWaiters: (() => void)[] = []
  private slotWaiters: (() => void)[] = []
  private readonly batchBuffers: BatchBuffers
  /** persons on: the memory of each batch's `events` rows with their person columns, back once acknowledged */
  private readonly rowBuffers: BufferPool<ArrayBuffer>

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
    this.rowBuffers = new BufferPool(ROW_BUFFERS_KEPT, (bytes) => new ArrayBuffer(bytes))
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

  /** The driver: run the batch in rounds (rounds.ts), collect the answers (tally.ts), hand everything to the outcomes and the batcher. */
  private async settle(messages: Kafka.Message[], consumedAt: number, turn: PersonTurn | undefined): Promise<void> {
    const segments = this.track(messages)
    const bytes = this.consumed(messages)
    const count = messages.length
    const times = contributionTimes(messages, consumedAt)
    const { fit, letters } = splitOversize(messages, this.o.maxMessageBytes)
    const tally = new BatchTally()
    tally.letters.push(...letters)
    const state: RoundState = { tokensRechecked: false, claimsSettled: false }
    let todo = fit
    for (let round = 0; todo.length > 0 && round < MAX_ROUNDS; round++) {
      const versionBefore = this.control.snapshot().version
      const left = tally.collect(await this.runIsolated(todo, tally.letters, state.claimsSettled))
      const plan = planRound(state, { unresolved: left.unresolved.length, pending: left.pending.length })
      todo = []
      if (plan.unresolved === 'drop') tally.drop('invalid_token', left.unresolved.length)
      if (plan.unresolved === 'recheck') {
        // wait until everything appended before this batch was consumed is folded
        await this.control.caughtUpSince(consumedAt)
        this.metrics.tokenRechecks.inc()
        state.tokensRechecked = true
        if (afterRecheck(versionBefore, this.control.snapshot().version) === 'rerun') todo.push(...left.unresolved)
        else tally.drop('invalid_token', left.unresolved.length)
      }
      if (plan.claim) {
        await this.claim(left.claims)
        state.claimsSettled = true
        todo.push(...left.pending)
      }
    }
    for (const m of todo) tally.letters.push(deadLetterOf(m, 'processing_error', 'process', UNSETTLED))
    // Nothing reads the Message objects from here on (dead letters hold copies). Emptied, node-rdkafka's objects and
    // their key Buffers die now instead of at the end of the persons turn: kept, they survived the main thread's
    // scavenges and were copied by them.
    messages.length = 0
    fit.length = 0
    todo = []

    this.outcomes.drops(tally.drops)
    this.outcomes.keyRows(tally.keyRows)
    await this.outcomes.deadLetters(tally.letters)
    const { tables, release } = await this.tables(tally, segments, turn)
    this.batcher.add({ tables, release, segments, consumedBytes: bytes, messages: count, times })
  }

  /** Counts a consumed batch and holds its bytes against the in-flight bound. */
  private consumed(messages: readonly Kafka.Message[]): number {
    let bytes = 0
    for (const m of messages) bytes += m.value ? m.value.length : 0
    this.inflightBytes += bytes
    this.metrics.inflightBytes.set(this.inflightBytes)
    this.metrics.messagesConsumed.inc(messages.length)
    this.metrics.consumedBytes.inc(bytes)
    this.metrics.batchMessages.observe(messages.length)
    return bytes
  }

  /** The batch's rows per table: events from the workers, the rest from the side-output writers. */
  private async tables(tally: BatchTally, segments: readonly Segment[], turn: PersonTurn | undefined): Promise<{ tables: TableRows[]; release?: () => void }> {
    const nowMs = Date.now()
    let personTables: TableRows[] = []
    let release: (() => void) | undefined
    if (turn) {
      // the parts' rows in the same order, in one piece: the rows' coordinates stay valid, and nothing is concatenated again
      const applied = await this.sinks.persons!.apply(turn, tally.rowParts, this.o.eventsFormat, nowMs, this.rowBuffers)
      release = () => this.rowBuffers.give(applied.memory)
      tally.chunks.splice(0, tally.chunks.length, applied.rows)
      for (const w of applied.warnings) tally.warnings.push(w)
      personTables = applied.tables
    }
    const topic = this.o.topic
    const coords = tally.coords
    const tables: TableRows[] = tally.rows > 0 ? [{
      table: this.o.eventsTable, chunk: tally.eventsChunk(), rows: tally.rows, format: this.o.eventsFormat,
      sourceOf: (i) => ({ topic, partition: coords[2 * i], offset: coords[2 * i + 1] }),
      partitions: [...tally.partitions],
    }] : []
    // group updates are the owners' to apply: on the update topic (acknowledged) before the batch can commit
    await this.sinks.groups.publish(tally.groupUpdates)
    // warnings and taxonomy are derived from the batch as a whole: their source is its offset ranges
    const ranges = segments.map((s) => `${s.partition}:${s.first}-${s.last}`).join(',')
    const batchSource = () => ({ topic, messages: ranges })
    for (const t of [
      ...this.sinks.warnings.rows(tally.warnings, nowMs),
      ...this.sinks.definitions.rows(tally.observations, nowMs),
      ...this.sinks.heatmaps.rows(tally.heatmaps, nowMs),
      ...personTables,
    ]) tables.push({ ...t, sourceOf: batchSource })
    return { tables, release }
  }

  /** Claims group types through the control log; resolves once each claim is folded here (retried while Kafka is unreachable). */
  private async claim(claims: [number, string][]): Promise<void> {
    await Promise.all(claims.map(([project_id, group_type]) => retrying(() => {
      this.metrics.groupTypeClaims.inc()
      return this.control.append({ type: 'claim_group_type', project_id, group_type })
    }, { log: this.log, what: 'group type claim', fields: { project_id } })))
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
