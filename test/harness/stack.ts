// The integration stack, started once per test file: the mock Kafka cluster
// (in this process), a private clickhouse-server on free loopback ports, a
// store connected to it, a test producer, and any number of engine processes
// configured against them. close() takes everything down in reverse order;
// an engine that does not exit cleanly on SIGTERM has its logs printed.
import { startMockKafkaCluster, type MockKafkaCluster } from '../../engine/embedded/mock-kafka'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { startClickHouseServer, type ClickHouseServer } from './clickhouse-server'
import { baseEnv, startEngineProcess, type EngineProcess } from './engine-process'
import { testProducer, type TestProducer } from './kafka'

export interface Stack {
  readonly kafka: MockKafkaCluster
  readonly ch: ClickHouseServer
  readonly store: ClickHouseStore
  readonly producer: TestProducer
  readonly engines: EngineProcess[]
  /** an engine's environment on this stack: brokers, ClickHouse, the stack's database, then `extra` */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv
  /** starts one more engine process (kept for close()) */
  start(extra?: Record<string, string>): Promise<EngineProcess>
  /** count() of `<database>.<table>` rows matching `where` */
  count(where?: string, table?: string): Promise<number>
  /** the broker goes away for good (tests of Kafka outages): close() then kills the engines instead of draining them */
  stopKafka(): Promise<void>
  /** SIGTERM (a clean drain, logs printed when it fails) or SIGKILL for the engines; then the servers */
  close(signal?: NodeJS.Signals): Promise<void>
}

export async function startStack(o: { database: string; env?: Record<string, string> }): Promise<Stack> {
  const kafka = await startMockKafkaCluster()
  const ch = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: ch.url })
  const producer = await testProducer(kafka.bootstrapServers)
  const engines: EngineProcess[] = []
  let kafkaStopped = false
  const env = (extra: Record<string, string> = {}) => baseEnv({
    SLUICE_KAFKA_BROKERS: kafka.bootstrapServers, SLUICE_CLICKHOUSE_URL: ch.url, SLUICE_CLICKHOUSE_DATABASE: o.database, ...o.env, ...extra,
  })
  return {
    kafka, ch, store, producer, engines, env,
    async start(extra = {}) {
      const e = await startEngineProcess(env(extra))
      engines.push(e)
      return e
    },
    async count(where = '1', table = 'events') {
      return Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${o.database}.${table} WHERE ${where}`))[0].n)
    },
    async stopKafka() {
      kafkaStopped = true
      await producer.close()
      await kafka.stop()
    },
    async close(signal: NodeJS.Signals = 'SIGTERM') {
      // clients before the broker that holds them
      if (!kafkaStopped) await producer.close()
      const how = kafkaStopped ? 'SIGKILL' : signal
      await Promise.all(engines.map(async (e) => {
        const code = await e.stop(how)
        if (how === 'SIGTERM' && code !== 0) console.error(e.logs())
      }))
      await store.close()
      await ch.destroy()
      if (!kafkaStopped) await kafka.stop()
    },
  }
}
