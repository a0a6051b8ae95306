// End-to-end lag, recorded when ClickHouse acknowledges a flush.
//
//   Kafka timestamp ──(waiting in Kafka)──► consumed ──(workers, batcher, insert)──► acknowledged
//   └──────────────── sluice_event_lag_seconds ────────────────────────────────────┘
//                                           └──── sluice_processing_lag_seconds ──┘
//
// A contribution (one consumed batch) carries its consumption time and the
// Kafka timestamp of every message; nothing is observed per event on the way.
// At acknowledgement each message counts once in each histogram, whatever
// became of it (stored, dropped or dead-lettered: its outcome was settled by
// that flush, and its offset became committable), so both histograms' _count
// add up to the consumed messages, as Vector's telemetry rules ask.
//
// Why every timestamp rather than the oldest per contribution: one batch of
// 2,000 messages from a partition that fell behind spans minutes, and a
// quantile over one value per batch would weigh a batch of 3 like one of
// 2,000. The price: 8 bytes per message kept until the flush, and ~30 µs per
// 2,000-message batch at acknowledgement (engine/counted-histogram.ts), where
// prom-client's own observe per message takes ~0.35 ms
// (bench/lag-histogram.bench.ts).
import type Kafka from 'node-rdkafka'
import type { Metrics } from '../metrics'

export interface ContributionTimes {
  /** ms since epoch, when the batch was taken from Kafka */
  consumedAt: number
  /** each message's Kafka timestamp (ms since epoch); 0 when the message has none */
  timestamps: Float64Array
}

export function contributionTimes(messages: readonly Kafka.Message[], consumedAt: number): ContributionTimes {
  const timestamps = new Float64Array(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const ts = messages[i].timestamp
    timestamps[i] = typeof ts === 'number' && ts > 0 ? ts : 0
  }
  return { consumedAt, timestamps }
}

/**
 * Observes every message of an acknowledged flush. Producer clocks may run
 * ahead of ours: a negative lag counts as 0. Messages without a Kafka
 * timestamp count in the processing lag only.
 */
export function observeAcknowledged(metrics: Pick<Metrics, 'eventLag' | 'processingLag'>, flushed: readonly ContributionTimes[], ackedAt: number): void {
  const eventLag = metrics.eventLag
  for (const c of flushed) {
    const n = c.timestamps.length
    if (n === 0) continue
    metrics.processingLag.observe(Math.max(0, ackedAt - c.consumedAt) / 1000, n)
    const ts = c.timestamps
    for (let i = 0; i < n; i++) if (ts[i] > 0) eventLag.observe(ackedAt > ts[i] ? (ackedAt - ts[i]) / 1000 : 0)
  }
}
