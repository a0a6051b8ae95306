// The steps that apply environment and project settings (add-ip,
// filter-event-name, redact-properties, drop-old-events), through
// workers/index.ts processBatch with snapshots folded from real commands:
// settings reach the worker only through the control state.
import t from 'tap'
import { processToJsonRows, taskOf } from '../../../harness/tasks'
import type { Command } from '../../../../engine/control/commands'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import type { SnapshotRef, TaskHeader, WarningRecord } from '../../../../workers/protocol'

const UUID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
/** task clock: processing time */
const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
/** outer `now`: when the capture server received the event */
const CAPTURED = '2025-03-04T05:06:00.000Z'
const KAFKA_TS = Date.parse('2025-03-04T05:06:01.500Z')
const IP = '203.0.113.7'

const SHOP_PRODUCTION = 'phc_shop_production' // environment 1 of project 1
const SHOP_STAGING = 'phc_shop_staging' // environment 2 of project 1
const BLOG_PRODUCTION = 'phc_blog_production' // environment 3 of project 3

const BASE: Command[] = [
  { type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: SHOP_PRODUCTION },
  { type: 'create_environment', request_id: 'r2', at: CAPTURED, project_id: 1, name: 'Staging', api_token: SHOP_STAGING },
  { type: 'create_project', request_id: 'r3', at: CAPTURED, name: 'Blog', api_token: BLOG_PRODUCTION },
]

let requests = 0
const updateEnvironment = (environment_id: number, settings: Record<string, unknown>): Command =>
  ({ type: 'update_environment', request_id: `ue${++requests}`, at: CAPTURED, environment_id, settings })
const updateProject = (project_id: number, settings: Record<string, unknown>): Command =>
  ({ type: 'update_project', request_id: `up${++requests}`, at: CAPTURED, project_id, settings })
const moveProject = (project_id: number, parent_project_id: number): Command =>
  ({ type: 'move_project', request_id: `mv${++requests}`, at: CAPTURED, project_id, parent_project_id })

// workers cache the decoded snapshot by version: every snapshot of this file gets its own
let version = 0

/** The snapshot after BASE and `commands`, every one of which must succeed */
function snapshotAfter(commands: Command[]): SnapshotRef {
  const { state, outcomes } = foldAll([...BASE, ...commands])
  const failed = outcomes.find((o) => !o.ok)
  if (failed) throw new Error(`setup failed: ${JSON.stringify(failed)}`)
  return buildSnapshot(state, ++version)
}

function run(snapshot: SnapshotRef, values: string[]) {
  return processToJsonRows(taskOf(values, { snapshot, nowMs: NOW_MS, kafkaTimestamp: KAFKA_TS }))
}

// row sources and partitions: test/unit/row-sources.test.ts
type HeaderWithoutObservations = Omit<TaskHeader, 'observations' | 'rowMessages' | 'partitions' | 'keyRows'>

/** The header without taxonomy observations (test/unit/workers/steps/taxonomy-steps.test.ts covers those) */
function header(snapshot: SnapshotRef, fields: Partial<HeaderWithoutObservations>): HeaderWithoutObservations {
  return {
    snapshotVersion: snapshot.version, messages: 1, eventRows: 0, drops: {}, deadLetters: [], unresolved: [],
    pendingClaims: { indexes: [], claims: [] }, warnings: [], groupUpdates: [], ...fields,
  }
}

function withoutObservations(h: TaskHeader): HeaderWithoutObservations {
  const { observations: _, rowMessages: _r, partitions: _p, keyRows: _k, ...rest } = h
  return rest
}

/** Written rows as [message index (its offset), team_id, project_id, event, properties] */
const written = (rows: string) => rows.split('\n').filter(Boolean).map((line) => {
  const r = JSON.parse(line) as { _offset: number; team_id: number; project_id: number; event: string; properties: string }
  return [r._offset, r.team_id, r.project_id, r.event, JSON.parse(r.properties)]
})

