// The ingestion consumer: node-rdkafka KafkaConsumer in SLUICE_KAFKA_GROUP on
// SLUICE_KAFKA_TOPIC, consumed in batches on the main thread. It never
// commits on its own: offsets are committed only through commit(), called
// after ClickHouse acknowledged the rows (engine/source/offsets.ts).
//
// Backpressure: when in-flight bytes or outstanding tasks reach their bound
// the assigned partitions are paused, but the loop keeps polling, so the
// member keeps its place in the group however long ClickHouse is away
// (max.poll.interval.ms would otherwise evict it). Rebalances are
// cooperative-sticky: only the partitions that move are revoked.
//
// Commits are asynchronous; librdkafka reports each one's result
// (offset_commit_cb). A commit refused during a rebalance (another member
// joining, e.g. the group-update consumer of this instance at start) would
// otherwise stay refused until the next batch commits again, which on an idle
// topic is never: the Committer re-commits its last points (onCommitFailed).
import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { baseKafkaConfig } from '../kafka'
import type { CommitPoint } from './offsets'

/**
 * Consume batches waiting in Kafka (summed over the owned partitions) from
 * which the consumer counts as behind: 50,000 messages at the default
 * SLUICE_CONSUME_BATCH, seconds of input at any rate a deployment runs at.
 * Not "consume calls come back full", nor 4 batches: at half the bench's
 * maximum rate the engine sometimes has that many waiting, the longer insert
 * wait then kept it behind, and produce→queryable latency went from 1.3 to
 * 4.7–5.8 s (p50).
 */
const BEHIND_BATCHES = 25

export interface ConsumerOptions {
  brokers: string
  topic: string
  group: string
  batchSize: number
  maxMessageBytes: number
  log: Logger
  /** false while the engine holds as much unacknowledged data as it may: partitions pause */
  hasCapacity: (paused: boolean) => boolean
  /** resolves when a worker slot is free (or soon, so that polling goes on): no pause, just pacing */
  waitForSlot: () => Promise<void>
  onBatch: (messages: Kafka.Message[]) => void
}

export class IngestionConsumer {
  private readonly consumer: Kafka.KafkaConsumer
  private running = false
  private paused = false
  /** the last consume call came back short of a batch (keepingUp) */
  private short = false
  private loopDone: Promise<void> | undefined
  /** ms timestamp of the last loop iteration (liveness) */
  lastLoopAt = Date.now()
  private readonly assignedSet = new Set<number>()
  private readonly revokedListeners: ((partitions: number[]) => void)[] = []
  private readonly commitFailedListeners: ((err: { message: string }) => void)[] = []
  private readonly commitAcceptedListeners: (() => void)[] = []
  /**
   * Where the loop spent its time, cumulative ms (engine/status/sampler.ts
   * turns them into shares of a window): waiting for a free worker slot,
   * fetching while consuming, fetching while paused for memory.
   */
  readonly waits = { slotMs: 0, fetchMs: 0, pausedMs: 0 }

  constructor(private readonly o: ConsumerOptions) {
    this.consumer = new Kafka.KafkaConsumer({
      ...baseKafkaConfig(o.brokers, 'sluice-ingestion'),
      'group.id': o.group,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'partition.assignment.strategy': 'cooperative-sticky',
      // librdkafka ≥ 2.2 otherwise idles 1 s whenever its prefetch queue fills (../shared/INFRA.md)
      'fetch.queue.backoff.ms': 10,
      // A fetch that finds no new data waits this long at the broker. Kafka answers it as soon as data
      // arrives; librdkafka's mock cluster does not, so its default 500 ms stalled every catch-up
      // (bench/end-to-end.bench.ts). Only an idle consumer's request rate depends on it.
      'fetch.wait.max.ms': 50,
      'fetch.message.max.bytes': Math.max(1_048_576, o.maxMessageBytes + 1024),
      // librdkafka's prefetch queue is memory outside SLUICE_MAX_INFLIGHT_BYTES: 16 MiB is ~0.3 s of input
      // at 40k events/s, and the bench reaches the same throughput as with 64 MiB
      'queued.max.messages.kbytes': 16_384,
      // a consume call returns what is ready once it reaches the end of a partition, instead of waiting to fill
      // SLUICE_CONSUME_BATCH (node-rdkafka then waits 1 ms for more, not 100): batches grow with the backlog
      'enable.partition.eof': true,
      'session.timeout.ms': 10_000,
      'heartbeat.interval.ms': 1_000,
      'rebalance_cb': (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) => this.rebalance(err, assignment),
      'offset_commit_cb': true,
    } as Kafka.ConsumerGlobalConfig, { 'auto.offset.reset': 'earliest' })
  }

  /** Called when an asynchronous commit was refused by the broker (not for "nothing to commit"). */
  onCommitFailed(listener: (err: { message: string }) => void): void {
    this.commitFailedListeners.push(listener)
  }

  /** Called when the broker accepted a commit ("nothing to commit" too: those offsets are already there). */
  onCommitAccepted(listener: () => void): void {
    this.commitAcceptedListeners.push(listener)
  }

  /** Called with revoked partitions before they are given up: their in-flight work must not commit for the next owner. */
  onRevoked(listener: (partitions: number[]) => void): void {
    this.revokedListeners.push(listener)
  }

  get assigned(): number[] {
    return [...this.assignedSet].sort((a, b) => a - b)
  }

  private toppars(partitions: Iterable<number>): Kafka.TopicPartition[] {
    return [...partitions].map((partition) => ({ topic: this.o.topic, partition }))
  }

