// The complete admin API on two engine processes (A and B) sharing the
// harness's broker and ClickHouse server: every documented route, settings
// applied by ingestion, token rotation seen by both instances, move with
// group-type conflicts, and state surviving a restart of both instances.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { emptyState } from '../../engine/control/fold'
import type { ControlLog } from '../../engine/control/log'
import { adminRoutes } from '../../engine/http/admin'
import { OPENAPI } from '../../engine/http/openapi'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import { startMockKafkaCluster } from '../../engine/embedded/mock-kafka'
import { startClickHouseServer } from '../harness/clickhouse-server'
import { baseEnv, eventually, startEngineProcess, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { testProducer } from '../harness/kafka'

const TOPIC = 'events_plugin_ingestion'
const DB = 'admin'

t.test('the router and the OpenAPI document list the same routes', async (t) => {
  const routes = adminRoutes({ state: emptyState() } as unknown as ControlLog).list()
  const fromRouter = routes.map((r) => `${r.method} ${r.pattern.replace(/:(\w+)/g, '{$1}')}`).sort()
  const fromDoc: string[] = []
  for (const [path, item] of Object.entries(OPENAPI.paths)) {
    for (const method of Object.keys(item)) if (method !== 'parameters') fromDoc.push(`${method.toUpperCase()} ${path}`)
  }
  t.same(fromDoc.sort(), fromRouter)
})

t.test('admin API on two instances', async (t) => {
  const kafka = await startMockKafkaCluster()
  const ch = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: ch.url })
  const env = baseEnv({ SLUICE_KAFKA_BROKERS: kafka.bootstrapServers, SLUICE_CLICKHOUSE_URL: ch.url, SLUICE_CLICKHOUSE_DATABASE: DB })
  let a: EngineProcess = await startEngineProcess(env)
  let b: EngineProcess = await startEngineProcess(env)
  const producer = await testProducer(kafka.bootstrapServers)
  t.teardown(async () => {
    await producer.close()
    await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')])
    await store.close()
    await ch.destroy()
    await kafka.stop()
  })
  const count = async (where: string) => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events WHERE ${where}`))[0].n)
  const send = (messages: string[]) => producer.send(TOPIC, messages, (i) => `k-${i}-${Math.random()}`)
  const documented = (path: string, method: string, status: number) => {
    const item = (OPENAPI.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>)[path]
    return Object.keys(item[method.toLowerCase()]?.responses ?? {}).includes(String(status))
  }
  const call = async (inst: EngineProcess, method: string, docPath: string, path: string, body?: unknown) => {
    const r = await inst.api(method, path, body)
    t.ok(documented(docPath, method, r.status), `${method} ${path} → ${r.status} is documented`)
    return r
  }

  // --- every documented route, through A unless said otherwise
  const doc = await call(a, 'GET', '/api/openapi.json', '/api/openapi.json')
  t.equal(doc.body.openapi, '3.0.3')
  const P = (await call(a, 'POST', '/api/projects', '/api/projects', { name: 'P' })).body
  const staging = (await call(a, 'POST', '/api/projects/{id}/environments', `/api/projects/${P.id}/environments`, { name: 'Staging' })).body
  const Q = (await call(a, 'POST', '/api/projects', '/api/projects', { name: 'Q' })).body
  t.same(P.settings, { drop_event_names: [], redact_property_names: [] }, 'project settings have defaults')
  t.same(staging.settings, { anonymize_ips: false, drop_events_older_than_seconds: null }, 'environment settings have defaults')
  t.equal((await call(a, 'GET', '/api/projects', '/api/projects')).body.results.length, 2)
  t.equal((await call(b, 'GET', '/api/projects/{id}', `/api/projects/${P.id}`)).body.environments.length, 2, 'B serves what A created')
  t.equal((await call(a, 'GET', '/api/projects/{id}', '/api/projects/4242')).status, 404)
  const renamed = await call(b, 'PATCH', '/api/projects/{id}', `/api/projects/${P.id}`, { name: 'P renamed', settings: { drop_event_names: ['noise'] } })
  t.equal(renamed.body.name, 'P renamed')
  t.same(renamed.body.settings.drop_event_names, ['noise'])
  t.equal((await call(a, 'PATCH', '/api/projects/{id}', `/api/projects/${P.id}`, { settings: { drop_event_names: 'noise' } })).body.error.field, 'settings.drop_event_names')
  t.equal((await call(a, 'PATCH', '/api/projects/{id}', `/api/projects/${P.id}`, { settings: { colour: 1 } })).status, 400)
  t.equal((await call(a, 'GET', '/api/environments/{id}', `/api/environments/${staging.id}`)).body.name, 'Staging')
  const envPatched = await call(a, 'PATCH', '/api/environments/{id}', `/api/environments/${staging.id}`, { name: 'Stage', settings: { anonymize_ips: true } })
  t.equal(envPatched.body.name, 'Stage')
  t.equal(envPatched.body.settings.anonymize_ips, true)
  t.equal((await call(a, 'PATCH', '/api/environments/{id}', `/api/environments/${staging.id}`, { settings: { drop_events_older_than_seconds: -5 } })).status, 400)
  t.equal((await call(a, 'GET', '/api/environments/{id}', '/api/environments/999')).status, 404)
  t.same((await call(a, 'GET', '/api/projects/{id}/group_types', `/api/projects/${P.id}/group_types`)).body, { results: [], next: null })
  t.same((await call(a, 'GET', '/api/projects/{id}/event_definitions', `/api/projects/${P.id}/event_definitions?search=x`)).body, { results: [], next: null })
  t.same((await call(a, 'GET', '/api/projects/{id}/property_definitions', `/api/projects/${P.id}/property_definitions?type=1`)).body, { results: [], next: null })
  t.equal((await call(a, 'GET', '/api/projects/{id}/property_definitions', `/api/projects/${P.id}/property_definitions?type=7`)).body.error.field, 'type')
  t.equal((await call(a, 'DELETE', '/api/environments/{id}', `/api/environments/${Q.id}`)).status, 409, 'the last environment of a project stays')
  t.equal((await call(a, 'POST', '/api/projects/{id}/move', `/api/projects/${P.id}/move`, { parent_project_id: P.id })).status, 409, 'not under itself')
  t.equal((await call(a, 'POST', '/api/projects/{id}/move', `/api/projects/${P.id}/move`, { parent_project_id: 'x' })).status, 400)

  // --- settings applied by ingestion (both instances consume: keys spread the partitions)
  const prodToken: string = P.environments[0].api_token
  await send([
    ...Array.from({ length: 20 }, (_, i) => capturedMessage({ token: staging.api_token, distinct_id: `s${i}`, event: 'kept', ip: '10.1.2.3' })),
    ...Array.from({ length: 20 }, (_, i) => capturedMessage({ token: prodToken, distinct_id: `p${i}`, event: 'noise' })),
    ...Array.from({ length: 20 }, (_, i) => capturedMessage({ token: prodToken, distinct_id: `p${i}`, event: 'kept', ip: '10.9.9.9' })),
  ])
  t.ok(await eventually(async () => (await count(`event = 'kept'`)) === 40, 30_000), 'events not filtered landed')
  t.equal(await count(`event = 'noise'`), 0, 'drop_event_names applies to the project')
  t.equal(await count(`team_id = ${staging.id} AND properties LIKE '%$ip%'`), 0, 'anonymize_ips removed $ip in Stage')
  t.equal(await count(`team_id = ${P.id} AND properties LIKE '%10.9.9.9%'`), 20, 'production keeps $ip')

  // --- rotation through B: the old token stops on both instances, the new one lands
  const rotated = (await call(b, 'POST', '/api/environments/{id}/rotate_token', `/api/environments/${P.id}/rotate_token`)).body
  t.not(rotated.api_token, prodToken)
  const seenByA = await eventually(async () => (await a.api('GET', `/api/environments/${P.id}`)).body.api_token === rotated.api_token, 5_000, 10)
  t.ok(seenByA, 'A serves the rotated token')
  const droppedBefore = (await a.metric('sluice_events_dropped_total{reason="invalid_token"}')) + (await b.metric('sluice_events_dropped_total{reason="invalid_token"}'))
  await send([
    ...Array.from({ length: 30 }, (_, i) => capturedMessage({ token: prodToken, distinct_id: `old${i}`, event: 'after rotation' })),
    ...Array.from({ length: 30 }, (_, i) => capturedMessage({ token: rotated.api_token, distinct_id: `new${i}`, event: 'after rotation' })),
  ])
  t.ok(await eventually(async () => (await count(`event = 'after rotation'`)) === 30, 30_000), 'events with the new token land')
  const dropped = await eventually(async () => {
    const n = (await a.metric('sluice_events_dropped_total{reason="invalid_token"}')) + (await b.metric('sluice_events_dropped_total{reason="invalid_token"}'))
    return n - droppedBefore === 30 ? n : undefined
  }, 10_000)
  t.ok(dropped, 'the 30 events with the old token were dropped as invalid_token')
  t.equal(await count(`distinct_id LIKE 'old%'`), 0)

  // --- delete revokes the token, keeps the data
  t.equal((await call(a, 'DELETE', '/api/environments/{id}', `/api/environments/${staging.id}`)).status, 204)
  t.ok(await eventually(async () => (await b.api('GET', `/api/environments/${staging.id}`)).status === 404, 5_000, 10), 'B no longer serves it')
  t.equal(await count(`team_id = ${staging.id}`), 20, 'the deleted environment keeps its data')

  // --- move: group types claimed through the control log (as ingestion does)
  const R = (await a.api('POST', '/api/projects', { name: 'R' })).body
  const claim = (project_id: number, group_type: string) => JSON.stringify({ type: 'claim_group_type', request_id: randomUUID(), at: new Date().toISOString(), project_id, group_type })
  await producer.send('sluice_control', [claim(P.id, 'organization'), claim(P.id, 'company'), claim(Q.id, 'company'), claim(R.id, 'organization')], undefined, 0)
  t.ok(await eventually(async () => (await b.api('GET', `/api/projects/${Q.id}/group_types`)).body.results.length === 1, 5_000), 'claims folded')
  const conflict = await call(a, 'POST', '/api/projects/{id}/move', `/api/projects/${Q.id}/move`, { parent_project_id: P.id })
  t.equal(conflict.status, 409)
  t.match(conflict.body.error.message, /'company'/, 'the 409 names the conflicting group type')
  const moved = await call(b, 'POST', '/api/projects/{id}/move', `/api/projects/${R.id}/move`, { parent_project_id: P.id })
  t.equal(moved.status, 200)
  t.same(moved.body.environments.map((e: { id: number }) => e.id), [P.id, R.id], 'R’s environment is now P’s (the deleted Stage is gone)')
  t.equal((await a.api('GET', `/api/projects/${R.id}`)).status, 404, 'R is no longer a project')
  t.same((await a.api('GET', `/api/projects/${P.id}/group_types`)).body.results, [{ group_type: 'organization', group_type_index: 0 }, { group_type: 'company', group_type_index: 1 }])
  t.equal((await call(a, 'POST', '/api/projects/{id}/move', `/api/projects/${Q.id}/move`, { parent_project_id: R.id })).status, 409, 'nesting is one level deep')

  // --- restart both instances: state comes back from the control log
  t.equal(await a.stop('SIGTERM'), 0)
  t.equal(await b.stop('SIGTERM'), 0)
  a = await startEngineProcess(env)
  b = await startEngineProcess(env)
  const afterP = (await b.api('GET', `/api/projects/${P.id}`)).body
  t.equal(afterP.name, 'P renamed')
  t.equal(afterP.environments[0].api_token, rotated.api_token, 'the current token survived the restart')
  t.equal((await a.api('GET', `/api/projects/${Q.id}`)).body.name, 'Q')
  await send(Array.from({ length: 10 }, (_, i) => capturedMessage({ token: rotated.api_token, distinct_id: `restart${i}`, event: 'after restart' })))
  t.ok(await eventually(async () => (await count(`event = 'after restart'`)) === 10, 60_000), 'the current token ingests after the restart')
})
