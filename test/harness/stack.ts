// The integration stack, started once per test file: the mock Kafka cluster
// (in this process), a private clickhouse-server on free loopback ports (or,
// with startStackOn('chdb'), chDB in a temporary data directory of the
// engine's own), a store connected to the server, a test producer, and engine
// processes configured against them. close() takes everything down in
// reverse order; an engine that does not exit cleanly on SIGTERM has its logs
// printed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startMockKafkaCluster, type MockKafkaCluster } from '../../engine/embedded/mock-kafka'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { startClickHouseServer, type ClickHouseServer } from './clickhouse-server'
import { baseEnv, startEngineProcess, type EngineProcess } from './engine-process'
import { testProducer, type TestProducer } from './kafka'

/** What every stack has, whichever ClickHouse it runs on. */
export interface BaseStack {
  readonly kafka: MockKafkaCluster
  readonly producer: TestProducer
  readonly engines: EngineProcess[]
  /** the clickhouse-server ('server' stacks) */
  readonly ch: ClickHouseServer | undefined
  /** chDB's data directory ('chdb' stacks: one engine process at a time may use it) */
  readonly chdbDir: string | undefined
  /** an engine's environment on this stack: brokers, ClickHouse, the stack's database, then `extra` */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv
  /** starts one more engine process (kept for close()) */
  start(extra?: Record<string, string>): Promise<EngineProcess>
  /** the broker goes away for good (tests of Kafka outages): close() then kills the engines instead of draining them */
  stopKafka(): Promise<void>
  /** SIGTERM (a clean drain, logs printed when it fails) or SIGKILL for the engines; then the servers */
  close(signal?: NodeJS.Signals): Promise<void>
}

export interface Stack extends BaseStack {
  readonly ch: ClickHouseServer
  readonly store: ClickHouseStore
  /** count() of `<database>.<table>` rows matching `where` */
  count(where?: string, table?: string): Promise<number>
}

interface StackOptions { database: string; env?: Record<string, string> }

export async function startStackOn(mode: 'server' | 'chdb', o: StackOptions): Promise<BaseStack> {
  const kafka = await startMockKafkaCluster()
  const ch = mode === 'server' ? await startClickHouseServer() : undefined
  const chdbDir = mode === 'chdb' ? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chdb-')) : undefined
  const producer = await testProducer(kafka.bootstrapServers)
  const engines: EngineProcess[] = []
  let kafkaStopped = false
  const env = (extra: Record<string, string> = {}) => baseEnv({
    SLUICE_KAFKA_BROKERS: kafka.bootstrapServers, SLUICE_CLICKHOUSE_DATABASE: o.database,
    ...(ch ? { SLUICE_CLICKHOUSE_URL: ch.url } : { SLUICE_DATA_DIR: chdbDir! }),
    ...o.env, ...extra,
  })
  return {
    kafka, producer, engines, ch, chdbDir, env,
    async start(extra = {}) {
      const e = await startEngineProcess(env(extra))
      engines.push(e)
      return e
    },
    async stopKafka() {
      kafkaStopped = true
      await producer.close()
      await kafka.stop()
    },
    async close(signal: NodeJS.Signals = 'SIGTERM') {
      // the engines first: a test producer's disconnect that hangs (in-process rdkafka) must not leave them running after the test
      const how = kafkaStopped ? 'SIGKILL' : signal
      await Promise.all(engines.map(async (e) => {
        const code = await e.stop(how)
        if (how === 'SIGTERM' && code !== 0) console.error(e.logs())
      }))
      // clients before the broker that holds them
      if (!kafkaStopped) await producer.close()
      await ch?.destroy()
      if (chdbDir) fs.rmSync(chdbDir, { recursive: true, force: true })
      if (!kafkaStopped) await kafka.stop()
    },
  }
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const base = await startStackOn('server', o)
  const ch = base.ch!
  const store = await connectClickHouseServer({ url: ch.url })
  return {
    ...base,
    ch,
    store,
    async count(where = '1', table = 'events') {
      return Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${o.database}.${table} WHERE ${where}`))[0].n)
    },
    async close(signal?: NodeJS.Signals) {
      await store.close()
      await base.close(signal)
    },
  }
}
