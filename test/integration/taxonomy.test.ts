// Shared taxonomy on three engine instances in one consumer group, with two
// environments of one project: five new group types introduced at once,
// interleaved across partitions, get one index each, identical in every
// stored row and in the API; $groupidentify builds the group's properties;
// definitions are shared by the environments; a sixth type is a warning.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { startStack } from '../harness/stack'

const TOPIC = 'events_plugin_ingestion'
const DB = 'tax'
const TYPES = ['organization', 'company', 'team', 'workspace', 'region']

t.test('three instances agree on group types, groups and definitions of a project', async (t) => {
  const stack = await startStack({ database: DB })
  t.teardown(() => stack.close('SIGKILL'))
  const { store, producer } = stack
  const engines: EngineProcess[] = []
  for (let i = 0; i < 3; i++) engines.push(await stack.start())
  const query = <T>(sql: string) => store.query<T>(sql)
  const count = async (sql: string) => Number((await query<{ n: string }>(sql))[0].n)

  const P = (await engines[0].api('POST', '/api/projects', { name: 'P' })).body
  const staging = (await engines[1].api('POST', `/api/projects/${P.id}/environments`, { name: 'Staging' })).body
  const tokens = [P.environments[0].api_token, staging.api_token]
  t.ok(await eventually(async () => engines.every((e) => /partitions assigned/.test(e.logs())), 30_000), 'the group is formed')

  // 200 events, both environments, every type, random keys → all partitions, all instances at once
  const sent = new Map<string, { type: string; key: string }>()
  const messages: string[] = []
  for (let i = 0; i < 200; i++) {
    const type = TYPES[i % TYPES.length]
    const key = `${type}-${i % 7}`
    const uuid = randomUUID()
    sent.set(uuid, { type, key })
    messages.push(capturedMessage({ uuid, token: tokens[i % 2], distinct_id: `u${i}`, event: 'used feature', properties: { $groups: { [type]: key }, plan: 'pro', price: 12.5, signed_up_at: '2026-01-15T10:00:00Z', $set: { email: `u${i}@x.io` } } }))
  }
  await producer.send(TOPIC, messages, () => randomUUID())
  t.ok(await eventually(async () => (await count(`SELECT count() AS n FROM ${DB}.events`)) === 200, 60_000), 'all 200 events stored')

  const mappings = await Promise.all(engines.map(async (e) => (await e.api('GET', `/api/projects/${P.id}/group_types`)).body.results))
  t.same(mappings[1], mappings[0], 'instances 1 and 2 serve the same mapping')
  t.same(mappings[2], mappings[0], 'instances 1 and 3 serve the same mapping')
  t.same(mappings[0].map((m: { group_type_index: number }) => m.group_type_index), [0, 1, 2, 3, 4], 'five indexes')
  t.same(new Set(mappings[0].map((m: { group_type: string }) => m.group_type)), new Set(TYPES), 'one per type')
  const indexOf = new Map<string, number>(mappings[0].map((m: { group_type: string; group_type_index: number }) => [m.group_type, m.group_type_index]))

  const rows = await query<Record<string, string>>(`SELECT toString(uuid) AS uuid, team_id, \`$group_0\`, \`$group_1\`, \`$group_2\`, \`$group_3\`, \`$group_4\` FROM ${DB}.events`)
  let right = 0
  for (const r of rows) {
    const s = sent.get(r.uuid)!
    const idx = indexOf.get(s.type)!
    const others = [0, 1, 2, 3, 4].filter((i) => i !== idx).every((i) => r[`$group_${i}`] === '')
    if (r[`$group_${idx}`] === s.key && others) right++
  }
  t.equal(right, 200, 'every stored row carries the key in the column of its type’s index, and nothing else')
  t.equal(await count(`SELECT uniqExact(team_id) AS n FROM ${DB}.events`), 2, 'rows are in both environments')

  // $groupidentify: the group's full properties after each $group_set
  const company = indexOf.get('company')!
  const identify = (set: Record<string, unknown>) => capturedMessage({ token: tokens[1], distinct_id: 'admin', event: '$groupidentify', properties: { $group_type: 'company', $group_key: 'company-3', $group_set: set } })
  await producer.send(TOPIC, [identify({ name: 'Acme', seats: 10 })], () => 'same-key')
  const firstRow = await eventually(async () => (await query<{ p: string }>(`SELECT group_properties AS p FROM ${DB}.groups FINAL WHERE team_id = ${staging.id} AND group_key = 'company-3'`))[0], 30_000)
  t.same(JSON.parse(firstRow.p), { name: 'Acme', seats: 10 })
  await producer.send(TOPIC, [identify({ seats: 25, industry: 'tools' })], () => 'same-key')
  const merged = await eventually(async () => {
    const r = await query<{ p: string; i: number }>(`SELECT group_properties AS p, group_type_index AS i FROM ${DB}.groups FINAL WHERE team_id = ${staging.id} AND group_key = 'company-3'`)
    return r.length === 1 && JSON.parse(r[0].p).seats === 25 ? r[0] : undefined
  }, 30_000)
  t.same(merged && JSON.parse(merged.p), { name: 'Acme', seats: 25, industry: 'tools' }, 'later values win, keys not mentioned keep theirs')
  t.equal(Number(merged?.i), company, 'the group row uses the project’s index for its type')
  t.equal(await count(`SELECT count() AS n FROM ${DB}.groups WHERE team_id = ${P.id}`), 0, 'groups belong to the environment that identified them')

  // a sixth type: stored without the key, and a warning names it
  await producer.send(TOPIC, [capturedMessage({ token: tokens[0], distinct_id: 'six', event: 'sixth', properties: { $groups: { planet: 'earth' } } })])
  t.ok(await eventually(async () => (await count(`SELECT count() AS n FROM ${DB}.events WHERE event = 'sixth'`)) === 1, 30_000), 'the event is stored')
  const warning = await eventually(async () => (await query<{ details: string }>(`SELECT details FROM ${DB}.ingestion_warnings WHERE type = 'group_type_limit_exceeded' AND team_id = ${P.id}`))[0], 15_000)
  t.match(warning && JSON.parse(warning.details), { group_type: 'planet' }, 'the warning names the type')
  t.equal((await engines[2].api('GET', `/api/projects/${P.id}/group_types`)).body.results.length, 5)

  // definitions: one set for the project, whichever environment and instance saw them
  const events = await eventually(async () => {
    const r = (await engines[2].api('GET', `/api/projects/${P.id}/event_definitions`)).body.results
    return r.length === 3 ? r : undefined
  }, 15_000)
  t.same(events?.map((e: { name: string }) => e.name), ['$groupidentify', 'sixth', 'used feature'])
  const props = (await engines[0].api('GET', `/api/projects/${P.id}/property_definitions`)).body.results as { name: string; type: number; group_type_index: number | null; property_type: string | null; is_numerical: boolean }[]
  const byName = (name: string, type: number) => props.filter((p) => p.name === name && p.type === type)
  t.same(byName('plan', 1), [{ name: 'plan', type: 1, group_type_index: null, property_type: 'String', is_numerical: false }], 'one definition for both environments')
  t.same(byName('price', 1), [{ name: 'price', type: 1, group_type_index: null, property_type: 'Numeric', is_numerical: true }])
  t.same(byName('signed_up_at', 1).map((p) => p.property_type), ['DateTime'])
  t.same(byName('email', 2).map((p) => p.property_type), ['String'], '$set keys are person properties')
  t.same(byName('seats', 3), [{ name: 'seats', type: 3, group_type_index: company, property_type: 'Numeric', is_numerical: true }], '$group_set keys are group properties with the index')
  t.equal(byName('$groups', 1).length, 0, '$groups is not a property definition')
  const filtered = (await engines[1].api('GET', `/api/projects/${P.id}/property_definitions?type=3&search=SEAT`)).body.results
  t.same(filtered.map((p: { name: string }) => p.name), ['seats'], 'filter by type, search by name (case-insensitive)')
})
