// workers/index.ts processBatch: a hand-built task (concatenated values, meta,
// a control snapshot) through parse → steps → encode, without threads.
import t from 'tap'
import { jsonError } from '../../harness/events'
import { threadDefinitions } from '../../../workers/index'
import { processToJsonRows, taskOf } from '../../harness/tasks'
import { foldAll } from '../../../engine/control/fold'
import { buildSnapshot } from '../../../engine/control/snapshot'
import type { DateTimeFlavor, TaskHeader } from '../../../workers/protocol'
import type { WarningType } from '../../../workers/result'

const UUID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
/** task clock: processing time */
const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
/** outer `now`: when the capture server received the event */
const CAPTURED = '2025-03-04T05:06:00.000Z'
const KAFKA_TS = Date.parse('2025-03-04T05:06:01.500Z')
const FIRST_OFFSET = 100

// project 1 ("Production" environment 1), then environment 2 of project 1
const { state } = foldAll([
  { type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: 'phc_shop_production' },
  { type: 'create_environment', request_id: 'r2', at: CAPTURED, project_id: 1, name: 'Staging', api_token: 'phc_shop_staging' },
])
// workers cache the decoded snapshot by version: one snapshot, one version for this file
const SNAPSHOT = buildSnapshot(state, 1)

function run(values: string[], flavor: DateTimeFlavor = 'DateTime64') {
  return processToJsonRows(taskOf(values, { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: KAFKA_TS, firstOffset: FIRST_OFFSET }), flavor)
}

// each test sees its own definitions: the worker's de-dup would hide a repeated name
t.beforeEach(() => threadDefinitions.forget())

// row sources and partitions: the first test and 'reports each row's message and the rows' partitions'
type HeaderWithoutObservations = Omit<TaskHeader, 'observations' | 'rowMessages' | 'partitions' | 'keyRows'>

/** The header without taxonomy observations (test/unit/workers/steps/taxonomy-steps.test.ts covers those) */
function header(fields: Partial<HeaderWithoutObservations>): HeaderWithoutObservations {
  return {
    snapshotVersion: 1, messages: 1, eventRows: 0, drops: {}, deadLetters: [], unresolved: [],
    pendingClaims: { indexes: [], claims: [] }, warnings: [], groupUpdates: [], ...fields,
  }
}

function withoutObservations(result: { header: TaskHeader; rows: string }): { header: HeaderWithoutObservations; rows: string } {
  const { observations: _, rowMessages: _r, partitions: _p, keyRows: _k, ...rest } = result.header
  return { header: rest, rows: result.rows }
}

/** Warnings as [team_id, type, details (parsed), rate-limit key] */
const warningsOf = (h: TaskHeader) => h.warnings.map(([team, type, details, key]) => [team, type, JSON.parse(details) as unknown, key])

const rowsOf = (rows: string): Record<string, unknown>[] => rows.split('\n').filter(Boolean).map((line) => JSON.parse(line))

/** A captured message for the staging environment unless told otherwise */
function message(data: Record<string, unknown>, outer: Record<string, unknown> = {}): string {
  return JSON.stringify({ uuid: UUID, distinct_id: 'user-1', now: CAPTURED, token: 'phc_shop_staging', ...outer, data: JSON.stringify({ event: 'e', ...data }) })
}

t.test('writes a DateTime64 row with the environment\'s team_id and project_id for a known token', async (t) => {
  const result = run([message({ event: '$pageview', properties: { path: '/home' }, timestamp: '2025-03-04T05:05:00.123Z' }, { ip: '203.0.113.7' })])
  t.same(result, {
    header: {
      ...header({ eventRows: 1 }),
      rowMessages: [0],
      partitions: [202503],
      // counted by the id of the staging environment's primary SDK key, never by token
      keyRows: [[2, 1]],
      observations: {
        eventDefinitions: [[1, '$pageview']],
        propertyDefinitions: [[1, 'path', 1, -1, 'String'], [1, '$ip', 1, -1, 'String']],
        eventProperties: [[1, '$pageview', 'path'], [1, '$pageview', '$ip']],
      },
    },
    rows: '{"uuid":"' + UUID + '","event":"$pageview","properties":"{\\"$ip\\":\\"203.0.113.7\\",\\"path\\":\\"/home\\"}",' +
      '"timestamp":"2025-03-04 05:05:00.123000","team_id":2,"project_id":1,"distinct_id":"user-1",' +
      '"created_at":"2025-03-04 05:10:00.000000","_timestamp":"2025-03-04 05:06:01.500000","_offset":100}\n',
  })
})

t.test('writes DateTime rows with whole seconds for ClickHouse 18.16', async (t) => {
  const result = run([message({ event: '$pageview', timestamp: '2025-03-04T05:05:00.123Z' }, { token: 'phc_shop_production' })], 'DateTime')
  t.same(withoutObservations(result), {
    header: header({ eventRows: 1 }),
    rows: '{"uuid":"' + UUID + '","event":"$pageview","properties":"{}",' +
      '"timestamp":"2025-03-04 05:05:00","team_id":1,"project_id":1,"distinct_id":"user-1",' +
      '"created_at":"2025-03-04 05:10:00","_timestamp":"2025-03-04 05:06:01","_offset":100}\n',
  })
})

