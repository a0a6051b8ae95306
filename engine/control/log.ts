// The control log (DESIGN §2): commands appended to partition 0 of the
// control topic, read by every instance from the beginning with a plain
// assignment (no consumer group: every instance needs every command) and
// folded in order. A writer waits until its own command is folded, so an admin
// call reads its own write. "Caught up" means: folded up to the partition's
// high watermark as asked of the broker after the question arose.
//
// The lag is kept current for metrics and readiness: the high watermark is
// read every LAG_REFRESH_MS, and each fold compares itself with the last one
// read. `caughtUpAt` is when the log last held nothing this instance had not
// folded (the time that high watermark was read, not when the fold got there).
import { randomUUID } from 'node:crypto'
import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import type { SnapshotRef } from '../../workers/protocol'
import type { AckingProducer } from '../kafka'
import { baseKafkaConfig } from '../kafka'
import type { Metrics } from '../metrics'
import { decodeCommand, encodeCommand, type Command, type Outcome } from './commands'
import { emptyState, foldCommand, type ControlState } from './fold'
import { buildSnapshot } from './snapshot'

export const CONTROL_PARTITION = 0
export const LAG_REFRESH_MS = 5_000

/** Ids touched by a folded command, for the materializer. */
export interface FoldedChange {
  offset: number
  command: Command
  outcome: Outcome
}

interface OffsetWaiter { offset: number; resolve: () => void }

export type CommandInput = Command extends infer C ? (C extends Command ? Omit<C, 'request_id' | 'at'> : never) : never

export class ControlLogTimeoutError extends Error {
  readonly code = 'SLUICE_ERR_CONTROL_TIMEOUT'
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
  /** ms since epoch: the last moment this instance had folded everything the log held (0: never) */
  caughtUpAt = 0
  private lagTimer: NodeJS.Timeout | undefined
  private lagUnreadable = false

  constructor(
    private readonly brokers: string,
    private readonly topic: string,
    private readonly producer: AckingProducer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

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
    consumer.assign([{ topic: this.topic, partition: CONTROL_PARTITION, offset: 0 }])
    consumer.on('data', (msg) => this.fold(msg))
    consumer.on('event.error', (err) => this.log.warn({ err: err.message }, 'control log reader error'))
    consumer.consume()
    await this.catchUp()
    this.caughtUpOnce = true
    this.log.info({ offset: this.state.offset, projects: this.state.projects.size, environments: this.state.environments.size }, 'control log caught up')
    this.lagTimer = setInterval(() => { void this.refreshLag() }, LAG_REFRESH_MS)
    this.lagTimer.unref()
  }

  /** Reads the high watermark once and updates the lag (metrics, readiness). */
  private async refreshLag(): Promise<void> {
    if (!this.consumer) return
    const readAt = Date.now()
    try {
      this.noteHigh(await this.highWatermark(), readAt)
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
    const lag = Math.max(0, this.high.offset - 1 - this.state.offset)
    this.metrics.controlLag.set(lag)
    if (lag === 0 && this.high.readAt > this.caughtUpAt) this.caughtUpAt = this.high.readAt
  }

  private fold(msg: Kafka.Message): void {
    if (msg.partition !== CONTROL_PARTITION || msg.offset <= this.state.offset) return
    const cmd = decodeCommand(msg.value)
    if (!cmd) {
      this.state.offset = msg.offset
      this.log.warn({ offset: msg.offset }, 'control log: skipped a value that is not a known command')
    } else {
      const outcome = foldCommand(this.state, cmd, msg.offset)
      const reply = this.pending.get(cmd.request_id)
      if (reply) {
        this.pending.delete(cmd.request_id)
        reply(outcome)
      }
      for (const l of this.listeners) l({ offset: msg.offset, command: cmd, outcome })
    }
    this.metrics.controlOffset.set(this.state.offset)
    this.updateLag()
    if (this.waiters.length > 0) {
      const still: OffsetWaiter[] = []
      for (const w of this.waiters) (w.offset <= this.state.offset ? w.resolve() : still.push(w))
      this.waiters = still
    }
  }

  /** The control state as workers need it; rebuilt only when the state moved. */
  snapshot(): SnapshotRef {
    if (!this.snapshotRef || this.snapshotRef.version !== this.state.offset) this.snapshotRef = buildSnapshot(this.state, this.state.offset)
    return this.snapshotRef
  }

  private highWatermark(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.consumer!.queryWatermarkOffsets(this.topic, CONTROL_PARTITION, 5_000, (err, w) => (err ? reject(err) : resolve(w.highOffset)))
    })
  }

  private waitForOffset(offset: number): Promise<void> {
    if (offset <= this.state.offset) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ offset, resolve }))
  }

  private async catchUp(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const readAt = Date.now()
      try {
        const high = await this.highWatermark()
        this.noteHigh(high, readAt)
        await this.waitForOffset(high - 1)
        return
      } catch (err) {
        if (attempt % 10 === 0) this.log.warn({ err: (err as Error).message, topic: this.topic }, 'control log: cannot read the high watermark yet, retrying')
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }

  /**
   * Resolves once this instance has folded everything the control log held at
   * or after `since` (ms). Concurrent callers share one broker round trip.
   */
  caughtUpSince(since: number): Promise<void> {
    if (this.sync && this.sync.startedAt >= since) return this.sync.promise
    const startedAt = Date.now()
    const promise = this.catchUp()
    this.sync = { startedAt, promise }
    return promise
  }

  get ready(): boolean {
    return this.caughtUpOnce
  }

  /** Appends a command and resolves with its outcome once this instance folded it. */
  async append(input: CommandInput, timeoutMs = 15_000): Promise<Outcome> {
    const cmd = { ...input, request_id: randomUUID(), at: new Date().toISOString() } as Command
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
    if (this.lagTimer) clearInterval(this.lagTimer)
    this.lagTimer = undefined
    const c = this.consumer
    this.consumer = undefined
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()))
  }
}