function message(token: string, data: Record<string, unknown>, outer: Record<string, unknown> = {}): string {
  return JSON.stringify({ uuid: UUID, distinct_id: 'user-1', now: CAPTURED, token, ...outer, data: JSON.stringify({ event: 'e', ...data }) })
}

t.test('anonymize_ips removes $ip, both the one added from the outer ip and the event\'s own; other environments get $ip', async (t) => {
  const snapshot = snapshotAfter([updateEnvironment(2, { anonymize_ips: true })])
  const result = run(snapshot, [
    message(SHOP_STAGING, { properties: { a: 1 } }, { ip: IP }),
    message(SHOP_STAGING, { properties: { a: 2, $ip: '198.51.100.1' } }, { ip: IP }),
    message(SHOP_STAGING, { properties: { a: 3, $ip: '198.51.100.1' } }),
    message(SHOP_PRODUCTION, { properties: { a: 4 } }, { ip: IP }),
  ])
  t.same(withoutObservations(result.header), header(snapshot, { messages: 4, eventRows: 4 }))
  t.same(written(result.rows), [
    [0, 2, 1, 'e', { a: 1 }],
    [1, 2, 1, 'e', { a: 2 }],
    [2, 2, 1, 'e', { a: 3 }],
    [3, 1, 1, 'e', { a: 4, $ip: IP }],
  ])
})

t.test('without anonymize_ips (never set, or turned off again) $ip is added from the outer ip and an event\'s own is kept', async (t) => {
  for (const [name, commands] of [['default', []], ['turned off', [updateEnvironment(2, { anonymize_ips: true }), updateEnvironment(2, { anonymize_ips: false })]]] as const) {
    const snapshot = snapshotAfter([...commands])
    const result = run(snapshot, [
      message(SHOP_STAGING, { properties: { a: 1 } }, { ip: IP }),
      message(SHOP_STAGING, { properties: { a: 2, $ip: '198.51.100.1' } }, { ip: IP }),
    ])
    t.same(written(result.rows), [[0, 2, 1, 'e', { a: 1, $ip: IP }], [1, 2, 1, 'e', { a: 2, $ip: '198.51.100.1' }]], name)
  }
})

t.test('drop_event_names drops matching events as event_filtered in every environment of the project, not in another project', async (t) => {
  const long = 'x'.repeat(250)
  const snapshot = snapshotAfter([updateProject(1, { drop_event_names: ['spam', '$autocapture', 'x'.repeat(200)] })])
  const result = run(snapshot, [
    message(SHOP_PRODUCTION, { event: 'spam' }),
    message(SHOP_STAGING, { event: 'spam' }),
    message(SHOP_STAGING, { event: '$autocapture' }),
    message(SHOP_STAGING, { event: long }), // matches once cut to 200 characters
    message(BLOG_PRODUCTION, { event: 'spam' }),
    message(SHOP_STAGING, { event: 'Spam' }),
    message(SHOP_PRODUCTION, { event: '$pageview' }),
  ])
  t.same(withoutObservations(result.header), header(snapshot, { messages: 7, eventRows: 3, drops: { event_filtered: 4 } }))
  t.same(written(result.rows), [[4, 3, 3, 'spam', {}], [5, 2, 1, 'Spam', {}], [6, 1, 1, '$pageview', {}]])
})

t.test('redact_property_names removes those properties, $ip included, in every environment of the project only', async (t) => {
  const snapshot = snapshotAfter([updateProject(1, { redact_property_names: ['email', '$ip'] })])
  const properties = { email: 'a@example.com', plan: 'pro' }
  const result = run(snapshot, [
    message(SHOP_PRODUCTION, { properties }, { ip: IP }),
    message(SHOP_STAGING, { properties: { ...properties, $ip: '198.51.100.1' } }),
    message(BLOG_PRODUCTION, { properties }, { ip: IP }),
  ])
  t.same(withoutObservations(result.header), header(snapshot, { messages: 3, eventRows: 3 }))
  t.same(written(result.rows), [
    [0, 1, 1, 'e', { plan: 'pro' }],
    [1, 2, 1, 'e', { plan: 'pro' }],
    [2, 3, 3, 'e', { email: 'a@example.com', plan: 'pro', $ip: IP }],
  ])
})

