// Kafka clients shared by the main thread: one producer (control log and dead
// letters) whose produce() resolves on the broker's acknowledgement, and the
// common client settings.
import Kafka from 'node-rdkafka'

export function baseKafkaConfig(brokers: string, clientId: string): Kafka.GlobalConfig {
  return {
    'bootstrap.servers': brokers,
    'client.id': clientId,
    'socket.keepalive.enable': true,
  }
}

export interface AckingProducer {
  produce(topic: string, partition: number | null, value: Buffer, key: string | null, headers?: Kafka.MessageHeader[]): Promise<number>
  disconnect(): Promise<void>
}

/** Latency knobs: how long librdkafka waits to fill a batch, and how often delivery reports are polled. */
export interface ProducerTuning { lingerMs: number; pollIntervalMs: number }

export async function connectProducer(brokers: string, clientId: string, tuning: ProducerTuning = { lingerMs: 5, pollIntervalMs: 20 }): Promise<AckingProducer> {
  const producer = new Kafka.HighLevelProducer({
    ...baseKafkaConfig(brokers, clientId),
    'linger.ms': tuning.lingerMs,
    'enable.idempotence': true,
    'message.max.bytes': 16 * 1024 * 1024,
  })
  producer.setPollInterval(tuning.pollIntervalMs)
  await new Promise<void>((resolve, reject) => {
    producer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`Kafka producer could not connect to ${brokers}: ${err.message}`)) : resolve()))
  })
  return {
    produce(topic, partition, value, key, headers) {
      return new Promise((resolve, reject) => {
        const done = (err: Error | null | undefined, offset?: number | null) => (err ? reject(err) : resolve(offset ?? -1))
        if (headers) producer.produce(topic, partition, value, key, Date.now(), headers, done)
        else producer.produce(topic, partition, value, key, Date.now(), done)
      })
    },
    disconnect: () => new Promise<void>((resolve) => {
      producer.flush(5_000, () => producer.disconnect(() => resolve()))
    }),
  }
}

/** The topic's partition count, 0 when it does not exist (autoCreate: created by the request where the cluster allows). */
export function topicPartitions(brokers: string, topic: string, autoCreate: boolean): Promise<number> {
  // With autoCreate, a metadata request for one topic also creates it where the cluster allows (the mock always does).
  const probe = new Kafka.Producer({ ...baseKafkaConfig(brokers, 'sluice-metadata'), 'allow.auto.create.topics': autoCreate } as Kafka.ProducerGlobalConfig)
  return new Promise((resolve, reject) => {
    probe.connect({ timeout: 30_000 }, (err) => {
      if (err) return reject(new Error(`cannot reach Kafka at ${brokers}: ${err.message}`))
      probe.getMetadata({ topic, timeout: 10_000 }, (e, md) => {
        probe.disconnect()
        if (e) return resolve(0)
        const t = md.topics.find((x) => x.name === topic)
        resolve(t ? t.partitions.length : 0)
      })
    })
  })
}

export const CREATE_TOPIC_TIMEOUT_MS = 2_000

export interface TopicSpec {
  partitions: number | 'auto'
  /** -1: the broker's default */
  replicationFactor?: number
  /** topic-level settings (strings, as Kafka takes them) */
  config?: Record<string, string>
}

/**
 * Makes sure a topic exists: created with the given partitions and settings
 * through the admin API where the cluster supports it, else auto-created by a
 * metadata request (the mock cluster does not implement CreateTopics and makes
 * 4). Returns whether this call created it through the admin API.
 */
export async function ensureTopic(brokers: string, topic: string, spec: TopicSpec): Promise<{ created: boolean; error?: string }> {
  if ((await topicPartitions(brokers, topic, false)) > 0) return { created: false }
  let error: string | undefined
  if (spec.partitions !== 'auto') {
    const admin = Kafka.AdminClient.create({ ...baseKafkaConfig(brokers, 'sluice-admin') } as Kafka.GlobalConfig)
    error = await new Promise<string | undefined>((resolve) => {
      // a real broker answers at once; the mock cluster never does (no CreateTopics): do not wait long for it
      admin.createTopic({ topic, num_partitions: spec.partitions as number, replication_factor: spec.replicationFactor ?? -1, config: spec.config ?? {} }, CREATE_TOPIC_TIMEOUT_MS, (err) => resolve(err ? err.message : undefined))
    })
    admin.disconnect()
    if (error === undefined) {
      for (let i = 0; i < 50 && (await topicPartitions(brokers, topic, false)) === 0; i++) await new Promise((r) => setTimeout(r, 100))
      return { created: true }
    }
  }
  for (let i = 0; i < 50 && (await topicPartitions(brokers, topic, true)) === 0; i++) await new Promise((r) => setTimeout(r, 100))
  return { created: false, error }
}

/**
 * The control topic's settings (Kafka Connect's config topic and Schema
 * Registry's `_schemas` are created the same way): one partition, nothing
 * ever deleted by time or size. Snapshots make a truncated log usable, but
 * only while one is retained; with these settings none is ever lost.
 */
export function controlTopicSpec(replicationFactor: number | undefined, minInsyncReplicas: number | undefined): TopicSpec {
  const config: Record<string, string> = { 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' }
  if (minInsyncReplicas !== undefined) config['min.insync.replicas'] = String(minInsyncReplicas)
  return { partitions: 1, replicationFactor, config }
}
