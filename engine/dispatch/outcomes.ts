// Acts on the outcomes a task reported (PostHog's result-handling pipeline):
// counters by reason, dead letters produced to SLUICE_DLQ_TOPIC with the
// original bytes and headers saying where they came from and why. Resolves
// once the broker acknowledged every dead letter, so offsets are committed
// only after nothing of the batch can be lost.
import type Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import type { DeadLetterReason, DropReason } from '../../workers/result'
import type { AckingProducer } from '../kafka'
import type { Metrics } from '../metrics'
import { retrying } from '../retrying'
import { wellFormed } from '../../workers/well-formed'

export interface DeadLetter {
  value: Buffer | Uint8Array
  key: string | null
  reason: DeadLetterReason | 'insert_rejected'
  step: string
  error: string
  /** where it came from: source topic/partition/offset, or the table that rejected it */
  source: Record<string, string | number>
}

export function deadLetterOf(m: Kafka.Message, reason: DeadLetter['reason'], step: string, error: string): DeadLetter {
  return {
    // a copy: the value may be a view of the batch's shared memory (engine/dispatch/pack.ts)
    value: m.value ? Buffer.from(m.value) : Buffer.alloc(0),
    key: m.key === undefined || m.key === null ? null : String(m.key),
    reason,
    step,
    error,
    source: { topic: m.topic, partition: m.partition, offset: m.offset },
  }
}

export class OutcomeRecorder {
  constructor(
    private readonly producer: AckingProducer,
    private readonly dlqTopic: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  drops(tallies: Partial<Record<DropReason, number>>): void {
    for (const [reason, n] of Object.entries(tallies)) if (n) this.metrics.eventsDropped.inc({ reason }, n)
  }

  /** Events per SDK key id; the label is the id, never the token (tokens are credentials, /metrics is open). */
  keyRows(rows: ReadonlyMap<number, number>): void {
    for (const [key, n] of rows) this.metrics.eventsByKey.inc({ key_id: String(key) }, n)
  }

  async deadLetters(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    const time = new Date().toISOString()
    await Promise.all(letters.map(async (d) => {
      const headers: Kafka.MessageHeader[] = [
        { 'sluice-reason': d.reason },
        { 'sluice-step': d.step },
        { 'sluice-error': wellFormed(d.error.slice(0, 1000)) },
        ...Object.entries(d.source).map(([k, v]) => ({ [`sluice-source-${k}`]: String(v) })),
        { 'sluice-time': time },
      ]
      // nothing may be lost: the batch waits (and consumption pauses) until the dead letter is stored
      await retrying(() => this.producer.produce(this.dlqTopic, null, Buffer.from(d.value.buffer, d.value.byteOffset, d.value.byteLength), d.key, headers), {
        log: this.log, what: 'dead-letter produce', fields: { reason: d.reason },
      })
      this.metrics.deadLetters.inc({ reason: d.reason })
    }))
    this.log.debug({ count: letters.length }, 'dead letters produced')
  }
}
