// The group-update consumer: a second node-rdkafka KafkaConsumer in
// SLUICE_KAFKA_GROUP, subscribed to SLUICE_GROUPS_TOPIC only. A consumer
// group assigns each topic's partitions among the members subscribed to it,
// so every instance has one member per topic and each update-topic partition
// has exactly one owner, which alone writes that partition's groups.
//
//   fetch ─► decode ─► GroupWriter.write (ClickHouse acknowledged) ─► commitSync ─► fetch …
//
// One batch at a time, serially: the next fetch waits for the commit. A
// revocation (cooperative-sticky: only moving partitions) is answered after
// the batch in flight is written and committed, so the next owner loads each
// group from ClickHouse after this owner's last acknowledged write, and finds
// the committed offset just past it. Offsets never commit on their own.
import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { baseKafkaConfig } from '../kafka'
import type { Metrics } from '../metrics'
import { decodeGroupUpdate } from '../sink/format/group-update-message'
import type { GroupWriter, SourcedGroupUpdate } from '../sink/writers/groups'

export interface GroupConsumerOptions {
  brokers: string
  topic: string
  group: string
  batchSize: number
  log: Logger
}

export class GroupUpdateConsumer {
  private readonly consumer: Kafka.KafkaConsumer
  private running = false
  private loopDone: Promise<void> | undefined
  private readonly owned = new Set<number>()
  /** the batch being written and committed; revocations wait for it */
  private inflight: Promise<void> = Promise.resolve()
  /** revocations waiting for the batch in flight, chained: the loop fetches again only after them */
  private revoking: Promise<void> = Promise.resolve()
  /** partition → the offset after the last update written here (what the commit says) */
  private readonly applied = new Map<number, number>()
  private readonly revokedListeners: ((partitions: number[]) => void)[] = []
  private started = false
  /** a first assignment (maybe empty) came: the join that follows start() is over */
  private joined = false
  /** when the loop last began an iteration (liveness, engine/health.ts) */
  lastLoopAt = Date.now()
  /** since when the batch in flight is being written (retried until ClickHouse acknowledges), 0 when none */
  writingSince = 0

  constructor(private readonly o: GroupConsumerOptions, private readonly writer: GroupWriter, private readonly metrics: Metrics) {
    this.consumer = new Kafka.KafkaConsumer({
      ...baseKafkaConfig(o.brokers, 'sluice-groups'),
      'group.id': o.group,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // the same assignor as the ingestion consumer: one group, one protocol
      'partition.assignment.strategy': 'cooperative-sticky',
      'fetch.wait.max.ms': 50,
      'session.timeout.ms': 10_000,
      'heartbeat.interval.ms': 1_000,
      'rebalance_cb': (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) => this.rebalance(err, assignment),
    } as Kafka.ConsumerGlobalConfig, { 'auto.offset.reset': 'earliest' })
  }

  /** Called when partitions are revoked, before the batch in flight finishes (its lag is the next owner's to report). */
  onRevoked(listener: (partitions: number[]) => void): void {
    this.revokedListeners.push(listener)
  }

  /** Started and connected to the cluster (readiness, engine/health.ts). */
  get connected(): boolean {
    return this.started && this.consumer.isConnected()
  }

  get assigned(): number[] {
    return [...this.owned].sort((a, b) => a - b)
  }

