// Kafka helpers for tests and benchmarks, on a real broker (the mock cluster):
// a producer that resolves on delivery, committed offsets of a group, high
// watermarks, and reading a topic from the beginning.
import Kafka from 'node-rdkafka'

export interface TestProducer {
  send(topic: string, values: (string | Buffer)[], key?: (i: number) => string | null, partition?: number): Promise<void>
  close(): Promise<void>
}

export async function testProducer(brokers: string): Promise<TestProducer> {
  const p = new Kafka.HighLevelProducer({ 'bootstrap.servers': brokers, 'linger.ms': 5, 'message.max.bytes': 10_000_000 })
  p.setPollInterval(10)
  await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())))
  return {
    async send(topic, values, key, partition) {
      await Promise.all(values.map((v, i) => new Promise<void>((resolve, reject) => {
        p.produce(topic, partition ?? null, Buffer.isBuffer(v) ? v : Buffer.from(v), key ? key(i) : null, Date.now(), (err: unknown) => (err ? reject(err) : resolve()))
      })))
    },
    close: () => new Promise<void>((resolve) => p.disconnect(() => resolve())),
  }
}

async function withConsumer<T>(brokers: string, group: string, fn: (c: Kafka.KafkaConsumer) => Promise<T>): Promise<T> {
  const c = new Kafka.KafkaConsumer({ 'bootstrap.servers': brokers, 'group.id': group, 'enable.auto.commit': false }, { 'auto.offset.reset': 'earliest' })
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())))
  try {
    return await fn(c)
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()))
  }
}

/** partition → committed offset of `group` (−1001 when none) */
export function committedOffsets(brokers: string, group: string, topic: string, partitions: number[]): Promise<Map<number, number>> {
  return withConsumer(brokers, group, (c) => new Promise((resolve, reject) => {
    c.committed(partitions.map((partition) => ({ topic, partition })), 10_000, (err, tps) => {
      if (err) return reject(err)
      resolve(new Map(tps.map((tp) => [tp.partition, tp.offset ?? -1001])))
    })
  }))
}

/** partition → high watermark */
export function highWatermarks(brokers: string, topic: string, partitions: number[]): Promise<Map<number, number>> {
  return withConsumer(brokers, `watermarks-${process.pid}`, async (c) => {
    const out = new Map<number, number>()
    for (const partition of partitions) {
      out.set(partition, await new Promise<number>((resolve, reject) => {
        c.queryWatermarkOffsets(topic, partition, 10_000, (err, w) => (err ? reject(err) : resolve(w.highOffset)))
      }))
    }
    return out
  })
}

/** Every message of a topic (all partitions), read from the beginning until `count` arrived or `timeoutMs` passed. */
export function readTopic(brokers: string, topic: string, count: number, timeoutMs = 20_000): Promise<Kafka.Message[]> {
  return withConsumer(brokers, `reader-${process.pid}-${Date.now()}`, async (c) => {
    c.subscribe([topic])
    const out: Kafka.Message[] = []
    const deadline = Date.now() + timeoutMs
    c.setDefaultConsumeTimeout(200)
    while (out.length < count && Date.now() < deadline) {
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(1000, (err, m) => (err ? reject(err) : resolve(m))))
      out.push(...batch)
    }
    return out
  })
}

/** The oldest retained and the next offset of one partition: retention moves `low`. */
export function watermarks(brokers: string, topic: string, partition: number): Promise<{ low: number; high: number }> {
  return withConsumer(brokers, `watermarks-${process.pid}`, (c) => new Promise((resolve, reject) => {
    c.queryWatermarkOffsets(topic, partition, 10_000, (err, w) => (err ? reject(err) : resolve({ low: w.lowOffset, high: w.highOffset })))
  }))
}
