// kill -9 in the middle of 20,000 events with 2,000 merges (issue 14 "Done
// when"): after a restart, persons and distinct_id mappings are identical to
// a run of the same messages without the kill (one broker, one
// clickhouse-server, one database per run). Each user's events share one
// Kafka key, so their order is the same in both runs: a person's outcome
// depends on the order of its events, which only Kafka's per-key order fixes
// (README, "Persons").
import t from 'tap'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { baseEnv, eventually, startEngineProcess, type EngineProcess } from '../harness/engine-process'
import { startStack } from '../harness/stack'
import { capturedMessage } from '../harness/events'

const USERS = 2_000
const PER_USER = 10 // 4 anonymous events, $identify, 5 as the user
const N = USERS * PER_USER
const T0 = Date.parse('2026-11-01T00:00:00Z')

/** The same 20,000 messages for a token: uuids, timestamps and properties fixed. */
function messages(token: string, run: number): { values: string[]; keys: string[] } {
  const values: string[] = []
  const keys: string[] = []
  for (let k = 0; k < PER_USER; k++) {
    for (let u = 0; u < USERS; u++) {
      const i = k * USERS + u
      const ts = new Date(T0 + i * 1000).toISOString()
      const uuid = `00000000-0000-4000-8000-${String(run * 1e7 + i).padStart(12, '0')}`
      const anon = `anon-${u}`
      const user = `user-${u}`
      const spec = k < 4
        ? { distinct_id: anon, event: '$pageview', properties: { $browser: ['Chrome', 'Safari'][k % 2], $set: { [`a${k}`]: k, step: k }, $set_once: { first: k } } }
        : k === 4
          ? { distinct_id: user, event: '$identify', properties: { $anon_distinct_id: anon, $set: { email: `${user}@x.test` } } }
          : { distinct_id: user, event: 'bought', properties: { $set: { [`u${k}`]: k, step: k }, $unset: k === 9 ? ['a0'] : undefined } }
      values.push(capturedMessage({ ...spec, token, uuid, timestamp: ts, now: ts, sent_at: ts }))
      keys.push(`${token}:${anon}`)
    }
  }
  return { values, keys }
}

async function snapshot(store: ClickHouseStore, db: string) {
  const persons = await store.query(`SELECT toString(id) AS id, properties, is_identified, toString(created_at) AS created_at, is_deleted FROM ${db}.person FINAL ORDER BY id`)
  const mappings = await store.query(`SELECT distinct_id, toString(argMax(person_id, version)) AS pid FROM ${db}.person_distinct_id2 GROUP BY distinct_id ORDER BY distinct_id`)
  const overrides = await store.query(`SELECT distinct_id, toString(argMax(person_id, version)) AS pid FROM ${db}.person_distinct_id_overrides GROUP BY distinct_id ORDER BY distinct_id`)
  return { persons, mappings, overrides }
}

t.test('kill -9 mid-stream: persons and mappings identical to an uninterrupted run', async (t) => {
  const stack = await startStack({ database: 'unused' })
  t.teardown(() => stack.close('SIGKILL'))
  const { kafka, ch, store, producer, engines } = stack

  async function run(name: string, killAt: number | undefined) {
    const db = `pk_${name}`
    const env = baseEnv({
      SLUICE_KAFKA_BROKERS: kafka.bootstrapServers, SLUICE_CLICKHOUSE_URL: ch.url, SLUICE_CLICKHOUSE_DATABASE: db,
      SLUICE_KAFKA_TOPIC: `pk_${name}`, SLUICE_KAFKA_GROUP: `pk_${name}`, SLUICE_CONTROL_TOPIC: `pk_control_${name}`,
      SLUICE_CONSUME_BATCH: '200', SLUICE_INSERT_MAX_ROWS: '1000', SLUICE_INSERT_INTERVAL_MS: '100',
    })
    let engine = await startEngineProcess(env)
    engines.push(engine)
    const token = (await engine.api('POST', '/api/projects', { name })).body.environments[0].api_token
    const { values, keys } = messages(token, name === 'reference' ? 1 : 2)
    for (let i = 0; i < N; i += 2000) await producer.send(`pk_${name}`, values.slice(i, i + 2000), (j) => keys[i + j])
    if (killAt !== undefined) {
      t.ok(await eventually(async () => (await engine.metric('sluice_messages_consumed_total')) >= killAt, 120_000, 10), `consumed ${killAt}`)
      const at = await engine.metric('sluice_messages_consumed_total')
      await engine.stop('SIGKILL')
      t.comment(`killed after consuming ${at} of ${N}`)
      engine = await startEngineProcess(env)
      engines.push(engine)
    }
    const stored = await eventually(async () => Number((await store.query<{ n: string }>(`SELECT uniqExact(uuid) AS n FROM ${db}.events`))[0].n) === N, 180_000, 500)
    t.ok(stored, `${name}: all ${N} events stored`)
    // the last flush of persons rides with the last events; give the engine a moment to acknowledge it
    await eventually(async () => (await engine.metric('sluice_offsets_committed_total')) > 0, 10_000)
    await engine.stop('SIGTERM')
    return snapshot(store, db)
  }

  const reference = await run('reference', undefined)
  t.equal(reference.persons.filter((p) => Number(p.is_deleted) === 0).length, USERS, 'one live person per user')
  t.equal(reference.mappings.length, 2 * USERS, 'two distinct_ids each')
  const killed = await run('killed', N / 2)
  t.same(killed.persons, reference.persons, 'persons identical')
  t.same(killed.mappings, reference.mappings, 'mappings identical')
  t.same(killed.overrides, reference.overrides, 'overrides identical')
})
