// engine/sink/writers/definitions.ts and engine/sink/writers/warnings.ts: what the main
// thread writes from the workers' observations and warnings, de-duplicated
// and rate-limited in memory. Pure: rows out, no ClickHouse.
import t from 'tap'
import { DefinitionsWriter } from '../../../../../engine/sink/writers/definitions'
import type { TableRows } from '../../../../../engine/sink/writers/batcher'
import type { Schema } from '../../../../../engine/sink/format/schema'
import { WarningsWriter } from '../../../../../engine/sink/writers/warnings'
import { createMetrics } from '../../../../../engine/metrics'
import type { Observations, WarningRecord } from '../../../../../workers/protocol'

const SCHEMA: Schema = {
  database: 'db',
  dateTime: 'DateTime',
  dedupTokens: false,
  maxPartitionsPerInsert: 0,
  persons: { person: 'db.person', distinctIds: 'db.person_distinct_id2', overrides: 'db.person_distinct_id_overrides' },
  tables: {
    events: 'db.events', projects: 'db.projects', environments: 'db.environments', groupTypes: 'db.group_type_mappings', sdkKeys: 'db.sdk_keys', adminKeys: 'db.admin_keys',
    groups: 'db.groups', warnings: 'db.ingestion_warnings', eventDefinitions: 'db.event_definitions',
    propertyDefinitions: 'db.property_definitions', eventProperties: 'db.event_properties',
    heatmaps: 'db.heatmaps',
  },
}

const T0 = Date.parse('2025-03-04T05:10:00.000Z')
const MINUTE = 60_000
const HOUR = 3_600_000

/** Each table's rows, parsed; checks that `rows` counts the chunk's lines */
function tables(out: TableRows[]): Record<string, Record<string, unknown>[]> {
  const result: Record<string, Record<string, unknown>[]> = {}
  for (const { table, chunk, rows } of out) {
    const lines = Buffer.from(chunk).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
    if (lines.length !== rows) throw new Error(`${table}: rows says ${rows}, the chunk has ${lines.length}`)
    result[table] = lines
  }
  return result
}

function observations(o: Partial<Observations>): Observations {
  return { eventDefinitions: [], propertyDefinitions: [], eventProperties: [], ...o }
}

t.test('definitions: one batch becomes rows of the three tables', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  const out = writer.rows([observations({
    eventDefinitions: [[1, '$pageview'], [3, '$pageview']],
    propertyDefinitions: [[1, 'plan', 1, -1, 'String'], [1, 'size', 3, 0, 'Numeric'], [1, 'nothing', 1, -1, null]],
    eventProperties: [[1, '$pageview', 'plan']],
  })], T0)
  const version = 10_000_000_000_000 - T0
  t.same(tables(out), {
    'db.event_definitions': [
      { project_id: 1, name: '$pageview', first_seen: '2025-03-04 05:10:00', last_seen: '2025-03-04 05:10:00' },
      { project_id: 3, name: '$pageview', first_seen: '2025-03-04 05:10:00', last_seen: '2025-03-04 05:10:00' },
    ],
    'db.property_definitions': [
      { project_id: 1, name: 'plan', type: 1, group_type_index: -1, property_type: 'String', is_numerical: 0, first_seen: '2025-03-04 05:10:00', _version: version },
      { project_id: 1, name: 'size', type: 3, group_type_index: 0, property_type: 'Numeric', is_numerical: 1, first_seen: '2025-03-04 05:10:00', _version: version },
      { project_id: 1, name: 'nothing', type: 1, group_type_index: -1, property_type: '', is_numerical: 0, first_seen: '2025-03-04 05:10:00', _version: 0 },
    ],
    'db.event_properties': [{ project_id: 1, event: '$pageview', property: 'plan' }],
  })
})

t.test('definitions: what was written is not written again, in the same call (two workers) or a later one', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  const o = observations({
    eventDefinitions: [[1, 'signup']],
    propertyDefinitions: [[1, 'plan', 1, -1, 'String'], [1, 'email', 2, -1, 'String']],
    eventProperties: [[1, 'signup', 'plan']],
  })
  const first = tables(writer.rows([o, o], T0))
  t.same(
    [first['db.event_definitions'].length, first['db.property_definitions'].length, first['db.event_properties'].length],
    [1, 2, 1],
    'each once though two workers reported it',
  )
  t.same(writer.rows([o], T0 + 10 * MINUTE), [], 'nothing new ten minutes later')
  t.same(writer.rows([o], T0 + 49 * MINUTE), [], 'nothing new later in the same hour')
})

