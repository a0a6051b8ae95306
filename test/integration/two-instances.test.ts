// Two engine processes on one broker and one ClickHouse server, in one
// consumer group: a token created through either instance's API is used by
// both instances' ingestion at once (an instance never calls a token unknown
// while it lags the control log), and both serve the same projects.
import t from 'tap'
import { connectClickHouseServer } from '../../engine/sink/clickhouse'
import { startMockKafkaCluster } from '../../engine/embedded/mock-kafka'
import { startClickHouseServer } from '../harness/clickhouse-server'
import { baseEnv, eventually, startEngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { testProducer } from '../harness/kafka'

t.test('a token created on instance A is accepted by both instances immediately', async (t) => {
  const kafka = await startMockKafkaCluster()
  const ch = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: ch.url })
  const env = baseEnv({ SLUICE_KAFKA_BROKERS: kafka.bootstrapServers, SLUICE_CLICKHOUSE_URL: ch.url, SLUICE_CLICKHOUSE_DATABASE: 'two' })
  const a = await startEngineProcess(env)
  const b = await startEngineProcess(env)
  const producer = await testProducer(kafka.bootstrapServers)
  // clients before the broker that holds them
  t.teardown(async () => {
    await producer.close()
    await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')])
    await store.close()
    await ch.destroy()
    await kafka.stop()
  })

  // wait until the group has split the partitions between A and B
  const split = await eventually(async () => /partitions assigned/.test(a.logs()) && /partitions assigned/.test(b.logs()), 30_000)
  t.ok(split, 'both instances hold partitions')

  const created = await a.api('POST', '/api/projects', { name: 'Multi' })
  const started = Date.now()
  const visible = await eventually(async () => (await b.api('GET', `/api/projects/${created.body.id}`)).status === 200, 5_000, 10)
  t.ok(visible, 'instance B serves the project created on A')
  t.comment(`visible through B's API after ${Date.now() - started} ms`)

  // right away, with the token, to every partition (keys spread them)
  const N = 400
  await producer.send('events_plugin_ingestion', Array.from({ length: N }, (_, i) => capturedMessage({ token: created.body.environments[0].api_token, distinct_id: `m${i}` })), (i) => `key-${i}`)
  const landed = await eventually(async () => Number((await store.query<{ n: string }>('SELECT count() AS n FROM two.events'))[0].n) === N, 30_000)
  t.ok(landed, `all ${N} events landed`)
  const consumedA = await a.metric('sluice_messages_consumed_total')
  const consumedB = await b.metric('sluice_messages_consumed_total')
  t.equal(consumedA + consumedB, N, 'together the instances consumed every message')
  t.ok(consumedA > 0 && consumedB > 0, 'both instances ingested some of them')
  t.equal(await a.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0)
  t.equal(await b.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0, 'B never called the new token unknown')

  const fromB = await b.api('POST', `/api/projects/${created.body.id}/environments`, { name: 'EU' })
  t.equal(fromB.status, 201)
  const seenOnA = await eventually(async () => (await a.api('GET', `/api/projects/${created.body.id}`)).body.environments.length === 2, 5_000, 10)
  t.ok(seenOnA, 'an environment created on B is served by A')
})
