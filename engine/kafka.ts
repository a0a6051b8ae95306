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

function topicPartitions(brokers: string, topic: string): Promise<number> {
  // A metadata request for one topic also auto-creates it where the cluster allows (the mock always does).
  const probe = new Kafka.Producer({ ...baseKafkaConfig(brokers, 'sluice-metadata'), 'allow.auto.create.topics': true } as Kafka.ProducerGlobalConfig)
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

/**
 * Makes sure a topic exists: created with `partitions` partitions through the
 * admin API where the cluster supports it, else auto-created by a metadata
 * request (the mock cluster does not implement CreateTopics and makes 4).
 */
export async function ensureTopic(brokers: string, topic: string, partitions: number | 'auto'): Promise<void> {
  for (let i = 0; i < 5; i++) {
    if ((await topicPartitions(brokers, topic)) > 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  if (partitions === 'auto') return
  const admin = Kafka.AdminClient.create({ ...baseKafkaConfig(brokers, 'sluice-admin') } as Kafka.GlobalConfig)
  await new Promise<void>((resolve) => {
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: -1 }, 5_000, () => resolve())
  })
  admin.disconnect()
  for (let i = 0; i < 50 && (await topicPartitions(brokers, topic)) === 0; i++) await new Promise((r) => setTimeout(r, 100))
}