t.test('definitions: the same name under another type, group index or project is a new row', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  writer.rows([observations({ propertyDefinitions: [[1, 'plan', 1, -1, 'String']], eventProperties: [[1, 'e', 'plan']] })], T0)
  const out = tables(writer.rows([observations({
    propertyDefinitions: [[1, 'plan', 2, -1, 'String'], [1, 'plan', 3, 1, 'String'], [2, 'plan', 1, -1, 'String'], [1, 'plan', 1, -1, 'Numeric']],
    eventProperties: [[2, 'e', 'plan'], [1, 'other', 'plan']],
  })], T0 + MINUTE))
  t.same(out['db.property_definitions'].map((r) => [r.project_id, r.type, r.group_type_index, r.property_type]), [
    [1, 2, -1, 'String'], [1, 3, 1, 'String'], [2, 1, -1, 'String'], [1, 1, -1, 'Numeric'],
  ])
  t.same(out['db.event_properties'], [{ project_id: 2, event: 'e', property: 'plan' }, { project_id: 1, event: 'other', property: 'plan' }])
})

t.test('definitions: an event definition is written again once per new hour, keeping first_seen and moving last_seen', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  const o = observations({ eventDefinitions: [[1, '$pageview']] })
  const at = (ms: number) => tables(writer.rows([o], ms))['db.event_definitions'] ?? []
  t.same(at(T0), [{ project_id: 1, name: '$pageview', first_seen: '2025-03-04 05:10:00', last_seen: '2025-03-04 05:10:00' }], 'first sight')
  t.same(at(T0 + 45 * MINUTE), [], '05:55: same hour')
  t.same(at(T0 + HOUR), [{ project_id: 1, name: '$pageview', first_seen: '2025-03-04 05:10:00', last_seen: '2025-03-04 06:10:00' }], '06:10: a new hour')
  t.same(at(T0 + HOUR + 20 * MINUTE), [], '06:30: same hour again')
  t.same(at(T0 + 3 * HOUR), [{ project_id: 1, name: '$pageview', first_seen: '2025-03-04 05:10:00', last_seen: '2025-03-04 08:10:00' }], '08:10: first_seen still the first sight')
})

t.test('definitions: a typed row\'s _version falls with time, so the first detected type wins; an untyped row has 0', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  const versionOf = (ms: number, type: string | null) => {
    const rows = tables(writer.rows([observations({ propertyDefinitions: [[1, 'amount', 1, -1, type]] })], ms))['db.property_definitions']
    return rows[0]._version as number
  }
  const untyped = versionOf(T0, null)
  const first = versionOf(T0 + MINUTE, 'String')
  const later = versionOf(T0 + HOUR, 'Numeric')
  const muchLater = versionOf(T0 + 365 * 24 * HOUR, 'Boolean')
  t.equal(untyped, 0, 'untyped: 0, below any typed row')
  t.ok(first > later && later > muchLater && muchLater > 0, `versions fall: ${first} > ${later} > ${muchLater} > 0`)
})

t.test('definitions: is_numerical is 1 for Numeric only', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  const types = ['Numeric', 'String', 'Boolean', 'DateTime', null] as const
  const rows = tables(writer.rows([observations({ propertyDefinitions: types.map((ty, i) => [1, `p${i}`, 1, -1, ty] as [number, string, number, number, string | null]) })], T0))
  t.same(rows['db.property_definitions'].map((r) => [r.property_type, r.is_numerical]), [['Numeric', 1], ['String', 0], ['Boolean', 0], ['DateTime', 0], ['', 0]])
})

t.test('definitions: no observations, no rows', async (t) => {
  const writer = new DefinitionsWriter(SCHEMA)
  t.same(writer.rows([], T0), [])
  t.same(writer.rows([observations({})], T0), [])
})

const INTERVAL = HOUR

