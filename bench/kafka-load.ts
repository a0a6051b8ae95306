// The benchmark's Kafka side: a producer that never lets a pipeline fall
// further behind than the mock broker keeps, and a watcher of a consumer
// group's committed offsets.
//
// Why closed loop: the mock cluster keeps only the newest 5 MiB of each of
// its 4 partitions (../shared/INFRA.md) and silently drops older messages, so
// a stream of 200k ~1.4 KB messages (~280 MB) cannot be produced up front.
// The producer keeps (produced − consumed) under a byte bound, by default
// 12 MiB in all (3 MiB per partition on average: keys spread messages evenly),
// where "consumed" is what the pipeline reports having taken from Kafka.
//
//   produced ──────────────────────────────────────►|
//   consumed ─────────────────────►|                 |
//                                   └── ≤ bound ────┘   (the producer waits when it is reached)
//
// A backlog (--mode backlog) is produced up front instead, gzip-compressed
// (level 9): the mock's limit counts stored bytes, and these messages shrink
// ~12× as Kafka message sets (keys and record headers included), so the
// 4 × 5 MiB hold ~180k of them (180,960 of 200,000 kept in one run). The limit is
// hard-coded (rdkafka_mock.c: max_size 5 MiB, max_cnt 100,000 message sets
// per partition; no setting raises it), so watermarks() is checked after
// producing: nothing may have been dropped. Every consumer inflates gzip
// (~3–4 CPU-s per million of these messages), the same for every pipeline.
//
// Committed offsets are read from the broker (OffsetFetch for the group), the
// same way for Sluice and for the reference pipelines: a pipeline commits
// only after ClickHouse acknowledged the rows, so "committed" means queryable.
import Kafka from 'node-rdkafka'
import { performance } from 'node:perf_hooks'
import type { BenchStream } from './stream'

export const PARTITIONS = [0, 1, 2, 3] // the mock cluster auto-creates 4

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const connect = (c: Kafka.Producer | Kafka.KafkaConsumer) => new Promise<void>((resolve, reject) => {
  c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve()))
})

export interface ProduceOptions {
  topic: string
  stream: BenchStream
  /** first stream index */
  from: number
  count: number
  /** most bytes produced but not yet consumed */
  boundBytes: number
  /** messages of this run the pipeline has consumed so far (kept fresh by the caller) */
  consumed: () => number
  /** messages per second; unset: as fast as the bound allows */
  rate?: number
  /** stops early when it returns true (a pipeline died) */
  aborted?: () => boolean
}

/** Send time (performance.now() ms) and where each message landed, for latency. */
export interface Deliveries {
  sentAt: Float64Array
  partition: Int32Array
  offset: Float64Array
}

export class BenchProducer {
  private constructor(private readonly p: Kafka.Producer, private readonly deliveries: Deliveries | undefined) {}

  /**
   * With `track`, delivery reports record each message's partition and offset (latency phases: slower).
   * With `compress`, message sets are gzip level 9 (a backlog that must fit the mock's retention).
   */
  static async connect(brokers: string, track?: number, compress = false): Promise<BenchProducer> {
    const deliveries = track ? { sentAt: new Float64Array(track), partition: new Int32Array(track).fill(-1), offset: new Float64Array(track) } : undefined
    const p = new Kafka.Producer({
      'bootstrap.servers': brokers,
      'client.id': 'sluice-bench',
      'linger.ms': 5,
      'batch.num.messages': 10_000,
      'queue.buffering.max.messages': 1_000_000,
      ...(compress ? { 'compression.codec': 'gzip', 'compression.level': 9, 'linger.ms': 50 } : {}),
      ...(deliveries ? { dr_cb: true } : {}),
    } as Kafka.ProducerGlobalConfig)
    if (deliveries) {
      p.on('delivery-report', (err, report) => {
        if (err) return
        const i = report.opaque as number
        deliveries.partition[i] = report.partition
        deliveries.offset[i] = report.offset
      })
    }
    p.setPollInterval(deliveries ? 5 : 100)
    await connect(p)
    return new BenchProducer(p, deliveries)
  }

  get tracked(): Deliveries | undefined {
    return this.deliveries
  }

  /** Produces `count` stream messages, closed loop (and paced when `rate` is set); resolves once all are handed to librdkafka. */
  async produce(o: ProduceOptions): Promise<void> {
    const boundMessages = Math.max(1, Math.floor(o.boundBytes / o.stream.averageBytes))
    const began = performance.now()
    let sent = 0
    while (sent < o.count) {
      if (o.aborted?.()) return
      let allowed = boundMessages - (sent - o.consumed())
      if (o.rate) allowed = Math.min(allowed, Math.floor(((performance.now() - began) / 1000) * o.rate) - sent)
      if (allowed <= 0) {
        await sleep(o.rate ? 2 : 1)
        continue
      }
      const n = Math.min(allowed, 2000, o.count - sent)
      for (let k = 0; k < n; k++) {
        const i = o.from + sent
        try {
          if (this.deliveries) {
            this.deliveries.sentAt[sent] = performance.now()
            this.p.produce(o.topic, null, o.stream.message(i), o.stream.key(i), Date.now(), sent)
          } else {
            this.p.produce(o.topic, null, o.stream.message(i), o.stream.key(i), Date.now())
          }
          sent++
        } catch (err) {
          if ((err as { code?: number }).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err
          await sleep(5)
          break
        }
      }
      // let the consumption readers and the delivery reports run
      await new Promise((r) => setImmediate(r))
    }
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => this.p.flush(30_000, (err) => (err ? reject(err) : resolve())))
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.p.disconnect(() => resolve()))
  }
}

/** Committed offsets of one consumer group on one topic, read from the broker. */
export class CommitWatcher {
  private constructor(private readonly c: Kafka.KafkaConsumer, private readonly topic: string) {}

  static async open(brokers: string, group: string, topic: string): Promise<CommitWatcher> {
    // never subscribes: it only asks the group coordinator for the group's offsets
    const c = new Kafka.KafkaConsumer({ 'bootstrap.servers': brokers, 'group.id': group, 'enable.auto.commit': false, 'client.id': 'sluice-bench-watch' }, {})
    await connect(c)
    return new CommitWatcher(c, topic)
  }

  /** Next offset to consume per partition (0 when the group committed nothing there). */
  committed(): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.c.committed(PARTITIONS.map((partition) => ({ topic: this.topic, partition })), 5_000, (err, tps) => {
        if (err) return reject(err)
        const out = PARTITIONS.map(() => 0)
        for (const tp of tps) out[tp.partition] = tp.offset !== undefined && tp.offset >= 0 ? tp.offset : 0
        resolve(out)
      })
    })
  }

  /** Low and high watermark of each partition (a backlog check: low > 0 means the mock dropped messages). */
  async watermarks(): Promise<{ low: number; high: number }[]> {
    return Promise.all(PARTITIONS.map((partition) => new Promise<{ low: number; high: number }>((resolve, reject) => {
      this.c.queryWatermarkOffsets(this.topic, partition, 5_000, (err, o) => (err ? reject(err) : resolve({ low: o.lowOffset, high: o.highOffset })))
    })))
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.c.disconnect(() => resolve()))
  }
}
