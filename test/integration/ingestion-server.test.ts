// End to end on real components: the mock Kafka cluster (node-rdkafka) and a
// private Debian clickhouse-server 18.16, with Sluice as a separate process
// configured through DESIGN §8's variables only.
import t from 'tap'
import { startStack, type Stack } from '../harness/stack'
import { randomUUID } from 'node:crypto'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { committedOffsets, highWatermarks, readTopic } from '../harness/kafka'

const TOPIC = 'events_plugin_ingestion'
const DLQ = 'events_dead_letter_queue'
const GROUP = 'sluice-e2e'
const DB = 'sluice_e2e'
const PARTITIONS = [0, 1, 2, 3] // the mock cluster auto-creates 4

let stack: Stack
let engine: EngineProcess

t.before(async () => {
  stack = await startStack({ database: DB })
  engine = await stack.start({ SLUICE_KAFKA_GROUP: GROUP })
})
t.teardown(() => stack?.close())

const count = async (where: string) => Number((await stack.store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events WHERE ${where}`))[0].n)

t.test('events land per environment with team_id and project_id; unknown and missing tokens land nowhere', async (t) => {
  const created = await engine.api('POST', '/api/projects', { name: 'Shop' })
  t.equal(created.status, 201)
  const project = created.body
  t.equal(project.environments.length, 1)
  t.equal(project.environments[0].name, 'Production')
  t.equal(project.environments[0].id, project.id, 'the first environment has the project id')
  const staging = await engine.api('POST', `/api/projects/${project.id}/environments`, { name: 'Staging' })
  t.equal(staging.status, 201)
  t.equal(staging.body.project_id, project.id)
  t.not(staging.body.id, project.id)
  const prodToken: string = project.environments[0].api_token
  const stagingToken: string = staging.body.api_token

  const listed = await engine.api('GET', '/api/projects')
  t.same(listed.body.results.map((p: { id: number }) => p.id), [project.id])
  const one = await engine.api('GET', `/api/projects/${project.id}`)
  t.same(one.body.environments.map((e: { name: string }) => e.name), ['Production', 'Staging'])

  const N = 1000
  const messages: string[] = []
  for (let i = 0; i < N; i++) messages.push(capturedMessage({ token: prodToken, distinct_id: `p-${i % 50}`, event: 'viewed', properties: { i, env: 'prod' } }))
  for (let i = 0; i < N; i++) messages.push(capturedMessage({ token: stagingToken, distinct_id: `s-${i % 50}`, event: 'viewed', properties: { i, env: 'staging' } }))
  for (let i = 0; i < 100; i++) messages.push(capturedMessage({ token: 'phc_unknown_token_000000', distinct_id: 'x' }))
  for (let i = 0; i < 10; i++) messages.push(capturedMessage({ distinct_id: 'no-token' }))
  const bad = ['not json at all', JSON.stringify({ data: JSON.stringify({ event: 'x' }), token: prodToken }), JSON.stringify({ uuid: randomUUID(), token: prodToken, data: { event: 'x' } })]
  messages.push(...bad)
  await stack.producer.send(TOPIC, messages, (i) => `k${i % 97}`)

  const landed = await eventually(async () => (await count('1')) >= 2 * N, 60_000)
  t.ok(landed, 'all valid events inserted')
  // wait for the drops and dead letters to be settled, not only the rows
  await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) >= messages.length, 30_000)

  t.equal(await count(`team_id = ${project.id} AND project_id = ${project.id}`), N, 'production rows')
  t.equal(await count(`team_id = ${staging.body.id} AND project_id = ${project.id}`), N, 'staging rows carry the parent project id')
  t.equal(await count('1'), 2 * N, 'nothing else landed')
  t.equal(await count(`distinct_id = 'x' OR distinct_id = 'no-token'`), 0)
  const sample = await stack.store.query<{ properties: string; event: string }>(`SELECT properties, event FROM ${DB}.events WHERE team_id = ${staging.body.id} LIMIT 1`)
  t.equal(JSON.parse(sample[0].properties).env, 'staging')
  t.equal(sample[0].event, 'viewed')

  t.equal(await engine.metric('sluice_events_dropped_total{reason="invalid_token"}'), 100)
  t.equal(await engine.metric('sluice_events_dropped_total{reason="no_token"}'), 10)
  t.equal(await engine.metric('sluice_dead_letters_total{reason="invalid_json"}'), 1)
  t.equal(await engine.metric('sluice_dead_letters_total{reason="invalid_uuid"}'), 1)
  t.equal(await engine.metric('sluice_dead_letters_total{reason="invalid_data"}'), 1)
  t.equal(await engine.metric('sluice_messages_consumed_total'), messages.length)

  const letters = await readTopic(stack.kafka.bootstrapServers, DLQ, 3)
  t.equal(letters.length, 3, 'three dead letters')
  t.same(new Set(letters.map((m) => m.value!.toString())), new Set(bad), 'dead letters keep the original bytes')

  // committed offsets cover every message
  const covered = await eventually(async () => {
    const high = await highWatermarks(stack.kafka.bootstrapServers, TOPIC, PARTITIONS)
    const committed = await committedOffsets(stack.kafka.bootstrapServers, GROUP, TOPIC, PARTITIONS)
    return PARTITIONS.every((p) => committed.get(p) === high.get(p)) ? { high, committed } : undefined
  }, 20_000)
  t.ok(covered, 'the group committed up to the high watermark of every partition')
})

t.test('a token created on this instance is accepted immediately, never called unknown', async (t) => {
  const created = await engine.api('POST', '/api/projects', { name: 'Fresh' })
  const token = created.body.environments[0].api_token
  const before = await engine.metric('sluice_events_dropped_total{reason="invalid_token"}')
  await stack.producer.send(TOPIC, Array.from({ length: 20 }, (_, i) => capturedMessage({ token, distinct_id: `f${i}` })))
  t.ok(await eventually(async () => (await count(`team_id = ${created.body.id}`)) === 20, 30_000), 'all 20 landed')
  t.equal(await engine.metric('sluice_events_dropped_total{reason="invalid_token"}'), before)
})

t.test('the control state is materialized into ClickHouse tables', async (t) => {
  const rows = await eventually(async () => {
    const r = await stack.store.query<{ id: string; name: string }>(`SELECT id, name FROM ${DB}.projects FINAL ORDER BY id`)
    return r.length >= 2 ? r : undefined
  }, 10_000)
  t.same(rows?.map((r) => r.name), ['Shop', 'Fresh'])
  const envs = await stack.store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.environments FINAL`)
  t.equal(Number(envs[0].n), 3)
})

