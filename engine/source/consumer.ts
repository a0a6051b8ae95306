// The ingestion consumer: node-rdkafka KafkaConsumer in SLUICE_KAFKA_GROUP on
// SLUICE_KAFKA_TOPIC, consumed in batches on the main thread. It never
// commits on its own: offsets are committed only through commit(), called
// after ClickHouse acknowledged the rows (engine/source/offsets.ts).
// Backpressure: before each fetch the loop waits for capacity (in-flight
// bytes and outstanding tasks), so nothing piles up while ClickHouse is slow.
import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { baseKafkaConfig } from '../kafka'
import type { CommitPoint } from './offsets'

export interface ConsumerOptions {
  brokers: string
  topic: string
  group: string
  batchSize: number
  maxMessageBytes: number
  log: Logger
  /** resolves when another batch may be fetched */
  waitForCapacity: () => Promise<void>
  onBatch: (messages: Kafka.Message[]) => void
  onRevoked: (partitions: number[]) => void
  onAssigned: (partitions: number[]) => void
}

export class IngestionConsumer {
  private readonly consumer: Kafka.KafkaConsumer
  private running = false
  private loopDone: Promise<void> | undefined
  /** ms timestamp of the last loop iteration (liveness) */
  lastLoopAt = Date.now()
  assigned: number[] = []

  constructor(private readonly o: ConsumerOptions) {
    this.consumer = new Kafka.KafkaConsumer({
      ...baseKafkaConfig(o.brokers, 'sluice-ingestion'),
      'group.id': o.group,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // librdkafka ≥ 2.2 otherwise idles 1 s whenever its prefetch queue fills (../shared/INFRA.md)
      'fetch.queue.backoff.ms': 10,
      'fetch.message.max.bytes': Math.max(1_048_576, o.maxMessageBytes + 1024),
      'queued.max.messages.kbytes': 65_536,
      'session.timeout.ms': 10_000,
      'heartbeat.interval.ms': 1_000,
      'rebalance_cb': (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) => this.rebalance(err, assignment),
    } as Kafka.ConsumerGlobalConfig, { 'auto.offset.reset': 'earliest' })
  }

  private rebalance(err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]): void {
    const partitions = assignment.map((a) => a.partition)
    if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
      this.consumer.assign(assignment)
      this.assigned = partitions
      this.o.log.info({ partitions }, 'partitions assigned')
      this.o.onAssigned(partitions)
    } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
      // forget in-flight segments first: their acknowledgements must not commit for the next owner
      this.o.onRevoked(partitions)
      this.consumer.unassign()
      this.assigned = []
      this.o.log.info({ partitions }, 'partitions revoked')
    } else {
      this.o.log.error({ err: err.message }, 'rebalance error')
    }
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`ingestion consumer could not connect: ${err.message}`)) : resolve()))
    })
    this.consumer.on('event.error', (err) => this.o.log.warn({ err: err.message }, 'ingestion consumer error'))
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

  private async loop(): Promise<void> {
    while (this.running) {
      this.lastLoopAt = Date.now()
      await this.o.waitForCapacity()
      if (!this.running) break
      let messages: Kafka.Message[]
      try {
        messages = await this.fetch(this.o.batchSize)
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'consume failed; retrying')
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      if (messages.length > 0 && this.running) this.o.onBatch(messages)
    }
  }

  commit(points: readonly CommitPoint[]): void {
    if (points.length === 0) return
    try {
      this.consumer.commit(points.map((p) => ({ topic: this.o.topic, partition: p.partition, offset: p.offset })))
    } catch (err) {
      // a commit that fails is repeated by the next one (they are cumulative); at worst the batch is redelivered
      this.o.log.warn({ err: (err as Error).message }, 'offset commit failed')
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