  private rebalance(err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]): void {
    const partitions = assignment.map((a) => a.partition)
    try {
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        this.consumer.incrementalAssign(assignment)
        this.joined = true
        for (const p of partitions) this.owned.add(p)
        this.metrics.groupPartitions.set(this.owned.size)
        this.o.log.info({ partitions, owned: this.assigned }, 'group-update partitions assigned: this instance writes their groups')
      } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
        // nothing of these partitions is fetched from now on; what is in flight finishes first
        for (const p of partitions) this.owned.delete(p)
        this.metrics.groupPartitions.set(this.owned.size)
        for (const listener of this.revokedListeners) listener(partitions)
        const inflight = this.inflight
        this.revoking = this.revoking.then(() => inflight).then(() => {
          this.writer.forget(partitions)
          this.consumer.incrementalUnassign(assignment)
          this.o.log.info({ partitions, owned: this.assigned }, 'group-update partitions revoked after their last write')
        }).catch((e: Error) => this.o.log.error({ err: e.message }, 'could not give up group-update partitions'))
      } else {
        this.o.log.error({ err: err.message }, 'group-update consumer rebalance error')
      }
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, 'could not apply a group-update rebalance')
    }
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`group-update consumer could not connect: ${err.message}`)) : resolve()))
    })
    this.consumer.on('event.error', (err) => this.o.log.warn({ err: err.message }, 'group-update consumer error'))
    this.consumer.setDefaultConsumeTimeout(100)
    this.consumer.subscribe([this.o.topic])
    this.running = true
    this.started = true
    this.loopDone = this.loop()
  }

  private async catchUp(deadline: number): Promise<void> {
    // stopped while still joining (a first join waits seconds): the updates of the drained batches may be on partitions about to be ours
    while (!this.joined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const partitions = this.assigned
    if (partitions.length === 0) return
    const ends = await Promise.all(partitions.map((partition) => new Promise<number>((resolve, reject) => {
      this.consumer.queryWatermarkOffsets(this.o.topic, partition, 5_000, (err, w) => (err ? reject(err) : resolve(w.highOffset)))
    })))
    const committed = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) => {
      this.consumer.committed(partitions.map((partition) => ({ topic: this.o.topic, partition })), 5_000, (err, tps) => (err ? reject(err) : resolve(tps)))
    })
    for (const c of committed) if (!this.applied.has(c.partition) && c.offset >= 0) this.applied.set(c.partition, c.offset)
    const behind = () => partitions.some((p, i) => this.owned.has(p) && ends[i] > 0 && (this.applied.get(p) ?? 0) < ends[i])
    while (behind() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  }

  private fetch(n: number): Promise<Kafka.Message[]> {
    return new Promise((resolve, reject) => {
      this.consumer.consume(n, (err, messages) => (err ? reject(err) : resolve(messages)))
    })
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.lastLoopAt = Date.now()
      await this.revoking
      let messages: Kafka.Message[]
      try {
        messages = await this.fetch(this.o.batchSize)
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'group-update consume failed; retrying')
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      // fetched before a revocation: no longer ours, the next owner reads them from the committed offset
      const mine = messages.filter((m) => this.owned.has(m.partition))
      if (mine.length === 0) continue
      this.writingSince = Date.now()
      this.inflight = this.apply(mine)
      await this.inflight
      this.writingSince = 0
    }
  }

  /** Writes a batch (retried until ClickHouse acknowledges), then commits past it. */
  private async apply(messages: Kafka.Message[]): Promise<void> {
    const updates: SourcedGroupUpdate[] = []
    const next = new Map<number, number>()
    let skipped = 0
    for (const m of messages) {
      next.set(m.partition, m.offset + 1)
      const u = decodeGroupUpdate(m.value)
      if (u === undefined) { skipped++; continue }
      updates.push({ ...u, partition: m.partition, offset: m.offset, producedMs: m.timestamp ?? Date.now() })
    }
    if (skipped > 0) {
      this.metrics.groupUpdatesSkipped.inc(skipped)
      this.o.log.warn({ topic: this.o.topic, skipped }, 'messages on the group-update topic that are not group updates were skipped')
    }
    try {
      await this.writer.write(updates)
      for (const [p, offset] of next) this.applied.set(p, offset)
      this.consumer.commitSync([...next].map(([partition, offset]) => ({ topic: this.o.topic, partition, offset })))
    } catch (err) {
      // not committed: the next owner (or this one after a restart) applies the batch again, idempotently
      this.o.log.warn({ err: (err as Error).message }, 'group-update commit failed; the batch will be applied again')
    }
  }

  /**
   * Applies what the owned partitions hold now (the updates of this instance's
   * drained batches among them: the embedded broker forgets whatever is left),
   * for at most `catchUpMs`; then stops fetching, finishes the batch in flight
   * (written, committed) and leaves the group.
   */
  async close(catchUpMs = 0): Promise<void> {
    if (this.running && catchUpMs > 0) {
      try {
        await this.catchUp(Date.now() + catchUpMs)
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'group-update consumer could not catch up before leaving; the next owner applies the rest')
      }
    }
    this.running = false
    await this.loopDone
    await this.revoking
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()))
  }
}