t.test('admin API errors are JSON with the right status', async (t) => {
  const noAuth = await fetch(engine.adminUrl + '/api/projects')
  t.equal(noAuth.status, 401)
  t.equal(((await noAuth.json()) as any).error.code, 'SLUICE_ERR_UNAUTHORIZED')
  const wrong = await fetch(engine.adminUrl + '/api/projects', { headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.status, 401)
  const missing = await engine.api('GET', '/api/projects/999999')
  t.equal(missing.status, 404)
  t.equal(missing.body.error.code, 'SLUICE_ERR_PROJECT_NOT_FOUND')
  const noName = await engine.api('POST', '/api/projects', {})
  t.equal(noName.status, 400)
  t.equal(noName.body.error.field, 'name')
  const badJson = await fetch(engine.adminUrl + '/api/projects', { method: 'POST', headers: { authorization: `Bearer test-admin-token-0123456789abcdef` }, body: '{"name":' })
  t.equal(badJson.status, 400)
  t.equal(((await badJson.json()) as any).error.code, 'SLUICE_ERR_INVALID_JSON')
  const dup = await engine.api('POST', '/api/projects', { name: 'Dup', api_token: 'phc_migrated_token_1' })
  t.equal(dup.status, 201)
  t.equal(dup.body.environments[0].api_token, 'phc_migrated_token_1', 'a given api_token is kept')
  const again = await engine.api('POST', '/api/projects', { name: 'Dup 2', api_token: 'phc_migrated_token_1' })
  t.equal(again.status, 409)
  const big = await engine.api('POST', '/api/projects', { name: 'x'.repeat(2_000_000) })
  t.equal(big.status, 413)
  const method = await engine.api('DELETE', '/api/projects')
  t.equal(method.status, 405)
  const health = await fetch(engine.adminUrl + '/readyz')
  t.equal(health.status, 200)
})