t.test('drops events with no token and counts no_token', async (t) => {
  t.same(withoutObservations(run([message({}, { token: undefined }), message({}, { token: '' })])), { header: header({ messages: 2, drops: { no_token: 2 } }), rows: '' })
})

t.test('lists events with an unknown token as unresolved instead of dropping them', async (t) => {
  const result = run([message({}), message({}, { token: 'phc_not_yet_known' }), message({})])
  t.same(withoutObservations(result).header, header({ messages: 3, eventRows: 2, unresolved: [1] }))
  t.same(rowsOf(result.rows).map((r) => r._offset), [100, 102])
})

t.test('dead-letters unparseable messages by index with their reason and keeps the others', async (t) => {
  const result = run([message({}), 'not json', '[1]', JSON.stringify({ data: JSON.stringify({ event: 'e' }), token: 'phc_shop_staging' }), message({})])
  t.same(withoutObservations(result).header, header({
    messages: 5,
    eventRows: 2,
    deadLetters: [
      { index: 1, reason: 'invalid_json', error: `message is not JSON: ${jsonError('not json')}` },
      { index: 2, reason: 'invalid_json', error: 'message is not a JSON object' },
      { index: 3, reason: 'invalid_uuid', error: 'the event has no uuid' },
    ],
  }))
  t.same(rowsOf(result.rows).map((r) => r._offset), [100, 104])
})

t.test('splits messages by byte offsets, so multi-byte characters survive', async (t) => {
  const result = run([message({ event: 'café ☕', properties: { emoji: '🦆' } }), message({ event: 'second' })])
  t.same(rowsOf(result.rows).map((r) => [r.event, r.properties]), [['café ☕', '{"emoji":"🦆"}'], ['second', '{}']])
})

type Warned = [WarningType, Record<string, unknown>]

const TIMESTAMPS: { name: string; data: Record<string, unknown>; outer?: Record<string, unknown>; timestamp: string; warning?: Warned }[] = [
  {
    name: 'corrects the client clock with sent_at: now + (timestamp − sent_at)',
    data: { timestamp: '2025-03-04T04:00:10.000Z' }, outer: { sent_at: '2025-03-04T04:00:20.000Z' },
    timestamp: '2025-03-04 05:05:50.000000',
  },
  {
    name: 'uses the event\'s own sent_at when the outer message has none',
    data: { timestamp: '2025-03-04T04:00:10.000Z', sent_at: '2025-03-04T04:00:15.000Z' },
    timestamp: '2025-03-04 05:05:55.000000',
  },
  {
    name: 'keeps the client timestamp when $ignore_sent_at is set',
    data: { timestamp: '2025-03-04T04:00:10.000Z', properties: { $ignore_sent_at: true } }, outer: { sent_at: '2025-03-04T04:00:20.000Z' },
    timestamp: '2025-03-04 04:00:10.000000',
  },
  { name: 'keeps the client timestamp without sent_at', data: { timestamp: '2025-03-04T04:00:10.250Z' }, timestamp: '2025-03-04 04:00:10.250000' },
  { name: 'subtracts offset from now: now − offset', data: { offset: 5000 }, timestamp: '2025-03-04 05:05:55.000000' },
  { name: 'uses the capture time without timestamp or offset', data: {}, timestamp: '2025-03-04 05:06:00.000000' },
  { name: 'uses the task clock when the capture time is missing', data: {}, outer: { now: undefined }, timestamp: '2025-03-04 05:10:00.000000' },
  { name: 'keeps a timestamp 22 h in the future', data: { timestamp: '2025-03-05T03:06:00.000Z' }, timestamp: '2025-03-05 03:06:00.000000' },
  {
    name: 'replaces a timestamp more than 23 h in the future by now and warns event_timestamp_in_future',
    data: { timestamp: '2025-03-05T05:06:00.000Z' }, timestamp: '2025-03-04 05:06:00.000000',
    // PostHog's detail keys (nodejs/src/worker/ingestion/timestamps.ts)
    warning: ['event_timestamp_in_future', { timestamp: '2025-03-05T05:06:00.000Z', sentAt: '', offset: '', now: '2025-03-04T05:06:00.000Z', result: '2025-03-05T05:06:00.000Z', eventName: 'e' }],
  },
  {
    name: 'replaces an invalid timestamp by now and warns ignored_invalid_timestamp',
    data: { timestamp: 'yesterday' }, timestamp: '2025-03-04 05:06:00.000000',
    warning: ['ignored_invalid_timestamp', { field: 'timestamp', value: 'yesterday', reason: 'unparseable' }],
  },
]

for (const { name, data, outer, timestamp, warning } of TIMESTAMPS) {
  t.test(`timestamp: ${name}`, async (t) => {
    const { header: h, rows } = run([message(data, outer)])
    // a warning names the staging environment (team 2) and the event; timestamps need no rate-limit key
    const expected = warning ? [[2, warning[0], { eventUuid: UUID, ...warning[1] }, '']] : []
    t.same([rowsOf(rows).map((r) => r.timestamp), warningsOf(h)], [[timestamp], expected])
  })
}

