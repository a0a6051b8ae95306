// The control log (DESIGN §2): commands appended to partition 0 of the
// control topic, read by every instance with a plain assignment (no consumer
// group: every instance needs every command) and folded in order. A writer
// waits until its own command is folded, so an admin call reads its own
// write. "Caught up" means: read up to the partition's high watermark as
// asked of the broker after the question arose.
//
// Brokers delete old commands (retention), so reading "from the beginning"
// may start in the middle. An instance folds from offset 0 when the broker
// still has it; otherwise it reads on, buffering, until a complete snapshot
// whose base lies inside what it read (checkpoints.ts), loads that state and
// folds the buffered rest. Until then it is *incomplete*: not ready, no admin
// answers, no ingestion (it would call live tokens unknown and hand out ids
// that belong to others), and it asks the other instances for a snapshot.
//
// The lag is kept current for metrics and readiness: the high watermark is
// read every LAG_REFRESH_MS, and each fold compares itself with the last one
// read. `caughtUpAt` is when the log last held nothing this instance had not
// read (the time that high watermark was read, not when the read got there).
import { randomUUID } from 'node:crypto'
import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import type { SnapshotRef } from '../../workers/protocol'
import { SluiceError } from '../errors'
import type { AckingProducer } from '../kafka'
import { baseKafkaConfig } from '../kafka'
import type { Metrics } from '../metrics'
import { retrying } from '../retrying'
import { Checkpoints, type RecordedCheckpoint, type SnapshotPolicy } from './checkpoints'
import { decodeCommand, encodeCommand, type Command, type Outcome, type SnapshotChunk } from './commands'
import { emptyState, foldCommand, type ControlState } from './fold'
import { buildSnapshot } from './snapshot'
import { snapshotChunks, SnapshotAssembler, type AssembledSnapshot } from './snapshot-chunks'
import { encodeImage, stateFromImage, stateImage, type StateImage } from './state-image'

export const CONTROL_PARTITION = 0
export const LAG_REFRESH_MS = 5_000
/** An instance that finds a checkpoint due waits up to this long first, so that one instance's checkpoint usually spares the others theirs. */
export const CHECKPOINT_JITTER_MS = 1_000
/** How long a clean shutdown waits for its last snapshot. */
export const SHUTDOWN_SNAPSHOT_MS = 5_000
/** How long an appended checkpoint keeps this instance from appending another. */
export const OWN_CHECKPOINT_PATIENCE_MS = 60_000

/** Ids touched by a folded command, for the materializer. */
export interface FoldedChange {
  offset: number
  command: Command
  outcome: Outcome
}

interface OffsetWaiter { offset: number; resolve: () => void }
interface Buffered { offset: number; command: Command | undefined; bytes: number }

export type CommandInput = Command extends infer C ? (C extends Command ? Omit<C, 'request_id' | 'at'> : never) : never

/** The control log did not confirm a command in time (Kafka unreachable): 503 from the catalogue. */
export class ControlLogTimeoutError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CONTROL_TIMEOUT', message)
  }
}

export class ControlLog {
  readonly state: ControlState = emptyState()
  private snapshotRef: SnapshotRef | undefined
  private consumer: Kafka.KafkaConsumer | undefined
  private readonly pending = new Map<string, (o: Outcome) => void>()
  private waiters: OffsetWaiter[] = []
  private readonly listeners: ((c: FoldedChange) => void)[] = []
  private sync: { startedAt: number; promise: Promise<void> } | undefined
  private caughtUpOnce = false
  /** the last high watermark read and when it was asked for */
  private high = { offset: -1, readAt: 0 }
  /** ms since epoch: the last moment this instance had read everything the log held (0: never) */
  caughtUpAt = 0
  private lagTimer: NodeJS.Timeout | undefined
  private lagUnreadable = false