t.test('drop_events_older_than_seconds drops events older than the limit, measured from the capture time, as event_too_old with warning event_dropped_too_old', async (t) => {
  // Issue 15 rule 6, PostHog's nodejs/src/ingestion/event-processing/drop-old-events-step.ts:
  // the age is measured from the capture time (outer now, 05:06), not the task clock (05:10); the limit is one hour
  const snapshot = snapshotAfter([updateEnvironment(2, { drop_events_older_than_seconds: 3600 })])
  const result = run(snapshot, [
    message(SHOP_STAGING, { event: 'too old', timestamp: '2025-03-04T04:05:59.000Z' }),
    message(SHOP_STAGING, { event: 'at the limit', timestamp: '2025-03-04T04:06:00.000Z' }),
    message(SHOP_STAGING, { event: 'recent', timestamp: '2025-03-04T05:00:00.000Z' }),
    // the age is measured on the corrected time: now + (timestamp − sent_at) = 05:06
    message(SHOP_STAGING, { event: 'old clock', timestamp: '2025-03-03T01:00:00.000Z' }, { sent_at: '2025-03-03T01:00:00.000Z' }),
    message(SHOP_STAGING, { event: 'old offset', offset: 2 * 3600 * 1000 }),
    message(SHOP_PRODUCTION, { event: 'old elsewhere', timestamp: '2025-01-01T00:00:00.000Z' }),
    // older than the limit by the task clock (05:10), not by the capture time
    message(SHOP_STAGING, { event: 'late processing', timestamp: '2025-03-04T04:08:00.000Z' }),
  ])
  const warning = (event: string, eventTimestamp: string, ageInSeconds: number): WarningRecord =>
    [2, 'event_dropped_too_old', JSON.stringify({ eventUuid: UUID, event, distinctId: 'user-1', eventTimestamp, ageInSeconds, dropThresholdSeconds: 3600 }), '']
  t.same(withoutObservations(result.header), header(snapshot, {
    messages: 7, eventRows: 5, drops: { event_too_old: 2 },
    warnings: [warning('too old', '2025-03-04T04:05:59.000Z', 3601), warning('old offset', '2025-03-04T03:06:00.000Z', 7200)],
  }))
  t.same(written(result.rows).map(([offset, team, , event]) => [offset, team, event]), [
    [1, 2, 'at the limit'], [2, 2, 'recent'], [3, 2, 'old clock'], [5, 1, 'old elsewhere'], [6, 2, 'late processing'],
  ])
})

t.test('after move_project, the moved environments use the parent project\'s settings and keep their own', async (t) => {
  const settings = [
    updateProject(1, { drop_event_names: ['spam'], redact_property_names: ['email'] }),
    updateProject(3, { drop_event_names: ['blog only'], redact_property_names: ['plan'] }),
    updateEnvironment(3, { anonymize_ips: true }),
  ]
  const events = [
    message(BLOG_PRODUCTION, { event: 'spam', properties: { email: 'a@example.com', plan: 'pro' } }, { ip: IP }),
    message(BLOG_PRODUCTION, { event: 'blog only', properties: { email: 'a@example.com', plan: 'pro' } }, { ip: IP }),
  ]
  const before = snapshotAfter(settings)
  const moved = snapshotAfter([...settings, moveProject(3, 1)])
  const a = run(before, events)
  const b = run(moved, events)
  t.same([withoutObservations(a.header), written(a.rows)], [
    header(before, { messages: 2, eventRows: 1, drops: { event_filtered: 1 } }),
    [[0, 3, 3, 'spam', { email: 'a@example.com' }]],
  ], 'before the move: its own project\'s settings')
  t.same([withoutObservations(b.header), written(b.rows)], [
    header(moved, { messages: 2, eventRows: 1, drops: { event_filtered: 1 } }),
    [[1, 3, 1, 'blog only', { plan: 'pro' }]],
  ], 'after the move: the parent\'s settings, its own anonymize_ips')
})
