// The control log survives broker retention (issue 20), on the mock cluster
// whose 5 MiB per partition makes truncation real: instances start from a
// snapshot and agree with the instance that saw everything; with no snapshot
// retained an instance refuses to serve rather than fold a partial log; a
// snapshot that disagrees with an instance's own fold is detected and named.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { SnapshotChunk } from '../../engine/control/commands'
import { SnapshotAssembler, snapshotChunks } from '../../engine/control/snapshot-chunks'
import { encodeImage, type StateImage } from '../../engine/control/state-image'
import { eventually, startEngineProcess, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { readTopic, watermarks } from '../harness/kafka'
import { startStack } from '../harness/stack'

t.setTimeout(600_000)

const stackP = startStack({ database: 'unused' })
t.teardown(async () => (await stackP).close('SIGKILL'))

/** One isolated deployment per test: its own topics, group and database on the shared broker and server. */
async function deployment(name: string, extra: Record<string, string> = {}) {
  const stack = await stackP
  const { kafka, store, producer } = stack
  const env = stack.env({
    SLUICE_CLICKHOUSE_DATABASE: name, SLUICE_CONTROL_TOPIC: `${name}_control`, SLUICE_KAFKA_TOPIC: `${name}_events`,
    SLUICE_KAFKA_GROUP: `${name}_group`, SLUICE_DLQ_TOPIC: `${name}_dlq`, ...extra,
  })
  const engines: EngineProcess[] = []
  const start = async (more: Record<string, string> = {}) => {
    const e = await startEngineProcess({ ...env, ...more })
    engines.push(e)
    return e
  }
  const cleanup = async () => {
    await Promise.all(engines.map((e) => e.stop('SIGKILL')))
  }
  const count = async (where = '1') => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${name}.events WHERE distinct_id LIKE 'sent-%' AND ${where}`))[0].n)
  const send = (token: string, n: number) => producer.send(`${name}_events`, Array.from({ length: n }, (_, i) => capturedMessage({ token, distinct_id: `sent-${i}` })), (i) => `k${i}`)
  /** Renames project `id` until retention has deleted every control-log offset below `below`. */
  const flood = async (id: number, below: number) => {
    const topic = `${name}_control`
    for (let round = 0; round < 20 && (await watermarks(kafka.bootstrapServers, topic, 0)).low <= below; round++) {
      await producer.send(topic, Array.from({ length: 5_000 }, (_, i) => JSON.stringify({
        type: 'update_project', request_id: randomUUID(), at: new Date().toISOString(), project_id: id, name: `Q-${round}-${i}-${'x'.repeat(180)}`,
      })), undefined, 0)
    }
    return watermarks(kafka.bootstrapServers, topic, 0)
  }
  return { env, kafka, store, producer, start, cleanup, count, send, flood, controlTopic: `${name}_control` }
}

/** Everything a user can read about the projects: ids, names, tokens, settings, environments and group types. */
async function catalogue(e: EngineProcess) {
  const list = await e.api('GET', '/api/projects')
  if (list.status !== 200) return { status: list.status, body: list.body }
  const projects = []
  for (const p of list.body.results) projects.push({ ...p, group_types: (await e.api('GET', `/api/projects/${p.id}/group_types`)).body })
  return projects
}

t.test('an instance started after retention truncated the control log serves the same projects, and events land under the right environment', async (t) => {
  const d = await deployment('trunc')
  t.teardown(d.cleanup)
  const a = await d.start()
  const p = (await a.api('POST', '/api/projects', { name: 'P' })).body
  const q = (await a.api('POST', '/api/projects', { name: 'Q' })).body
  t.same([p.id, q.id], [1, 2])
  t.equal((await a.api('PATCH', `/api/projects/${p.id}`, { settings: { drop_event_names: ['spam'] } })).status, 200)
  t.equal((await a.api('PATCH', `/api/environments/${p.id}`, { settings: { anonymize_ips: true } })).status, 200)
  await d.producer.send('trunc_events', [capturedMessage({ token: p.environments[0].api_token, properties: { $groups: { company: 'acme' } } })], () => 'g')
  t.ok(await eventually(async () => (await a.api('GET', `/api/projects/${p.id}/group_types`)).body.results.length === 1), 'P has a group type')

  const { low, high } = await d.flood(q.id, 100)
  t.ok(low > 100, `retention deleted the start of the control log (low ${low}, high ${high})`)
  const r = (await a.api('POST', '/api/projects', { name: 'R' })).body
  t.equal(r.id, 3, 'R gets the next id on A')
  const before = await catalogue(a)
  await a.stop()

  const b = await d.start()
  t.same(await catalogue(b), before, 'B, started from a snapshot, serves exactly what A served')
  t.match(b.logs(), /started from a snapshot/)
  t.equal(await b.metric('sluice_control_log_complete'), 1)

  await d.send(p.environments[0].api_token, 50)
  await d.send(r.environments[0].api_token, 50)
  t.ok(await eventually(async () => (await d.count()) === 100), 'all 100 events stored')
  t.equal(await d.count('team_id = 1 AND project_id = 1'), 50, "P's events land under P")
  t.equal(await d.count('team_id = 3 AND project_id = 3'), 50, "R's events land under R")
  t.equal(await b.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0)

  // every instance restarted at once
  await b.stop()
  const [a2, b2] = await Promise.all([d.start(), d.start()])
  t.same(await catalogue(a2), before, 'after a restart of every instance: A serves the same state')
  t.same(await catalogue(b2), before, 'and so does B')

  // two instances creating at once, after the truncation: no id is handed out twice
  const created = await Promise.all([a2, b2, a2, b2, a2, b2, a2, b2].map((e, i) => e.api('POST', '/api/projects', { name: `N${i}` })))
  const ids = created.map((c) => c.body.id as number)
  t.equal(new Set(ids).size, 8, `eight distinct ids: ${ids.join(',')}`)
  t.ok(ids.every((id) => id > 3), 'none reuses an id that existed before')
})

t.test('with no snapshot left in the retained log an instance refuses to serve, drops nothing and writes nothing', async (t) => {
  const never = { SLUICE_CONTROL_SNAPSHOT_COMMANDS: '1000000000', SLUICE_CONTROL_SNAPSHOT_BYTES: '1000000000000' }
  const d = await deployment('refuse', never)
  t.teardown(d.cleanup)
  const a = await d.start()
  const p = (await a.api('POST', '/api/projects', { name: 'P' })).body
  const q = (await a.api('POST', '/api/projects', { name: 'Q' })).body
  const { low } = await d.flood(q.id, 100)
  t.ok(low > 100, `the first-start snapshot fell to retention (low ${low})`)
  // the materialized copy in ClickHouse has caught up with A (used by the recovery below)
  t.ok(await eventually(async () => Number((await d.store.query<{ n: string }>('SELECT count() AS n FROM refuse.environments FINAL'))[0].n) === 2))
  // killed: a clean stop would write a last snapshot (engine/control/log.ts stop())
  await a.stop('SIGKILL')

  const b = await d.start()
  const ready = await fetch(`${b.adminUrl}/readyz`)
  const readiness = await ready.json() as { failing: string[]; checks: Record<string, { detail: string }> }
  t.equal(ready.status, 503, '/readyz answers 503')
  t.ok(readiness.failing.includes('control_log'), 'naming the control log')
  t.match(readiness.checks.control_log.detail, /control log incomplete: topic refuse_control no longer holds offsets below \d+/)
  t.equal((await fetch(`${b.adminUrl}/healthz`)).status, 200, 'it stays alive, waiting for a snapshot')
  const api = await b.api('GET', '/api/projects')
  t.equal(api.status, 503)
  t.equal(api.body.error.code, 'SLUICE_ERR_CONTROL_LOG_INCOMPLETE', 'the admin API answers with the catalogue error')
  t.match(api.body.error.message, /SLUICE_CONTROL_RECOVER=clickhouse/, 'which says what to do')
  t.match(b.logs(), /control log incomplete/, 'and so does the log')

  await d.send(p.environments[0].api_token, 20)
  await new Promise((r) => setTimeout(r, 4_000))
  t.equal(await b.metric('sluice_messages_consumed_total'), 0, 'no event is consumed from an incomplete state')
  t.equal(await b.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0, 'none is dropped as invalid_token')
  t.equal(await d.count(), 0, 'nothing is written')
  t.equal(await b.metric('sluice_control_log_complete'), 0)
  await b.stop()

  // the operator's way out: rebuild from ClickHouse's materialized copy, once
  const c = await d.start({ SLUICE_CONTROL_RECOVER: 'clickhouse' })
  t.ok(await eventually(async () => (await c.api('GET', `/api/projects/${p.id}`)).status === 200, 20_000), 'recovered from ClickHouse')
  t.equal((await c.api('GET', `/api/projects/${p.id}`)).body.environments[0].api_token, p.environments[0].api_token, "P's token is P's again")
  t.ok(await eventually(async () => (await d.count('team_id = 1')) === 20), "the events that waited land under P")
  const next = await c.api('POST', '/api/projects', { name: 'After' })
  t.equal(next.body.id, 3, 'ids continue after the recovered ones')
})

t.test('a snapshot that differs from an instance\'s own fold is detected and the differing entity named', async (t) => {
  const d = await deployment('diverge', { SLUICE_CONTROL_SNAPSHOT_COMMANDS: '3' })
  t.teardown(d.cleanup)
  const a = await d.start()
  await a.api('POST', '/api/projects', { name: 'Shop' })
  await a.api('POST', '/api/projects/1/environments', { name: 'Staging' })
  await a.api('PATCH', '/api/projects/1', { name: 'Shop 2' })
  t.ok(await eventually(async () => (await a.metric('sluice_control_snapshot_checks_total{result="agrees"}')) >= 2), 'A read back its snapshots and agrees with them')

  // the newest complete snapshot, as it is on the broker
  const messages = await readTopic(d.kafka.bootstrapServers, d.controlTopic, 1_000_000, 5_000)
  const assembler = new SnapshotAssembler()
  let newest: { base: number; image: StateImage } | undefined
  for (const m of messages.filter((x) => x.partition === 0).sort((x, y) => x.offset - y.offset)) {
    const c = JSON.parse(m.value!.toString()) as SnapshotChunk
    if (c.type !== 'snapshot') continue
    const r = assembler.add(c, m.offset)
    if (r.kind === 'complete') newest = { base: r.snapshot.baseOffset, image: r.image }
  }
  t.ok(newest && newest.image.projects.length === 1, 'found a snapshot with the project')
  const forged = JSON.parse(JSON.stringify(newest!.image)) as StateImage
  forged.projects[0].name = 'Forged'
  const { text, hash } = encodeImage(forged)
  await d.producer.send(d.controlTopic, snapshotChunks(randomUUID(), newest!.base, text, hash).map((c) => JSON.stringify({ ...c, request_id: randomUUID(), at: new Date().toISOString() })), undefined, 0)

  t.ok(await eventually(async () => (await a.metric('sluice_control_snapshot_checks_total{result="diverged"}')) === 1), 'the divergence is counted')
  // pino writes JSON: the quotes around the names are escaped
  t.match(a.logs(), /control state diverged: the snapshot of offset \d+ differs from this instance's fold: project 1: name differs \(\\"Shop 2\\" here, \\"Forged\\" in the snapshot\)/)
  // an instance folding the log from the start checks the same snapshots
  const b = await d.start()
  t.ok(await eventually(async () => (await b.metric('sluice_control_snapshot_checks_total{result="diverged"}')) === 1), 'B detects it too')
  t.equal((await b.api('GET', '/api/projects/1')).body.name, 'Shop 2', 'and keeps its own fold')
})
