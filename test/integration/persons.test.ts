// Persons per environment (DESIGN §4b, issue 14 "Done when") from outside:
// messages on the mock Kafka broker keyed as capture keys them, the engine as
// its own process, answers read from a private clickhouse-server 18.16 and
// through the read API; then the identify flow once more on chDB (JSONEachRow
// rows), through the read API. One broker and one server for the file.
import t from 'tap'
import { personIdOf } from '../../workers/persons/uuidv5'
import { eventually, startEngineProcess, type EngineProcess } from '../harness/engine-process'
import { startStack, startStackOn } from '../harness/stack'
import { capturedMessage } from '../harness/events'
import type { TestProducer } from '../harness/kafka'

const TOPIC = 'events_plugin_ingestion'
const DB = 'persons'

interface Env { id: number; api_token: string }

/** Sends events as capture does: key `token:distinct_id`, so one distinct_id stays in one partition. */
function sender(producer: TestProducer) {
  return async (env: Env, events: { event?: string; distinct_id: string; properties?: Record<string, unknown> }[]) => {
    await producer.send(TOPIC, events.map((e) => capturedMessage({ token: env.api_token, event: e.event ?? '$pageview', distinct_id: e.distinct_id, properties: e.properties ?? {} })),
      (i) => `${env.api_token}:${events[i].distinct_id}`)
  }
}

