// The benchmark's mock Kafka cluster: engine/embedded/mock-kafka.ts's, also
// reading the mock's own debug log (facility MOCK) for the moment each consumer group
// becomes stable. A backlog drain is timed from that moment ("group join"),
// the same way for every pipeline that joins a group, whatever its client:
// Sluice's node-rdkafka or ClickHouse's Kafka engine (whose librdkafka we
// cannot hook). The mock logs, once all members have synced:
//
//   Mock consumer group <id> with <n> member(s) changing state Syncing -> Up: all members synced
import { performance } from 'node:perf_hooks'
import { startMockKafkaCluster, type MockKafkaCluster } from '../engine/embedded/mock-kafka'

export interface BenchMockCluster extends MockKafkaCluster {
  /** performance.now() when the group first became stable (all members synced), if it has */
  joinedAt(group: string): number | undefined
}

const GROUP_UP = /Mock consumer group (\S+) with \d+ member\(s\) changing state \S+ -> Up/

/** The group a mock log line says became stable, if it says so. */
export function groupBecameStable(message: string): string | undefined {
  return GROUP_UP.exec(message)?.[1]
}

export async function startBenchMockCluster(timeoutMs = 15_000): Promise<BenchMockCluster> {
  const joined = new Map<string, number>()
  const cluster = await startMockKafkaCluster(1, timeoutMs, (message) => {
    const up = groupBecameStable(message)
    if (up !== undefined && !joined.has(up)) joined.set(up, performance.now())
  })
  return { ...cluster, joinedAt: (group) => joined.get(group) }
}