function warning(team: number, type: WarningRecord[1], key = '', details: Record<string, unknown> = {}): WarningRecord {
  return [team, type, JSON.stringify({ eventUuid: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', ...details }), key]
}

/** Counter value by label type */
async function counts(counter: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const v of (await counter.get()).values) out[String(v.labels.type)] = v.value
  return out
}

t.test('warnings: the first of a (team, type, key) is written; the rest within the interval are suppressed and counted', async (t) => {
  const metrics = createMetrics()
  const writer = new WarningsWriter(SCHEMA, INTERVAL, metrics)
  const w = warning(2, 'group_type_limit_exceeded', 'project', { group_type: 'project', limit: 5 })
  const first = writer.rows([w, w], T0)
  t.same(tables(first), {
    'db.ingestion_warnings': [{ team_id: 2, source: 'sluice', type: 'group_type_limit_exceeded', details: w[2], timestamp: '2025-03-04 05:10:00' }],
  }, 'one row for two records in one call')
  t.same(writer.rows([w], T0 + 30 * MINUTE), [], 'suppressed half an hour later')
  t.same(writer.rows([w, w], T0 + INTERVAL - 1), [], 'suppressed just before the interval ends')
  t.same(await counts(metrics.warnings), { group_type_limit_exceeded: 5 }, 'every warning is counted')
  t.same(await counts(metrics.warningsSuppressed), { group_type_limit_exceeded: 4 }, 'the suppressed ones too: sluice_ingestion_warnings_suppressed_total')
  const text = await metrics.registry.metrics()
  t.match(text, /sluice_ingestion_warnings_suppressed_total\{type="group_type_limit_exceeded"\} 4/, 'exposed under its Prometheus name')
})

t.test('warnings: another key, team or type is written within the interval', async (t) => {
  const metrics = createMetrics()
  const writer = new WarningsWriter(SCHEMA, INTERVAL, metrics)
  writer.rows([warning(2, 'group_type_limit_exceeded', 'project')], T0)
  const out = tables(writer.rows([
    warning(2, 'group_type_limit_exceeded', 'project'), // suppressed
    warning(2, 'group_type_limit_exceeded', 'team'), // another key
    warning(1, 'group_type_limit_exceeded', 'project'), // another team (environment)
    warning(2, 'group_key_too_long', 'project'), // another type
  ], T0 + MINUTE))
  t.same(out['db.ingestion_warnings'].map((r) => [r.team_id, r.type, JSON.parse(r.details as string).eventUuid]), [
    [2, 'group_type_limit_exceeded', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'],
    [1, 'group_type_limit_exceeded', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'],
    [2, 'group_key_too_long', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'],
  ])
  t.same(await counts(metrics.warningsSuppressed), { group_type_limit_exceeded: 1 })
})

t.test('warnings: once the interval has elapsed since the last written one, it is written again', async (t) => {
  const metrics = createMetrics()
  const writer = new WarningsWriter(SCHEMA, INTERVAL, metrics)
  const w = warning(2, 'ignored_invalid_timestamp', '', { timestamp: 'yesterday' })
  const writtenAt = (ms: number) => (tables(writer.rows([w], ms))['db.ingestion_warnings'] ?? []).map((r) => r.timestamp)
  t.same(writtenAt(T0), ['2025-03-04 05:10:00'])
  t.same(writtenAt(T0 + 50 * MINUTE), [], 'suppressed: the window is not restarted by a suppressed one')
  t.same(writtenAt(T0 + INTERVAL), ['2025-03-04 06:10:00'], 'written when the interval has passed')
  t.same(writtenAt(T0 + INTERVAL + MINUTE), [], 'a new window from there')
  t.same(writtenAt(T0 + 2 * INTERVAL), ['2025-03-04 07:10:00'])
  t.same(await counts(metrics.warnings), { ignored_invalid_timestamp: 5 })
  t.same(await counts(metrics.warningsSuppressed), { ignored_invalid_timestamp: 2 })
})

t.test('warnings: no records, no rows', async (t) => {
  const writer = new WarningsWriter(SCHEMA, INTERVAL, createMetrics())
  t.same(writer.rows([], T0), [])
})
