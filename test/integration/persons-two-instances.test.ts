// Persons across partitions and instances (issue 14 "Done when"): an
// anonymous id's events in a partition owned by instance A, its `$identify`
// and the user's events in a partition owned by instance B; the result is
// the same single person as on one instance, and A learns of the merge
// through the overrides table (its cached person is read again).
import t from 'tap'
import { personIdOf } from '../../workers/persons/uuidv5'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { startStack } from '../harness/stack'
import { capturedMessage } from '../harness/events'

const TOPIC = 'events_plugin_ingestion'
const DB = 'persons2'

/** The partitions an instance holds, from its newest "partitions assigned" log line. */
function assigned(e: EngineProcess): number[] {
  const lines = e.logs().split('\n').filter((l) => l.includes('"partitions assigned"'))
  if (lines.length === 0) return []
  return (JSON.parse(lines[lines.length - 1]) as { assigned: number[] }).assigned
}

t.test('anonymous events on instance A, $identify and user events on instance B: one person', async (t) => {
  const stack = await startStack({ database: DB, env: { SLUICE_PERSON_OVERRIDES_POLL_MS: '300' } })
  t.teardown(() => stack.close('SIGKILL'))
  const { store, producer } = stack
  const a = await stack.start()
  const b = await stack.start()
  const split = await eventually(async () => {
    const pa = assigned(a)
    const pb = assigned(b)
    return pa.length > 0 && pb.length > 0 && pa.length + pb.length === 4 ? [pa[0], pb[0]] : undefined
  }, 40_000)
  t.ok(split, 'the group split the partitions between A and B')
  const [partitionA, partitionB] = split!
  const e = (await a.api('POST', '/api/projects', { name: 'Split' })).body.environments[0]
  const count = async () => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events WHERE team_id = ${e.id}`))[0].n)
  const send = (partition: number, events: { event?: string; distinct_id: string; properties: Record<string, unknown> }[]) =>
    producer.send(TOPIC, events.map((x) => capturedMessage({ token: e.api_token, event: x.event ?? '$pageview', distinct_id: x.distinct_id, properties: x.properties })), (i) => `${e.api_token}:${events[i].distinct_id}`, partition)

  await send(partitionA, [
    { distinct_id: 'anon-x', properties: { $browser: 'Chrome', $set: { plan: 'free' } } },
    { distinct_id: 'anon-x', properties: { $set: { color: 'red' } } },
    { distinct_id: 'anon-x', properties: {} },
  ])
  t.ok(await eventually(async () => (await count()) === 3), 'A stored the anonymous events')
  await send(partitionB, [
    { event: '$identify', distinct_id: 'user-x', properties: { $anon_distinct_id: 'anon-x', $set: { email: 'x@x.test' } } },
    { distinct_id: 'user-x', properties: { $set: { plan: 'pro' } } },
    { distinct_id: 'user-x', properties: {} },
  ])
  t.ok(await eventually(async () => (await count()) === 6), 'B stored the identified events')
  t.ok(await b.metric('sluice_messages_consumed_total') >= 3 && await a.metric('sluice_messages_consumed_total') >= 3, 'each instance consumed its share')

  const P = personIdOf(e.id, 'anon-x')
  const person = await eventually(async () => {
    const r = await a.api('GET', `/api/environments/${e.id}/persons?distinct_id=user-x`)
    return r.status === 200 && r.body.properties.plan === 'pro' ? r.body : undefined
  })
  t.ok(person, 'one person, seen through either instance')
  t.equal(person.id, P)
  t.same(person.distinct_ids, ['anon-x', 'user-x'])
  t.equal(person.is_identified, true)
  t.match(person.properties, { plan: 'pro', color: 'red', email: 'x@x.test', $initial_browser: 'Chrome' })

  // A, which owns anon-x, writes the person again after B's merge: it must have read it again
  await new Promise((r) => setTimeout(r, 1_000)) // > the poll interval: A has read the override back
  await send(partitionA, [{ distinct_id: 'anon-x', properties: { $set: { size: 'L' } } }])
  t.ok(await eventually(async () => (await count()) === 7))
  const after = await eventually(async () => {
    const r = await b.api('GET', `/api/environments/${e.id}/persons/${P}`)
    return r.body.properties?.size === 'L' ? r.body : undefined
  })
  t.ok(after, 'A\'s later $set landed')
  t.match(after.properties, { plan: 'pro', email: 'x@x.test', size: 'L' }, 'without undoing B\'s merge')
  t.equal(after.is_identified, true)
  const live = await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.person FINAL WHERE team_id = ${e.id} AND is_deleted = 0`)
  t.equal(Number(live[0].n), 1, 'one live person (FINAL)')
  const resolved = await store.query<{ n: string }>(`
    SELECT uniqExact(if(o.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, o.person_id)) AS n
    FROM (SELECT distinct_id, person_id FROM ${DB}.events WHERE team_id = ${e.id}) AS e
    ANY LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM ${DB}.person_distinct_id_overrides WHERE team_id = ${e.id} GROUP BY distinct_id) AS o
    USING distinct_id`)
  t.equal(Number(resolved[0].n), 1, 'uniqExact of the resolved person over the 7 events')

  // Each instance writes the shared person in turn, more than the refresh age (5 s) after the other's last write: each
  // finds the newer stored version and reads it before writing its own change, so no change is lost. (Within those
  // 5 s a write can be lost: README "Persons".)
  await new Promise((r) => setTimeout(r, 5_500))
  await send(partitionB, [{ distinct_id: 'user-x', properties: { $set: { tier: 'gold' } } }])
  t.ok(await eventually(async () => (await a.api('GET', `/api/environments/${e.id}/persons/${P}`)).body.properties?.tier === 'gold'), 'B\'s change is stored')
  await new Promise((r) => setTimeout(r, 5_500))
  await send(partitionA, [{ distinct_id: 'anon-x', properties: { $set: { shoe: 42 } } }])
  const both = await eventually(async () => {
    const r = await b.api('GET', `/api/environments/${e.id}/persons/${P}`)
    return r.body.properties?.shoe === 42 ? r.body : undefined
  })
  t.ok(both, 'A\'s change landed')
  t.match(both.properties, { tier: 'gold', size: 'L', plan: 'pro' }, 'A read B\'s newer version before writing its own')
})