t.test('a non-string event name is JSON-stringified and every name is cut to 200 characters', async (t) => {
  const long = { key: 'v'.repeat(300) }
  const result = run([message({ event: { a: 1 } }), message({ event: 42 }), message({ event: 'x'.repeat(250) }), message({ event: long })])
  t.same(rowsOf(result.rows).map((r) => r.event), ['{"a":1}', '42', 'x'.repeat(200), JSON.stringify(long).slice(0, 200)])
})

t.test('drops events without a name and counts invalid_event_name', async (t) => {
  t.same(withoutObservations(run([message({ event: undefined }), message({ event: '' })])), { header: header({ messages: 2, drops: { invalid_event_name: 2 } }), rows: '' })
})

t.test('stringifies a numeric distinct_id and drops one over 400 characters as invalid_distinct_id with PostHog\'s skipping_event_invalid_distinct_id warning', async (t) => {
  const result = run([
    message({}, { distinct_id: 12345 }),
    message({}, { distinct_id: 'd'.repeat(400) }),
    message({}, { distinct_id: 'd'.repeat(401) }),
    message({}, { distinct_id: undefined }),
  ])
  t.same(withoutObservations(result).header, header({
    messages: 4, eventRows: 2, drops: { invalid_distinct_id: 2 }, warnings: result.header.warnings,
  }))
  t.same(
    warningsOf(result.header),
    [[2, 'skipping_event_invalid_distinct_id', { eventUuid: UUID, distinctId: 'd'.repeat(100), distinctIdLength: 401, maxLength: 400 }, '']],
    'only the long one warns; a missing distinct_id is dropped silently',
  )
  t.same(rowsOf(result.rows).map((r) => r.distinct_id), ['12345', 'd'.repeat(400)])
})

t.test('adds $ip from the capture server when the event has none and keeps the event\'s own', async (t) => {
  const result = run([
    message({ properties: { a: 1 } }, { ip: '203.0.113.7' }),
    message({ properties: { $ip: '198.51.100.1' } }, { ip: '203.0.113.7' }),
    message({ properties: { a: 1 } }),
  ])
  t.same(rowsOf(result.rows).map((r) => JSON.parse(r.properties as string)), [{ a: 1, $ip: '203.0.113.7' }, { $ip: '198.51.100.1' }, { a: 1 }])
})

// normalize-timestamp.ts once only checked that Date.parse succeeds; a parseable
// time outside what toISOString() writes as a four-digit year gave a malformed
// row, or threw and failed the whole task.
const UNWRITABLE: { name: string; data: Record<string, unknown>; outer?: Record<string, unknown>; field: string; detail: string }[] = [
  { name: 'a timestamp in year −1', data: { timestamp: '-000001-01-01T00:00:00.000Z' }, field: 'timestamp', detail: '-000001-01-01T00:00:00.000Z' },
  { name: 'an offset that moves the time before year 0', data: { offset: 1e15 }, field: 'offset', detail: '1000000000000000' },
  { name: 'an offset beyond the range of Date', data: { offset: 1e20 }, field: 'offset', detail: '100000000000000000000' },
  {
    name: 'a sent_at correction beyond the range of Date', data: { timestamp: '-271821-04-20T00:00:00.000Z' }, outer: { sent_at: '2030-01-01T00:00:00.000Z' },
    field: 'timestamp', detail: '-271821-04-20T00:00:00.000Z',
  },
]

for (const { name, data, outer, field, detail } of UNWRITABLE) {
  t.test(`timestamp: replaces ${name} by now and warns ignored_invalid_timestamp, keeping the rest of the batch`, async (t) => {
    let result: ReturnType<typeof run> | string
    try {
      result = run([message(data, outer), message({})])
    } catch (err) {
      result = `throws ${(err as Error).message}`
    }
    t.same(
      typeof result === 'string' ? result : [rowsOf(result.rows).map((r) => r.timestamp), warningsOf(result.header)],
      [['2025-03-04 05:06:00.000000', '2025-03-04 05:06:00.000000'], [[2, 'ignored_invalid_timestamp', { eventUuid: UUID, field, value: detail, reason: 'out of range' }, '']]],
      'the unwritable time becomes now',
    )
  })
}

t.test('reports each row\'s message and the rows\' partitions (months), once each', async (t) => {
  const result = run([
    message({ event: 'a', timestamp: '2024-01-31T23:59:59.999Z' }),
    'not json',
    message({ event: 'b', timestamp: '2024-02-01T00:00:00.000Z' }),
    message({ event: 'c', timestamp: '2024-01-15T00:00:00.000Z' }),
    message({ event: 'd', timestamp: '1999-12-31T00:00:00.000Z' }),
  ])
  t.same([result.header.rowMessages, result.header.partitions], [[0, 2, 3, 4], [202401, 202402, 199912]])
})
