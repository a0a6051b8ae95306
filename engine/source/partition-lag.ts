// Consumer lag per assigned partition: how many messages of the input topic
// this instance's group has not committed yet (high watermark − committed
// offset; before the group's first commit on a partition, − its low
// watermark, where auto.offset.reset=earliest would start).
//
//   low ─────────── committed ───────── consumed ───────── high watermark
//                      └──────── sluice_consumer_lag_messages ─────┘
//
// Sampled every few seconds by a client of its own: one ListOffsets request
// for the high watermarks of all assigned partitions (offsetsForTimes with
// OFFSET_END) and one OffsetFetch for the group's committed offsets. Not from
// librdkafka's statistics (`consumer_lag` in `event.stats`): their hi_offset
// comes from fetch responses, and a paused partition is not fetched, so the
// figure would freeze exactly while ClickHouse is away and lag grows.
// The `partition` label is bounded by the topic's partition count; partitions
// this instance no longer owns are removed, so instances' series add up.
// One monitor per consumed topic, each with its own gauges: the input topic
// (sluice_consumer_lag_messages, sluice_consumer_assigned_partitions) and the
// group-update topic (sluice_group_updates_lag_messages, sluice_group_partitions).
import Kafka from 'node-rdkafka'
import type { Gauge } from 'prom-client'
import type { Logger } from 'pino'
import { baseKafkaConfig } from '../kafka'

export const LAG_SAMPLE_INTERVAL_MS = 5_000
const REQUEST_TIMEOUT_MS = 5_000
// librdkafka's logical offsets for ListOffsets
const OFFSET_END = -1
const OFFSET_BEGINNING = -2

export interface LagMonitorOptions {
  brokers: string
  topic: string
  group: string
  /** partitions this instance currently owns */
  assigned: () => readonly number[]
  intervalMs?: number
}

/** Where a monitor reports: lag per owned partition, and how many partitions are owned. */
export interface LagGauges {
  lag: Gauge<'partition'>
  partitions: Gauge
}

/** Lag of one partition; negative inputs (unknown) give undefined. */
export function partitionLag(high: number, committed: number | undefined, low: number | undefined): number | undefined {
  if (!(high >= 0)) return undefined
  const from = committed !== undefined && committed >= 0 ? committed : low
  if (from === undefined || from < 0) return undefined
  return Math.max(0, high - from)
}

export class PartitionLagMonitor {
  private readonly client: Kafka.KafkaConsumer
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> | undefined
  private failing = false

  constructor(
    private readonly o: LagMonitorOptions,
    private readonly metrics: LagGauges,
    private readonly log: Logger,
  ) {
    // Same group id to read its committed offsets; it never subscribes, so it never joins the group.
    this.client = new Kafka.KafkaConsumer({
      ...baseKafkaConfig(o.brokers, 'sluice-lag-monitor'),
      'group.id': o.group,
      'enable.auto.commit': false,
    }, {})
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`lag monitor could not connect: ${err.message}`)) : resolve()))
    })
    this.client.on('event.error', () => undefined) // failures surface as failed samples, logged below
    this.timer = setInterval(() => { void this.sample() }, this.o.intervalMs ?? LAG_SAMPLE_INTERVAL_MS)
    this.timer.unref()
    void this.sample()
  }

  /** Forgets partitions this instance gave away (their lag is the new owner's to report). */
  forget(partitions: readonly number[]): void {
    for (const partition of partitions) this.metrics.lag.remove({ partition: String(partition) })
    // called before the consumer drops them from its assignment
    this.metrics.partitions.set(this.o.assigned().filter((p) => !partitions.includes(p)).length)
  }

  /** One sample; concurrent calls share it. */
  sample(): Promise<void> {
    if (!this.sampling) this.sampling = this.measure().finally(() => { this.sampling = undefined })
    return this.sampling
  }

  private async measure(): Promise<void> {
    const partitions = [...this.o.assigned()]
    this.metrics.partitions.set(partitions.length)
    if (partitions.length === 0) {
      this.metrics.lag.reset()
      return
    }
    try {
      const [high, committed] = await Promise.all([this.offsets(partitions, OFFSET_END), this.committed(partitions)])
      const uncommitted = partitions.filter((p) => committed.get(p) === undefined)
      const low = uncommitted.length > 0 ? await this.offsets(uncommitted, OFFSET_BEGINNING) : new Map<number, number>()
      // ownership may have moved while we asked: report only what is still ours
      const owned = new Set(this.o.assigned())
      this.metrics.lag.reset()
      for (const p of partitions) {
        if (!owned.has(p)) continue
        const lag = partitionLag(high.get(p) ?? -1, committed.get(p), low.get(p))
        if (lag !== undefined) this.metrics.lag.set({ partition: String(p) }, lag)
      }
      if (this.failing) this.log.info({ topic: this.o.topic }, 'consumer lag readable again')
      this.failing = false
    } catch (err) {
      // one line per failure streak, not one per sample; the gauges keep their last values
      if (!this.failing) this.log.warn({ err: (err as Error).message, topic: this.o.topic }, 'cannot read consumer lag; will keep trying')
      this.failing = true
    }
  }

  private offsets(partitions: readonly number[], which: number): Promise<Map<number, number>> {
    return new Promise((resolve, reject) => {
      this.client.offsetsForTimes(partitions.map((partition) => ({ topic: this.o.topic, partition, offset: which })), REQUEST_TIMEOUT_MS, (err, tps) => {
        if (err) return reject(err)
        resolve(new Map(tps.map((tp) => [tp.partition, tp.offset ?? -1])))
      })
    })
  }

  private committed(partitions: readonly number[]): Promise<Map<number, number | undefined>> {
    return new Promise((resolve, reject) => {
      this.client.committed(partitions.map((partition) => ({ topic: this.o.topic, partition })), REQUEST_TIMEOUT_MS, (err, tps) => {
        if (err) return reject(err)
        resolve(new Map(tps.map((tp) => [tp.partition, tp.offset !== undefined && tp.offset >= 0 ? tp.offset : undefined])))
      })
    })
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.sampling?.catch(() => undefined)
    await new Promise<void>((resolve) => this.client.disconnect(() => resolve()))
  }
}