  /** the last offset read (folded, or buffered while incomplete) */
  private position = -1
  /** folding: the state is the fold of everything up to `position`; scanning: looking for a snapshot to start from */
  private phase: 'folding' | 'scanning' = 'folding'
  /** while scanning: what was read since `scanFrom`, to fold once a snapshot gives the state before it */
  private buffered: Buffered[] = []
  private scanFrom = 0
  private completeWaiters: (() => void)[] = []
  /** true when this instance found the topic empty (nothing ever written): it may seed it */
  genesis = false
  private readonly assembler = new SnapshotAssembler()
  private readonly checkpoints: Checkpoints
  /** checkpoints this instance appended and has not folded yet → when appended (ms) */
  private readonly ownCheckpoints = new Map<string, number>()
  private readonly ownRequests = new Set<string>()
  /** another instance asked for a snapshot, or writing ours failed */
  private snapshotWanted = false
  private checkpointTimer: NodeJS.Timeout | undefined
  private stopped = false
  /** the snapshot being produced, if any */
  private writing: Promise<void> | undefined

  constructor(
    private readonly brokers: string,
    private readonly topic: string,
    private readonly producer: AckingProducer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    policy: SnapshotPolicy = { everyCommands: 1_000, everyBytes: 1024 * 1024 },
  ) {
    this.checkpoints = new Checkpoints(policy)
  }

  onFold(listener: (c: FoldedChange) => void): void {
    this.listeners.push(listener)
  }

