// The benchmark's mock Kafka cluster: librdkafka's in-process mock, started
// with the same settings as engine/embedded/mock-kafka.ts, that also reads the
// mock's own debug log (facility MOCK) for the moment each consumer group
// becomes stable. A backlog drain is timed from that moment ("group join"),
// the same way for every pipeline that joins a group, whatever its client:
// Sluice's node-rdkafka or ClickHouse's Kafka engine (whose librdkafka we
// cannot hook). The mock logs, once all members have synced:
//
//   Mock consumer group <id> with <n> member(s) changing state Syncing -> Up: all members synced
import Kafka from 'node-rdkafka'
import { performance } from 'node:perf_hooks'
import type { MockKafkaCluster } from '../engine/embedded/mock-kafka'

export interface BenchMockCluster extends MockKafkaCluster {
  /** performance.now() when the group first became stable (all members synced), if it has */
  joinedAt(group: string): number | undefined
}

const GROUP_UP = /Mock consumer group (\S+) with \d+ member\(s\) changing state \S+ -> Up/

/** The group a mock log line says became stable, if it says so. */
export function groupBecameStable(message: string): string | undefined {
  return GROUP_UP.exec(message)?.[1]
}

export function startBenchMockCluster(timeoutMs = 15_000): Promise<BenchMockCluster> {
  return new Promise((resolve, reject) => {
    const holder = new Kafka.Producer({
      'bootstrap.servers': 'ignored:9092',
      'test.mock.num.brokers': 1,
      'event_cb': true,
      'debug': 'mock',
      'log_level': 7,
    } as Kafka.ProducerGlobalConfig)
    const joined = new Map<string, number>()
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      holder.disconnect()
      reject(new Error(`the mock Kafka cluster did not report its address within ${timeoutMs} ms`))
    }, timeoutMs)
    holder.on('event.log', (log: { fac?: string; message?: string }) => {
      if (log.fac !== 'MOCK') return
      const message = log.message ?? ''
      const up = groupBecameStable(message)
      if (up !== undefined) {
        if (!joined.has(up)) joined.set(up, performance.now())
        return
      }
      if (settled) return
      const m = /bootstrap\.servers=([^\s]+)/.exec(message)
      if (!m) return
      settled = true
      clearTimeout(timer)
      resolve({
        bootstrapServers: m[1],
        joinedAt: (group) => joined.get(group),
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