  private rebalance(err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]): void {
    const partitions = assignment.map((a) => a.partition)
    // cooperative-sticky is configured above; while the consumer closes, node-rdkafka can report the
    // protocol as NONE, and unassign() then fails inside librdkafka and the disconnect never completes
    // (Blizzard/node-rdkafka#1144): only a group that settled on EAGER gets the eager calls
    const cooperative = this.consumer.rebalanceProtocol() !== 'EAGER'
    try {
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        if (cooperative) this.consumer.incrementalAssign(assignment)
        else this.consumer.assign(assignment)
        if (!cooperative) this.assignedSet.clear()
        for (const p of partitions) this.assignedSet.add(p)
        if (this.paused && partitions.length > 0) this.consumer.pause(this.toppars(partitions))
        this.o.log.info({ partitions, assigned: this.assigned }, 'partitions assigned')
      } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
        // forget in-flight segments first: their acknowledgements must not commit for the next owner
        for (const l of this.revokedListeners) l(partitions)
        if (cooperative) this.consumer.incrementalUnassign(assignment)
        else this.consumer.unassign()
        for (const p of partitions) this.assignedSet.delete(p)
        if (!cooperative) this.assignedSet.clear()
        this.o.log.info({ partitions, assigned: this.assigned }, 'partitions revoked')
      } else {
        this.o.log.error({ err: err.message }, 'rebalance error')
      }
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, 'could not apply a rebalance')
    }
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`ingestion consumer could not connect: ${err.message}`)) : resolve()))
    })
    this.consumer.on('event.error', (err) => this.o.log.warn({ err: err.message }, 'ingestion consumer error'))
    this.consumer.on('offset.commit', (err) => {
      if (!err || err.code === Kafka.CODES.ERRORS.ERR__NO_OFFSET) {
        for (const listener of this.commitAcceptedListeners) listener()
        return
      }
      for (const listener of this.commitFailedListeners) listener(err)
    })
    this.consumer.setDefaultConsumeTimeout(100)
    this.consumer.subscribe([this.o.topic])
    this.running = true
    this.loopDone = this.loop()
  }

  private fetch(n: number): Promise<Kafka.Message[]> {
    return new Promise((resolve, reject) => {
      this.consumer.consume(n, (err, messages) => (err ? reject(err) : resolve(messages)))
    })
  }

  private applyBackpressure(): void {
    const capacity = this.o.hasCapacity(this.paused)
    if (!capacity && !this.paused) {
      this.paused = true
      this.consumer.pause(this.toppars(this.assignedSet))
      this.o.log.info({ partitions: this.assigned }, 'pausing consumption: in-flight limit reached')
    } else if (capacity && this.paused) {
      this.paused = false
      this.consumer.resume(this.toppars(this.assignedSet))
      this.o.log.info({ partitions: this.assigned }, 'resuming consumption')
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.lastLoopAt = Date.now()
      let messages: Kafka.Message[]
      try {
        const t0 = performance.now()
        await this.o.waitForSlot()
        const t1 = performance.now()
        this.waits.slotMs += t1 - t0
        this.applyBackpressure()
        // paused: still poll (rebalances, group liveness); a few already-fetched messages may still arrive
        const paused = this.paused
        messages = await this.fetch(paused ? 1 : this.o.batchSize)
        if (paused) this.waits.pausedMs += performance.now() - t1
        else this.waits.fetchMs += performance.now() - t1
        // short of a batch: the call reached the end of the partitions (enable.partition.eof) before filling up
        this.short = !paused && messages.length < this.o.batchSize
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'consume failed; retrying')
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      if (messages.length > 0 && this.running) this.o.onBatch(messages)
    }
  }

  /**
   * Keeping up with the topic: the last consume call came back short of a
   * batch, having read everything its partitions held. The batcher then
   * inserts sooner (SLUICE_INSERT_IDLE_MS): waiting longer would add latency,
   * not rows.
   */
  get keepingUp(): boolean {
    return this.short && !this.paused
  }

  /**
   * Behind the topic (engine/sink/writers/batcher.ts writes larger inserts then): consumption is paused at
   * the in-flight bound, or more than a few consume batches are waiting. From librdkafka's cached high
   * watermarks (updated by every fetch) and the consumer's positions: no request.
   */
  get behind(): boolean {
    if (this.paused) return true
    if (this.assignedSet.size === 0) return false
    let waiting = 0
    try {
      for (const p of this.consumer.position(this.toppars(this.assignedSet))) {
        if (p.offset < 0) continue // nothing fetched yet
        const high = this.consumer.getWatermarkOffsets(this.o.topic, p.partition).highOffset
        if (high > p.offset) waiting += high - p.offset
      }
    } catch {
      return false // not connected (closing): the interval, as before
    }
    return waiting >= BEHIND_BATCHES * this.o.batchSize
  }

  commit(points: readonly CommitPoint[]): boolean {
    if (points.length === 0) return false
    try {
      this.consumer.commit(points.map((p) => ({ topic: this.o.topic, partition: p.partition, offset: p.offset })))
      return true
    } catch (err) {
      // a commit that fails is repeated by the next one (they are cumulative); at worst the batch is redelivered
      this.o.log.warn({ err: (err as Error).message }, 'offset commit failed')
      return false
    }
  }

  /** The last commit before leaving: synchronous, so that it is on the broker before the group is left. */
  commitSync(points: readonly CommitPoint[]): void {
    const owned = points.filter((p) => this.assignedSet.has(p.partition))
    if (owned.length === 0) return
    try {
      this.consumer.commitSync(owned.map((p) => ({ topic: this.o.topic, partition: p.partition, offset: p.offset })))
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'final offset commit failed; the uncommitted messages will be redelivered')
    }
  }

  /** Stops fetching; in-flight batches are finished by the caller. */
  async stopFetching(): Promise<void> {
    this.running = false
    await this.loopDone
  }

  async close(): Promise<void> {
    this.running = false
    await this.loopDone
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()))
  }
}
