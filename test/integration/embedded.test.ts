// Embedded mode: `npm start` with no SLUICE_* variables runs the in-process
// mock Kafka cluster and chDB, generates an admin token, and ingests. Only
// the admin and capture ports (0: any free port) and the data directory are
// set here so that the test can run beside others.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openChdb } from '../../engine/sink/transport/chdb'
import { eventually, startEngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { testProducer } from '../harness/kafka'

t.test('npm start with nothing configured serves the admin API and ingests into chDB', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-embedded-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v
  env.SLUICE_ADMIN_PORT = '0'
  env.SLUICE_CAPTURE_PORT = '0'
  env.SLUICE_DATA_DIR = dataDir
  const engine = await startEngineProcess(env)
  t.teardown(() => engine.stop('SIGKILL'))

  t.match(engine.adminToken, /^sla_[A-Za-z0-9_-]{43}$/, 'a random admin token is generated and printed')
  const brokers = /Kafka\s+(127\.0\.0\.1:\d+)/.exec(engine.logs())?.[1]
  t.ok(brokers, 'the embedded broker address is printed')
  t.match(engine.logs(), /ClickHouse\s+chdb/, 'the embedded ClickHouse is named')

  const unauth = await fetch(engine.adminUrl + '/api/projects')
  t.equal(unauth.status, 401, 'the generated token is required')
  const created = await engine.api('POST', '/api/projects', { name: 'Demo' })
  t.equal(created.status, 201)
  const token = created.body.environments[0].api_token

  const producer = await testProducer(brokers!)
  const N = 50
  const G = 3
  await producer.send('events_plugin_ingestion', Array.from({ length: N }, (_, i) => capturedMessage({ token, distinct_id: `u${i}`, event: 'signed up' })))
  // group updates go through the embedded broker's group-update topic to this instance, their owner
  await producer.send('events_plugin_ingestion', Array.from({ length: G }, (_, i) => capturedMessage({
    token, distinct_id: `g${i}`, event: '$groupidentify', properties: { $group_type: 'company', $group_key: 'acme', $group_set: { [`k${i}`]: i } },
  })), (i) => `${token}:g${i}`)
  await producer.close()
  const committed = await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) >= N + G, 30_000)
  t.ok(committed, 'the events were committed')
  t.equal(await engine.metric('sluice_events_inserted_total{table="sluice.events"}'), N + G)

  t.equal(await engine.stop('SIGTERM'), 0, 'SIGTERM exits 0')
  const store = await openChdb(dataDir)
  const rows = await store.query<{ team_id: number; n: number }>('SELECT team_id, count() AS n FROM sluice.events GROUP BY team_id')
  t.same(rows.map((r) => [Number(r.team_id), Number(r.n)]), [[created.body.id, N + G]], 'rows are in chDB under the environment')
  // the in-memory broker dies with the process: SIGTERM first applies what the group-update topic holds
  const [group] = await store.query<{ p: string }>(`SELECT argMax(group_properties, (_version, _timestamp)) AS p FROM sluice.groups WHERE team_id = ${created.body.id} AND group_key = 'acme'`)
  t.same(group && JSON.parse(group.p), { k0: 0, k1: 1, k2: 2 }, 'the group holds every update, written to chDB by its owner before the engine exits')
  await store.close()

  // A restart brings a fresh, empty in-memory broker: the control log is
  // re-seeded from chDB, so the project and its token still work.
  const again = await startEngineProcess(env)
  t.teardown(() => again.stop('SIGKILL'))
  t.match(again.logs(), /re-seeded it from the state materialized in ClickHouse/)
  const listed = await again.api('GET', '/api/projects')
  t.same(listed.body.results.map((p: { name: string }) => p.name), ['Demo'], 'the project survived the restart')
  t.equal(listed.body.results[0].environments[0].api_token, token)
  const next = await again.api('POST', '/api/projects', { name: 'Second' })
  t.equal(next.body.id, created.body.id + 1, 'ids continue after the seeded ones')
  const brokers2 = /Kafka\s+(127\.0\.0\.1:\d+)/.exec(again.logs())![1]
  const producer2 = await testProducer(brokers2)
  await producer2.send('events_plugin_ingestion', Array.from({ length: 10 }, (_, i) => capturedMessage({ token, distinct_id: `again${i}` })))
  await producer2.close()
  t.ok(await eventually(async () => (await again.metric('sluice_events_inserted_total{table="sluice.events"}')) === 10, 30_000), 'the old token ingests after the restart')
  t.equal(await again.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0)
})