  async start(): Promise<void> {
    const consumer = new Kafka.KafkaConsumer({
      ...baseKafkaConfig(this.brokers, 'sluice-control-reader'),
      // required by librdkafka, unused: we assign, never join, never commit
      'group.id': `sluice-control-${randomUUID()}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'fetch.wait.max.ms': 20,
      'fetch.queue.backoff.ms': 10,
    }, { 'auto.offset.reset': 'earliest' })
    await new Promise<void>((resolve, reject) => {
      consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`control log reader could not connect: ${err.message}`)) : resolve()))
    })
    this.consumer = consumer
    // offset 0 if the broker still has it; else the reset policy moves the read to the oldest retained command (a gap: see read())
    consumer.assign([{ topic: this.topic, partition: CONTROL_PARTITION, offset: 0 }])
    consumer.on('data', (msg) => this.read(msg))
    consumer.on('event.error', (err) => this.log.warn({ err: err.message }, 'control log reader error'))
    consumer.consume()
    await this.readToHigh()
    this.caughtUpOnce = true
    if (this.complete) {
      this.log.info({ offset: this.state.offset, projects: this.state.projects.size, environments: this.state.environments.size }, 'control log caught up')
    } else {
      this.log.error({ topic: this.topic, retained_from: this.scanFrom }, this.problem!)
      void this.requestSnapshot()
    }
    this.lagTimer = setInterval(() => { void this.refreshLag() }, LAG_REFRESH_MS)
    this.lagTimer.unref()
  }

  /** True once the state is the fold of the whole log (from offset 0 or from a snapshot). */
  get complete(): boolean {
    return this.phase === 'folding'
  }

  /** Why this instance refuses to serve, in words an operator can act on; undefined when complete. */
  get problem(): string | undefined {
    if (this.complete) return undefined
    return `control log incomplete: topic ${this.topic} no longer holds offsets below ${this.scanFrom} (broker retention) and holds no complete snapshot after them, ` +
      'so this instance cannot know every project, token and id: it serves nothing and ingests nothing. It asked the other instances for a snapshot and starts by itself once one is written. ' +
      'If no instance with the full state is running: restore the topic from a backup, or start one instance with SLUICE_CONTROL_RECOVER=clickhouse to rebuild the state from the copy materialized in ClickHouse (commands after its last write are lost). ' +
      'Keep the topic\'s retention.ms=-1 and retention.bytes=-1 (README, "Running in production")'
  }

  /** Resolves once the state is complete. */
  whenComplete(): Promise<void> {
    if (this.complete) return Promise.resolve()
    return new Promise((resolve) => this.completeWaiters.push(resolve))
  }

  /** Reads the high watermark once and updates the lag (metrics, readiness). */
  private async refreshLag(): Promise<void> {
    if (!this.consumer) return
    const readAt = Date.now()
    try {
      this.noteHigh((await this.watermarks()).high, readAt)
      if (this.lagUnreadable) this.log.info({ topic: this.topic }, 'control log high watermark readable again')
      this.lagUnreadable = false
    } catch (err) {
      // one line per failure streak; readiness turns false once caughtUpAt is old
      if (!this.lagUnreadable) this.log.warn({ err: (err as Error).message, topic: this.topic }, 'control log: cannot read the high watermark; lag unknown')
      this.lagUnreadable = true
    }
  }

  private noteHigh(offset: number, readAt: number): void {
    if (readAt >= this.high.readAt) this.high = { offset, readAt }
    this.updateLag()
  }

  private updateLag(): void {
    const lag = Math.max(0, this.high.offset - 1 - this.position)
    this.metrics.controlLag.set(lag)
    this.metrics.controlComplete.set(this.complete ? 1 : 0)
    if (lag === 0 && this.high.readAt > this.caughtUpAt) this.caughtUpAt = this.high.readAt
  }

  private read(msg: Kafka.Message): void {
    if (msg.partition !== CONTROL_PARTITION || msg.offset <= this.position) return
    // offsets of one partition are consecutive here (no transactions, no compaction): a jump means retention deleted what lay between
    if (this.phase === 'folding' && msg.offset > this.position + 1) this.lostContinuity(msg.offset)
    this.position = msg.offset
    const command = decodeCommand(msg.value)
    const bytes = msg.value?.length ?? 0
    if (this.phase === 'scanning') this.scan({ offset: msg.offset, command, bytes })
    else this.fold({ offset: msg.offset, command, bytes })
    this.metrics.controlOffset.set(this.state.offset)
    this.updateLag()
    if (this.waiters.length > 0) {
      const still: OffsetWaiter[] = []
      for (const w of this.waiters) (w.offset <= this.position ? w.resolve() : still.push(w))
      this.waiters = still
    }
  }

  /** The log does not reach back to what this instance folded last: start over from a snapshot. */
  private lostContinuity(firstRetained: number): void {
    if (this.position >= 0 || this.state.offset >= 0) {
      this.log.error({ folded: this.state.offset, next_read: firstRetained }, `control log: offsets ${this.position + 1}–${firstRetained - 1} were deleted before this instance read them; its state is incomplete`)
    } else {
      this.log.info({ first_retained: firstRetained }, 'control log: older commands were deleted by retention; looking for a snapshot to start from')
    }
    this.phase = 'scanning'
    this.scanFrom = firstRetained
    this.buffered = []
    this.metrics.controlComplete.set(0)
  }

  private scan(entry: Buffered): void {
    this.buffered.push(entry)
    if (entry.command?.type !== 'snapshot') return
    const r = this.assembler.add(entry.command, entry.offset)
    if (r.kind === 'corrupt') this.log.warn({ snapshot_id: r.snapshotId, base_offset: r.baseOffset }, `control log: ignored a snapshot: ${r.problem}`)
    // usable when every command after its base was read here
    if (r.kind === 'complete' && r.snapshot.baseOffset >= this.scanFrom - 1) this.startFrom(r.snapshot, r.image)
  }

  private startFrom(snapshot: AssembledSnapshot, image: StateImage): void {
    Object.assign(this.state, stateFromImage(image))
    this.checkpoints.adopt(snapshot.baseOffset, image, snapshot.text, snapshot.hash)
    this.checkpoints.snapshotSize(snapshot.payloadBytes)
    const rest = this.buffered.filter((e) => e.offset > snapshot.baseOffset)
    this.buffered = []
    this.phase = 'folding'
    this.log.info({ base_offset: snapshot.baseOffset, snapshot_id: snapshot.snapshotId, then_folded: rest.length, projects: this.state.projects.size, environments: this.state.environments.size }, 'control log: started from a snapshot')
    // the materialized copy in ClickHouse may predate the snapshot: rewrite it all
    const all: Outcome = { ok: true, project_id: 0, touched: { projects: [...this.state.projects.keys()], environments: [...this.state.environments.keys()] } }
    for (const l of this.listeners) l({ offset: snapshot.baseOffset, command: { type: 'checkpoint', request_id: snapshot.snapshotId, at: new Date(0).toISOString() }, outcome: all })
    for (const e of rest) this.fold(e)
    this.metrics.controlComplete.set(1)
    for (const w of this.completeWaiters.splice(0)) w()
  }

  private fold(entry: Buffered): void {
    const { offset, command: cmd } = entry
    if (!cmd) {
      this.state.offset = offset
      this.log.warn({ offset }, 'control log: skipped a value that is not a known command')
      return
    }
    const outcome = foldCommand(this.state, cmd, offset)
    const reply = this.pending.get(cmd.request_id)
    if (reply) {
      this.pending.delete(cmd.request_id)
      reply(outcome)
    }
    for (const l of this.listeners) l({ offset, command: cmd, outcome })
    switch (cmd.type) {
      case 'checkpoint': {
        const recorded = this.checkpoints.record(offset, this.state)
        if (this.ownCheckpoints.delete(cmd.request_id)) void this.writeSnapshot(recorded)
        break
      }
      case 'snapshot': this.checkSnapshot(cmd, offset); break
      case 'request_snapshot':
        if (!this.ownRequests.has(cmd.request_id)) {
          this.snapshotWanted = true
          this.scheduleCheckpoint()
        }
        break
      default:
        this.checkpoints.counted(entry.bytes)
        if (this.checkpoints.due) this.scheduleCheckpoint()
    }
  }

  /** A snapshot read back while folding: does it agree with this instance's own state at its base? */
  private checkSnapshot(chunk: SnapshotChunk, offset: number): void {
    const r = this.assembler.add(chunk, offset)
    if (r.kind === 'partial') return
    if (r.kind === 'corrupt') {
      this.metrics.controlSnapshotChecks.inc({ result: 'corrupt' })
      this.log.warn({ snapshot_id: r.snapshotId, base_offset: r.baseOffset }, `control log: ignored a snapshot: ${r.problem}`)
      return
    }
    this.snapshotWanted = false
    this.checkpoints.snapshotSize(r.snapshot.payloadBytes)
    const verdict = this.checkpoints.verify(r.snapshot.baseOffset, r.snapshot.hash, r.image)
    this.metrics.controlSnapshotChecks.inc({ result: verdict.kind })
    if (verdict.kind === 'diverged') {
      this.log.error({ base_offset: r.snapshot.baseOffset, snapshot_id: r.snapshot.snapshotId, difference: verdict.difference },
        `control state diverged: the snapshot of offset ${r.snapshot.baseOffset} differs from this instance's fold: ${verdict.difference}`)
    }
  }

  /** Appends a checkpoint soon, unless another instance's checkpoint makes it unneeded meanwhile. */
  private scheduleCheckpoint(delayMs = Math.random() * CHECKPOINT_JITTER_MS): void {
    // one of ours still on its way through the log: its snapshot will come
    if (this.checkpointTimer || this.stopped || !this.complete || this.checkpointInFlight()) return
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined
      if (this.stopped || !this.complete || this.checkpointInFlight() || !(this.checkpoints.due || this.snapshotWanted)) return
      this.snapshotWanted = false
      void this.appendCheckpoint()
    }, delayMs)
    this.checkpointTimer.unref()
  }

  /** One of ours is still on its way through the log (for a minute at most: it may have been lost). */
  private checkpointInFlight(): boolean {
    const now = Date.now()
    for (const [id, at] of this.ownCheckpoints) if (now - at > OWN_CHECKPOINT_PATIENCE_MS) this.ownCheckpoints.delete(id)
    return this.ownCheckpoints.size > 0
  }

  /**
   * Appends a checkpoint; once it is folded, this instance writes its state
   * there as a snapshot. Not waiting for the fold: an instance far behind the
   * log folds its own checkpoint late, and still writes the snapshot then.
   */
  async appendCheckpoint(): Promise<void> {
    const requestId = randomUUID()
    this.ownCheckpoints.set(requestId, Date.now())
    try {
      await this.producer.produce(this.topic, CONTROL_PARTITION, encodeCommand({ type: 'checkpoint', request_id: requestId, at: new Date().toISOString() }), null)
    } catch (err) {
      this.ownCheckpoints.delete(requestId)
      this.log.warn({ err: (err as Error).message }, 'control log: could not append a checkpoint; will retry')
      this.snapshotWanted = true
      this.scheduleCheckpoint(5_000)
    }
  }

  private writeSnapshot(c: RecordedCheckpoint): Promise<void> {
    const writing = this.produceSnapshot(c)
    this.writing = writing
    return writing
  }

  private async produceSnapshot(c: RecordedCheckpoint): Promise<void> {
    const chunks = snapshotChunks(randomUUID(), c.offset, c.text, c.hash)
    const at = new Date().toISOString()
    try {
      // one partition and an idempotent producer: the chunks land in order
      await Promise.all(chunks.map((chunk) => this.producer.produce(this.topic, CONTROL_PARTITION, encodeCommand({ ...chunk, request_id: randomUUID(), at }), null)))
      this.metrics.controlSnapshotsWritten.inc()
      this.metrics.controlSnapshotBytes.set(c.text.length)
      this.log.info({ base_offset: c.offset, bytes: c.text.length, on_log: chunks.reduce((n, x) => n + x.data.length, 0), chunks: chunks.length, projects: c.image.projects.length, environments: c.image.environments.length }, 'control log: snapshot written')
    } catch (err) {
      this.log.warn({ err: (err as Error).message, base_offset: c.offset }, 'control log: could not write a snapshot; will retry')
      this.snapshotWanted = true
      this.scheduleCheckpoint(5_000)
    }
  }

  /**
   * On a clean shutdown, with commands folded since the last checkpoint:
   * snapshot them, so that a burst just before a shutdown never leaves the
   * retained log without a usable snapshot. Bounded by SHUTDOWN_SNAPSHOT_MS.
   */
  async snapshotBeforeLeaving(boundMs = SHUTDOWN_SNAPSHOT_MS): Promise<void> {
    if (!this.complete || !this.consumer || !this.checkpoints.anySince) return
    const deadline = Date.now() + boundMs
    if (!this.checkpointInFlight()) await this.appendCheckpoint()
    while (this.checkpointInFlight() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (this.writing) await Promise.race([this.writing, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))])
  }

  /** Asks the instances that hold the full state to write a snapshot (this one has none to start from). */
  private async requestSnapshot(): Promise<void> {
    const request_id = randomUUID()
    this.ownRequests.add(request_id)
    try {
      await this.producer.produce(this.topic, CONTROL_PARTITION, encodeCommand({ type: 'request_snapshot', request_id, at: new Date().toISOString() }), null)
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'control log: could not ask for a snapshot')
    }
  }

  /**
   * Appends a snapshot of the current state unless the log already has one
   * this instance read back: at first start (so that the log never depends
   * on its first command surviving retention) and after a re-seed.
   */
  snapshotIfNone(): void {
    if (!this.complete || this.checkpoints.newestSnapshot >= 0 || this.checkpointInFlight()) return
    void this.appendCheckpoint()
  }

  /**
   * Recovery: appends a checkpoint now and writes `build()`'s state as the
   * snapshot at it, so that this and every other incomplete instance start
   * from it. For an operator's explicit decision only (SLUICE_CONTROL_RECOVER).
   */
  async publishSnapshotOf(build: () => ControlState): Promise<number> {
    const offset = await this.producer.produce(this.topic, CONTROL_PARTITION, encodeCommand({ type: 'checkpoint', request_id: randomUUID(), at: new Date().toISOString() }), null)
    const state = build()
    state.offset = offset
    const image = stateImage(state)
    await this.writeSnapshot({ offset, image, ...encodeImage(image) })
    return offset
  }

  /** The control state as workers need it; rebuilt only when the state moved. */
  snapshot(): SnapshotRef {
    if (!this.snapshotRef || this.snapshotRef.version !== this.state.offset) this.snapshotRef = buildSnapshot(this.state, this.state.offset)
    return this.snapshotRef
  }

  private watermarks(): Promise<{ low: number; high: number }> {
    return new Promise((resolve, reject) => {
      this.consumer!.queryWatermarkOffsets(this.topic, CONTROL_PARTITION, 5_000, (err, w) => (err ? reject(err) : resolve({ low: w.lowOffset, high: w.highOffset })))
    })
  }

  private waitForPosition(offset: number): Promise<void> {
    if (offset <= this.position) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ offset, resolve }))
  }

  /** Reads up to the high watermark as it is now. */
  private async readToHigh(): Promise<void> {
    const readAt = Date.now()
    const { low, high } = await retrying(() => this.watermarks(), {
      log: this.log, what: 'control log high watermark read', fields: { topic: this.topic }, logEvery: 10, waitMs: () => 200,
    })
    if (high === 0 && this.position < 0) this.genesis = true
    // nothing retained past what this instance read: no message will arrive to show the gap
    if (low >= high && high - 1 > this.position) {
      if (this.phase === 'folding') this.lostContinuity(high)
      this.position = high - 1
    }
    this.noteHigh(high, readAt)
    await this.waitForPosition(high - 1)
  }

  /** Reads up to the high watermark and waits, if need be, for a complete state. */
  private async catchUp(): Promise<void> {
    await this.readToHigh()
    await this.whenComplete()
  }

  /**
   * Resolves once this instance has folded everything the control log held at
   * or after `since` (ms). Concurrent callers share one broker round trip.
   * While the state is incomplete it does not resolve: nothing is decided on a partial state.
   */
  caughtUpSince(since: number): Promise<void> {
    if (this.sync && this.sync.startedAt >= since) return this.sync.promise
    const startedAt = Date.now()
    const promise = this.catchUp()
    this.sync = { startedAt, promise }
    return promise
  }

  get ready(): boolean {
    return this.caughtUpOnce && this.complete
  }

  /** Appends a command and resolves with its outcome once this instance folded it. */
  async append(input: CommandInput, timeoutMs = 15_000, requestId: string = randomUUID()): Promise<Outcome> {
    const cmd = { ...input, request_id: requestId, at: new Date().toISOString() } as Command
    const outcome = new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cmd.request_id)
        reject(new ControlLogTimeoutError(`the control log did not fold command ${cmd.type} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(cmd.request_id, (o) => { clearTimeout(timer); resolve(o) })
    })
    try {
      await this.producer.produce(this.topic, CONTROL_PARTITION, encodeCommand(cmd), null)
    } catch (err) {
      this.pending.get(cmd.request_id)?.({ ok: false, error: 'invalid', message: 'unreachable' })
      this.pending.delete(cmd.request_id)
      throw new ControlLogTimeoutError(`could not append to the control log: ${(err as Error).message}`)
    }
    return outcome
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.lagTimer) clearInterval(this.lagTimer)
    this.lagTimer = undefined
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer)
    this.checkpointTimer = undefined
    const c = this.consumer
    this.consumer = undefined
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()))
  }
}
