// Re-keying of group updates (issue 19; Kafka Streams' repartition topics are
// the model): a batch's `$groupidentify` updates leave the instance that
// consumed the events and go to SLUICE_GROUPS_TOPIC, keyed by group, where
// the owner of the group's partition applies them (engine/sink/writers/groups.ts).
// The batch's rows reach the batcher, hence its offsets the commit, only
// after Kafka acknowledged every update (delivery reports): from then on the
// update topic carries them, and a crash before that replays the events.
//
// Within a batch the updates go out in event-timestamp order (stable), so the
// later `$group_set` of one batch wins as it did before re-keying; across
// batches and instances the update topic's order decides (README, "Groups").
import type { Logger } from 'pino'
import type { AckingProducer, ProducerTuning } from '../kafka'
import type { Metrics } from '../metrics'
import { retrying } from '../retrying'
import { encodeGroupUpdate, groupUpdateKey } from '../sink/format/group-update-message'
import type { GroupUpdate } from '../../workers/protocol'

/**
 * The publisher's own producer: a batch holding a `$groupidentify` waits for
 * its delivery reports, which take linger.ms + a broker round trip (node-rdkafka's
 * HighLevelProducer polls every 1 ms while a report is awaited, so the idle poll
 * interval hardly matters). Measured by bench/group-acks.bench.ts on the mock
 * cluster, batches of 3 updates: the shared producer's linger 5 ms, p50 6.8 ms /
 * p99 10.8 ms; linger 0, p50 1.6 ms / p99 3.8 ms. The updates of one batch are
 * produced in one loop, so linger 0 still packs all but the first into one request.
 */
export const GROUP_UPDATE_PRODUCER: ProducerTuning = { lingerMs: 0, pollIntervalMs: 20 }

const timestampOf = ([, , , , timestampMs]: GroupUpdate) => timestampMs

/** The order a batch's updates are produced in: by event timestamp, ties in batch order. */
export function publishOrder(updates: readonly GroupUpdate[]): GroupUpdate[] {
  return [...updates].sort((a, b) => timestampOf(a) - timestampOf(b))
}

export class GroupUpdatePublisher {
  constructor(private readonly producer: AckingProducer, private readonly topic: string, private readonly metrics: Metrics, private readonly log: Logger) {}

  /** Resolves once Kafka acknowledged every update (retried until it does: a partial failure produces the batch again; merges are idempotent). */
  async publish(updates: readonly GroupUpdate[]): Promise<void> {
    if (updates.length === 0) return
    const ordered = publishOrder(updates)
    // encoded once: a retry sends the same bytes
    const messages = ordered.map((u) => [encodeGroupUpdate(u), groupUpdateKey(u)] as const)
    await retrying(() => Promise.all(messages.map(([value, key]) => this.producer.produce(this.topic, null, value, key))), {
      log: this.log, what: 'producing group updates', fields: { topic: this.topic, updates: messages.length },
    })
    this.metrics.groupUpdatesProduced.inc(messages.length)
  }
}