t.test('persons on a clickhouse-server 18.16', async (t) => {
  const stack = await startStack({ database: DB })
  const { store, producer } = stack
  const engine = await stack.start()
  t.teardown(async () => {
    if (t.counts.fail > 0) t.comment(engine.logs().split('\n').filter((l) => /"level":[45]0/.test(l)).slice(-20).join('\n'))
    await stack.close('SIGKILL')
  })
  const send = sender(producer)
  const q = <T = Record<string, unknown>>(sql: string) => store.query<T>(sql)
  const count = async (sql: string) => Number((await q<{ n: string }>(sql))[0].n)
  const eventsOf = (team: number) => count(`SELECT count() AS n FROM ${DB}.events WHERE team_id = ${team}`)
  /** live persons of an environment, newest row of each */
  const personsOf = (team: number) => q<{ id: string; properties: string; is_identified: number }>(
    `SELECT toString(id) AS id, properties, is_identified FROM ${DB}.person FINAL WHERE team_id = ${team} AND is_deleted = 0 ORDER BY id`)
  /** uniqExact of the resolved person (override if present, else events.person_id) over some distinct_ids */
  const resolvedPersons = (team: number, ids: string[]) => count(`
    SELECT uniqExact(if(o.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, o.person_id)) AS n
    FROM (SELECT distinct_id, person_id FROM ${DB}.events WHERE team_id = ${team} AND distinct_id IN (${ids.map((i) => `'${i}'`).join(', ')})) AS e
    ANY LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM ${DB}.person_distinct_id_overrides WHERE team_id = ${team} GROUP BY distinct_id) AS o
    USING distinct_id`)

  const project = (await engine.api('POST', '/api/projects', { name: 'People' })).body
  const prod: Env = project.environments[0]
  const staging: Env = (await engine.api('POST', `/api/projects/${project.id}/environments`, { name: 'Staging' })).body

  /** the identify flow of "Done when": 3 anonymous events, $identify, 2 more as the user */
  async function identifyFlow(env: Env, anon: string, user: string): Promise<void> {
    const before = await eventsOf(env.id)
    await send(env, [
      { distinct_id: anon, properties: { $browser: 'Chrome', $current_url: 'https://x.test/a', utm_source: 'news', $set: { plan: 'free' } } },
      { distinct_id: anon, properties: { $browser: 'Chrome', $current_url: 'https://x.test/b', $set_once: { first_seen_page: 'b' } } },
      { distinct_id: anon, properties: { $browser: 'Firefox', $current_url: 'https://x.test/c', $set: { color: 'blue' } } },
    ])
    t.ok(await eventually(async () => (await eventsOf(env.id)) === before + 3), 'anonymous events stored')
    await send(env, [
      { event: '$identify', distinct_id: user, properties: { $anon_distinct_id: anon, $set: { email: `${user}@x.test` } } },
      { distinct_id: user, properties: { $set: { plan: 'pro' } } },
      { distinct_id: user, properties: { $unset: ['color'], $set_once: { first_seen_page: 'zzz' } } },
    ])
    t.ok(await eventually(async () => (await eventsOf(env.id)) === before + 6), 'identified events stored')
  }

  t.test('anonymous, then $identify: one person with both distinct_ids, every $set, $initial_* from the first event', async (t) => {
    await identifyFlow(prod, 'anon-a', 'user-a')
    const persons = await eventually(async () => {
      const p = await personsOf(prod.id)
      return p.length === 1 && p[0].is_identified === 1 && JSON.parse(p[0].properties).plan === 'pro' && !('color' in JSON.parse(p[0].properties)) ? p : undefined
    })
    t.ok(persons, 'one live person, identified, final properties')
    const p = persons![0]
    t.equal(p.id, personIdOf(prod.id, 'anon-a'), 'the anonymous id\'s person survives (its events need no override)')
    t.match(JSON.parse(p.properties), {
      plan: 'pro', email: 'user-a@x.test', first_seen_page: 'b',
      $initial_browser: 'Chrome', $initial_current_url: 'https://x.test/a', $initial_utm_source: 'news',
      // the third event's $set (color) carried its automatic keys with it
      $browser: 'Firefox',
    })
    const mappings = await q<{ distinct_id: string; person_id: string }>(
      `SELECT distinct_id, toString(argMax(person_id, version)) AS person_id FROM ${DB}.person_distinct_id2 WHERE team_id = ${prod.id} GROUP BY distinct_id ORDER BY distinct_id`)
    t.same(mappings, [{ distinct_id: 'anon-a', person_id: p.id }, { distinct_id: 'user-a', person_id: p.id }])
    t.equal(await resolvedPersons(prod.id, ['anon-a', 'user-a']), 1, 'uniqExact of the resolved person over the 6 events is 1')
    const stamped = await q<{ distinct_id: string; person_id: string; person_properties: string; person_created_at: string }>(
      `SELECT distinct_id, toString(person_id) AS person_id, person_properties, toString(person_created_at) AS person_created_at FROM ${DB}.events WHERE team_id = ${prod.id} ORDER BY timestamp, _offset`)
    t.ok(stamped.every((e) => e.person_id === p.id), 'every event carries the person id')
    t.ok(stamped.every((e) => e.person_created_at !== '1970-01-01 00:00:00'), 'and its created_at')
    t.match(JSON.parse(stamped[0].person_properties), { plan: 'free', $initial_browser: 'Chrome' }, 'person_properties as of the event')

    // read API
    const byDistinct = await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-a`)
    t.equal(byDistinct.status, 200)
    t.same({ ...byDistinct.body, properties: undefined, created_at: undefined }, { id: p.id, distinct_ids: ['anon-a', 'user-a'], is_identified: true, properties: undefined, created_at: undefined })
    t.equal(byDistinct.body.properties.plan, 'pro')
    t.match(byDistinct.body.created_at, /^\d{4}-\d\d-\d\dT/)
    t.same((await engine.api('GET', `/api/environments/${prod.id}/persons/${p.id}`)).body, byDistinct.body)
    t.equal((await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=nobody`)).status, 404)
    t.equal((await engine.api('GET', `/api/environments/${prod.id}/persons/not-a-uuid`)).status, 404)
    t.equal((await engine.api('GET', `/api/environments/${staging.id}/persons/${p.id}`)).status, 404, 'another environment does not see it')

    // the taxonomy: automatic properties are person properties, as the $set keys are
    const personProps = await eventually(async () => {
      const r = (await engine.api('GET', `/api/projects/${project.id}/property_definitions?type=2&limit=100`)).body.results as { name: string }[]
      const names = r.map((d) => d.name)
      return names.includes('$initial_utm_source') ? names : undefined
    })
    t.ok(personProps, 'person property definitions written')
    t.ok(['plan', 'email', '$browser', '$initial_browser', '$current_url', '$initial_current_url', 'utm_source', '$initial_utm_source'].every((n) => personProps!.includes(n)),
      'the $set keys and the automatic ones with their $initial_*')
  })

  t.test('two environments, same distinct_ids: separate persons, never merged', async (t) => {
    await identifyFlow(staging, 'anon-a', 'user-a')
    const persons = await eventually(async () => {
      const p = await personsOf(staging.id)
      return p.length === 1 && p[0].is_identified === 1 ? p : undefined
    })
    t.ok(persons)
    t.equal(persons![0].id, personIdOf(staging.id, 'anon-a'))
    t.not(persons![0].id, personIdOf(prod.id, 'anon-a'))
    t.equal((await personsOf(prod.id)).length, 1, 'production still has its one person')
    t.equal(await resolvedPersons(staging.id, ['anon-a', 'user-a']), 1)
  })

  t.test('illegal ids and double identification: refused with a warning, events stored', async (t) => {
    const before = await eventsOf(prod.id)
    await send(prod, [{ event: '$identify', distinct_id: 'user-b', properties: { $anon_distinct_id: 'Anonymous' } }])
    await send(prod, [{ event: '$create_alias', distinct_id: 'null', properties: { alias: 'user-b' } }])
    // two identified persons
    await send(prod, [{ event: '$identify', distinct_id: 'user-c', properties: { $anon_distinct_id: 'anon-c' } }])
    await send(prod, [{ event: '$identify', distinct_id: 'user-d', properties: { $anon_distinct_id: 'anon-d' } }])
    t.ok(await eventually(async () => (await eventsOf(prod.id)) === before + 4))
    await send(prod, [{ event: '$identify', distinct_id: 'user-c', properties: { $anon_distinct_id: 'user-d' } }])
    t.ok(await eventually(async () => (await eventsOf(prod.id)) === before + 5), 'the refused merges\' events are stored')
    const warnings = await eventually(async () => {
      const w = await q<{ type: string }>(`SELECT type FROM ${DB}.ingestion_warnings WHERE team_id = ${prod.id} ORDER BY type`)
      return w.some((x) => x.type === 'cannot_merge_already_identified') ? w.map((x) => x.type) : undefined
    })
    t.same(warnings, ['cannot_merge_already_identified', 'cannot_merge_with_illegal_distinct_id'], 'one warning per type (rate-limited)')
    const c = (await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-c`)).body
    const d = (await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-d`)).body
    t.not(c.id, d.id, 'two identified persons stay two')
    t.same(c.distinct_ids, ['anon-c', 'user-c'])
    const anonymous = await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=Anonymous`)
    t.equal(anonymous.status, 404, 'an illegal id was never attached to anyone')
    t.same((await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-b`)).body.distinct_ids, ['user-b'])
  })

  t.test('$merge_dangerously joins two identified persons', async (t) => {
    await send(prod, [{ event: '$merge_dangerously', distinct_id: 'user-c', properties: { alias: 'user-d' } }])
    const merged = await eventually(async () => {
      const r = await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-d`)
      return r.body.distinct_ids?.length === 4 ? r.body : undefined
    })
    t.ok(merged, 'user-d now belongs to user-c\'s person')
    t.same(merged.distinct_ids, ['anon-c', 'anon-d', 'user-c', 'user-d'])
    const overrides = await q<{ distinct_id: string }>(`SELECT distinct_id FROM ${DB}.person_distinct_id_overrides FINAL WHERE team_id = ${prod.id} ORDER BY distinct_id`)
    t.ok(['anon-d', 'user-d'].every((id) => overrides.some((o) => o.distinct_id === id)), 'the moved ids have override rows')
    t.equal(await resolvedPersons(prod.id, ['anon-c', 'anon-d', 'user-c', 'user-d']), 1, 'their events resolve to one person')
    // the events API answers the resolved person: user-d's events were stored with user-d's old person
    const stored = await q<{ person_id: string }>(`SELECT DISTINCT toString(person_id) AS person_id FROM ${DB}.events WHERE team_id = ${prod.id} AND distinct_id = 'user-d'`)
    t.notOk(stored.some((r) => r.person_id === merged.id), 'stored with the person it had then')
    const listed = (await engine.api('GET', `/api/environments/${prod.id}/events?distinct_id=user-d`)).body.results as { person_id: string }[]
    t.ok(listed.length > 0 && listed.every((e) => e.person_id === merged.id), 'GET …/events: person_id is the override')
    const own = (await engine.api('GET', `/api/environments/${prod.id}/events?distinct_id=user-c`)).body.results as { person_id: string }[]
    t.ok(own.length > 0 && own.every((e) => e.person_id === merged.id), 'and events.person_id where there is no override')
  })

  t.test('hostile person input: deep nesting, a $set that is not an object, a huge $set: events stored, the person intact', async (t) => {
    const before = await eventsOf(prod.id)
    let deep: unknown = { a: 1 }
    for (let i = 0; i < 1000; i++) deep = [deep]
    await send(prod, [
      { distinct_id: 'user-a', properties: { $set: { deep } } },
      { distinct_id: 'user-a', properties: { $current_url: deep, $set_once: 'no' } },
      { distinct_id: 'user-a', properties: { $set: { big: 'x'.repeat(100_000) } } },
      { event: '$identify', distinct_id: 'user-a', properties: { $anon_distinct_id: ['not', 'a', 'string'] } },
      { event: '$create_alias', distinct_id: 'user-a', properties: { alias: 'user-a' } },
    ])
    t.ok(await eventually(async () => (await eventsOf(prod.id)) === before + 5), 'all five stored')
    const p = (await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-a`)).body
    t.same(p.distinct_ids, ['anon-a', 'user-a'], 'a merge naming itself changes nothing')
    t.notOk('deep' in p.properties || 'big' in p.properties, 'the unbounded sets were refused')
    t.equal(p.properties.plan, 'pro')
  })

  t.test('personless events: the known or deterministic id, no properties, no person written; personless merges dropped', async (t) => {
    const before = await eventsOf(prod.id)
    await send(prod, [
      { distinct_id: 'ghost', properties: { $process_person_profile: false, $set: { plan: 'x' } } },
      { distinct_id: 'user-a', properties: { $process_person_profile: false, $set: { plan: 'ignored' } } },
      { event: '$identify', distinct_id: 'ghost', properties: { $process_person_profile: false, $anon_distinct_id: 'anon-z' } },
    ])
    t.ok(await eventually(async () => (await eventsOf(prod.id)) === before + 2), 'two stored, the merge dropped')
    t.ok(await eventually(async () => (await engine.metric('sluice_events_dropped_total{reason="invalid_process_person_profile"}')) === 1))
    const rows = await q<{ distinct_id: string; person_id: string; person_properties: string; properties: string }>(
      `SELECT distinct_id, toString(person_id) AS person_id, person_properties, properties FROM ${DB}.events WHERE team_id = ${prod.id} AND position(properties, '"$process_person_profile":false') > 0 ORDER BY distinct_id`)
    t.same(rows.map((r) => [r.distinct_id, r.person_id, r.person_properties]), [
      ['ghost', personIdOf(prod.id, 'ghost'), '{}'],
      ['user-a', personIdOf(prod.id, 'anon-a'), '{}'],
    ])
    t.ok(rows.every((r) => !r.properties.includes('$set')), '$set stripped')
    t.equal((await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=ghost`)).status, 404, 'no person for ghost')
    t.equal((await engine.api('GET', `/api/environments/${prod.id}/persons?distinct_id=user-a`)).body.properties.plan, 'pro', 'user-a untouched')
  })

  t.test('SLUICE_PERSONS=off: the events API answers person_id null', async (t) => {
    // the same tables, read by an instance without persons (its own consumer group: last in this block, its re-inserted rows disturb nothing)
    const off = await stack.start({ SLUICE_PERSONS: 'off', SLUICE_KAFKA_GROUP: 'persons-off' })
    const r = await off.api('GET', `/api/environments/${prod.id}/events?distinct_id=user-d`)
    t.equal(r.status, 200)
    t.ok(r.body.results.length > 0 && r.body.results.every((e: { person_id: unknown }) => e.person_id === null))
  })
})

t.test('persons on chDB (JSONEachRow rows): the identify flow through the read API', async (t) => {
  const stack = await startStackOn('chdb', { database: 'sluice' })
  const { producer } = stack
  const engine: EngineProcess = await startEngineProcess(stack.env(), 120_000)
  stack.engines.push(engine)
  t.teardown(() => stack.close('SIGKILL'))
  const send = sender(producer)
  const e: Env = (await engine.api('POST', '/api/projects', { name: 'Embedded' })).body.environments[0]
  await send(e, [{ distinct_id: 'anon-e', properties: { $browser: 'Safari', $set: { plan: 'free' } } }])
  t.ok(await eventually(async () => (await engine.api('GET', `/api/environments/${e.id}/persons?distinct_id=anon-e`)).status === 200, 60_000), 'anonymous person stored')
  await send(e, [{ event: '$identify', distinct_id: 'user-e', properties: { $anon_distinct_id: 'anon-e', $set: { plan: 'pro' } } }])
  const p = await eventually(async () => {
    const r = await engine.api('GET', `/api/environments/${e.id}/persons?distinct_id=user-e`)
    return r.status === 200 ? r.body : undefined
  }, 60_000)
  t.ok(p)
  t.same(p.distinct_ids, ['anon-e', 'user-e'])
  t.equal(p.id, personIdOf(e.id, 'anon-e'))
  t.match(p.properties, { plan: 'pro', $initial_browser: 'Safari' })
  t.equal(p.is_identified, true)
  const events = await engine.api('GET', `/api/environments/${e.id}/events?limit=10`)
  t.equal(events.body.results.length, 2, 'both events stored (rows with person columns accepted)')
  t.same(events.body.results.map((r: { person_id: string }) => r.person_id), [p.id, p.id], 'the events API answers their person')
  t.equal(await engine.metric('sluice_dead_letters_total'), 0)
})
