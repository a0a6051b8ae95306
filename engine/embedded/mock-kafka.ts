// Starts librdkafka's built-in mock cluster in this process: a real
// Kafka-protocol broker on loopback, held alive by one idle producer. Its
// bootstrap address is only logged (facility MOCK), so we listen for that line.
// In memory only: everything is gone when the holder disconnects (dev/demo,
// tests and benchmarks; see ../shared/INFRA.md for its limits).
import Kafka from 'node-rdkafka'

export interface MockKafkaCluster {
  readonly bootstrapServers: string
  stop(): Promise<void>
}

/** `onMockLog`: every later line of the mock's own log (facility MOCK), e.g. for when a consumer group becomes stable (bench/mock-cluster.ts). */
export function startMockKafkaCluster(brokers = 1, timeoutMs = 15_000, onMockLog?: (message: string) => void): Promise<MockKafkaCluster> {
  return new Promise((resolve, reject) => {
    const holder = new Kafka.Producer({
      'bootstrap.servers': 'ignored:9092',
      'test.mock.num.brokers': brokers,
      'event_cb': true,
      'debug': 'mock',
      'log_level': 7,
    } as Kafka.ProducerGlobalConfig)
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      holder.disconnect()
      reject(new Error(`the mock Kafka cluster did not report its address within ${timeoutMs} ms`))
    }, timeoutMs)
    holder.on('event.log', (log: { fac?: string; message?: string }) => {
      if (log.fac !== 'MOCK') return
      if (settled) return onMockLog?.(log.message ?? '')
      const m = /bootstrap\.servers=([^\s]+)/.exec(log.message ?? '')
      if (!m) return
      settled = true
      clearTimeout(timer)
      resolve({
        bootstrapServers: m[1],
        stop: () => new Promise<void>((res) => holder.disconnect(() => res())),
      })
    })
    holder.on('event.error', (err) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(new Error(`mock Kafka cluster: ${err.message}`))
    })
    holder.connect()
  })
}
