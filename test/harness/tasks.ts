// Worker tasks for tests and benchmarks, packed by the engine's own packer
// (engine/dispatch/pack.ts) from message values, as the consumer would, and
// run through the worker's processBatch.
import type Kafka from 'node-rdkafka'
import { packMessages } from '../../engine/dispatch/pack'
import { processBatch } from '../../workers/index'
import type { DateTimeFlavor, SnapshotRef, TaskHeader, TaskInput } from '../../workers/protocol'

export interface TaskOptions {
  snapshot: SnapshotRef
  nowMs: number
  /** Kafka message timestamp of every message, ms */
  kafkaTimestamp: number
  /** offset of the first message; the rest follow (partition 0) */
  firstOffset?: number
  claimsSettled?: boolean
}

export function taskOf(values: string[], o: TaskOptions): TaskInput {
  const messages = values.map((v, i) => ({
    value: Buffer.from(v, 'utf8'), partition: 0, offset: (o.firstOffset ?? 0) + i, timestamp: o.kafkaTimestamp, topic: 'events_plugin_ingestion', size: 0,
  })) as Kafka.Message[]
  const { values: buffer, meta } = packMessages(messages)
  return { values: buffer, meta, topic: 'events_plugin_ingestion', snapshot: o.snapshot, nowMs: o.nowMs, claimsSettled: o.claimsSettled ?? false }
}

/** workers/index.ts processBatch with JSONEachRow rows, returned as text (what chDB is sent). */
export function processToJsonRows(task: TaskInput, dateTime: DateTimeFlavor = 'DateTime64'): { header: TaskHeader; rows: string } {
  const { header, rows } = processBatch(task, { dateTime, format: 'JSONEachRow' })
  return { header, rows: Buffer.from(rows.bytes()).toString('utf8') }
}
