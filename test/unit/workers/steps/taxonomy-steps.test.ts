// The project's shared taxonomy in the worker (DESIGN §4 steps 8 and 9):
// resolve-groups ($groups → $group_N, $groupidentify → group updates, claims
// of new group types) and extract-definitions (event and property definitions,
// event→property links), through workers/index.ts processBatch with snapshots
// folded from real commands: group types reach the worker only through the
// control state.
import t from 'tap'
import { threadDefinitions } from '../../../../workers/index'
import { processToJsonRows, taskOf } from '../../../harness/tasks'
import type { Command } from '../../../../engine/control/commands'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import type { Observations, SnapshotRef, TaskHeader } from '../../../../workers/protocol'

const UUID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
/** task clock: processing time */
const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
const HOUR = 3_600_000
/** outer `now`: when the capture server received the event */
const CAPTURED = '2025-03-04T05:06:00.000Z'
const KAFKA_TS = Date.parse('2025-03-04T05:06:01.500Z')
const EVENT_TIME = '2025-03-04T05:05:00.123Z'

const SHOP_PRODUCTION = 'phc_shop_production' // environment 1 of project 1
const SHOP_STAGING = 'phc_shop_staging' // environment 2 of project 1
const BLOG_PRODUCTION = 'phc_blog_production' // environment 3 of project 3

let requests = 0
const claim = (project_id: number, group_type: string): Command =>
  ({ type: 'claim_group_type', request_id: `cg${++requests}`, at: CAPTURED, project_id, group_type })

// Shop (project 1): organization → 0, company → 1. Blog (project 3): full, company → 0, a–d → 1–4.
const BASE: Command[] = [
  { type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: SHOP_PRODUCTION },
  { type: 'create_environment', request_id: 'r2', at: CAPTURED, project_id: 1, name: 'Staging', api_token: SHOP_STAGING },
  { type: 'create_project', request_id: 'r3', at: CAPTURED, name: 'Blog', api_token: BLOG_PRODUCTION },
  claim(1, 'organization'),
  claim(1, 'company'),
  claim(3, 'company'),
  claim(3, 'a'),
  claim(3, 'b'),
  claim(3, 'c'),
  claim(3, 'd'),
]

// workers cache the decoded snapshot by version: every snapshot of this file gets its own
let version = 0

/** The snapshot after BASE and `commands`, every one of which must succeed */
function snapshotAfter(commands: Command[] = []): SnapshotRef {
  const { state, outcomes } = foldAll([...BASE, ...commands])
  const failed = outcomes.find((o) => !o.ok)
  if (failed) throw new Error(`setup failed: ${JSON.stringify(failed)}`)
  return buildSnapshot(state, ++version)
}

const SNAPSHOT = snapshotAfter()

function run(values: string[], opts: { snapshot?: SnapshotRef; claimsSettled?: boolean; nowMs?: number } = {}) {
  return processToJsonRows(taskOf(values, {
    snapshot: opts.snapshot ?? SNAPSHOT, nowMs: opts.nowMs ?? NOW_MS, kafkaTimestamp: KAFKA_TS, claimsSettled: opts.claimsSettled,
  }))
}

function message(token: string, data: Record<string, unknown>, outer: Record<string, unknown> = {}): string {
  return JSON.stringify({ uuid: UUID, distinct_id: 'user-1', now: CAPTURED, token, ...outer, data: JSON.stringify({ event: 'e', timestamp: EVENT_TIME, ...data }) })
}

const withGroups = (token: string, groups: Record<string, unknown>, data: Record<string, unknown> = {}) =>
  message(token, { ...data, properties: { ...(data.properties as object | undefined), $groups: groups } })

function groupIdentify(token: string, type: unknown, key: unknown, set?: unknown, properties: Record<string, unknown> = {}): string {
  return message(token, { event: '$groupidentify', properties: { $group_type: type, $group_key: key, $group_set: set, ...properties } })
}

/** Written rows as [message index (its offset), team_id, { $group_N: key }] */
const groupsOf = (rows: string) => rows.split('\n').filter(Boolean).map((line) => {
  const r = JSON.parse(line) as Record<string, unknown>
  return [r._offset, r.team_id, Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('$group_')))]
})

/** Warnings as [team_id, type, details (parsed), rate-limit key] */
const warningsOf = (h: TaskHeader) => h.warnings.map(([team, type, details, key]) => [team, type, JSON.parse(details) as unknown, key])

const NO_CLAIMS = { indexes: [], claims: [] }

// each test sees its own definitions: the worker's de-dup would hide repeated names
t.beforeEach(() => threadDefinitions.forget())

// ─── groups ────────────────────────────────────────────────────────────────

t.test('$groups with the project\'s known types become $group_<index> columns', async (t) => {
  const result = run([
    withGroups(SHOP_STAGING, { organization: 'org:5', company: 'c:9' }),
    withGroups(SHOP_STAGING, { company: 'c:9' }),
    message(SHOP_STAGING, {}),
  ])
  t.same(groupsOf(result.rows), [
    [0, 2, { $group_0: 'org:5', $group_1: 'c:9' }],
    [1, 2, { $group_1: 'c:9' }],
    [2, 2, {}],
  ])
  t.same([result.header.pendingClaims, result.header.warnings, result.header.groupUpdates], [NO_CLAIMS, [], []])
})

t.test('two environments of one project share its mapping; another project has its own', async (t) => {
  const result = run([
    withGroups(SHOP_PRODUCTION, { company: 'c:9' }),
    withGroups(SHOP_STAGING, { company: 'c:9' }),
    withGroups(BLOG_PRODUCTION, { company: 'c:9' }),
  ])
  t.same(groupsOf(result.rows), [[0, 1, { $group_1: 'c:9' }], [1, 2, { $group_1: 'c:9' }], [2, 3, { $group_0: 'c:9' }]])
})

t.test('a type claimed from one environment is used by the other environments of the project', async (t) => {
  const snapshot = snapshotAfter([claim(1, 'team')])
  const result = run([withGroups(SHOP_PRODUCTION, { team: 't:1' }), withGroups(SHOP_STAGING, { team: 't:1' })], { snapshot })
  t.same(groupsOf(result.rows), [[0, 1, { $group_2: 't:1' }], [1, 2, { $group_2: 't:1' }]])
  t.same(result.header.pendingClaims, NO_CLAIMS)
})

t.test('an unknown type while the project has fewer than 5 types: the message waits for a claim and writes no row', async (t) => {
  const result = run([
    withGroups(SHOP_STAGING, { organization: 'org:5' }),
    withGroups(SHOP_STAGING, { organization: 'org:5', team: 't:1' }),
    withGroups(SHOP_PRODUCTION, { team: 't:2' }), // the same claim, once
    withGroups(SHOP_STAGING, { company: 'c:9' }),
  ])
  t.same(result.header.pendingClaims, { indexes: [1, 2], claims: [[1, 'team']] })
  t.same(result.header.eventRows, 2)
  t.same(groupsOf(result.rows), [[0, 2, { $group_0: 'org:5' }], [3, 2, { $group_1: 'c:9' }]])
  t.same(result.header.warnings, [])
})

t.test('the settled re-run writes the row once the claim is folded', async (t) => {
  const snapshot = snapshotAfter([claim(1, 'team')])
  const result = run([withGroups(SHOP_STAGING, { organization: 'org:5', team: 't:1' })], { snapshot, claimsSettled: true })
  t.same([result.header.pendingClaims, result.header.warnings], [NO_CLAIMS, []])
  t.same(groupsOf(result.rows), [[0, 2, { $group_0: 'org:5', $group_2: 't:1' }]])
})

t.test('with claims settled, a type still unknown (its claim lost the race for the last index) is not written and warns group_type_limit_exceeded', async (t) => {
  const result = run([withGroups(SHOP_STAGING, { organization: 'org:5', team: 't:1' })], { claimsSettled: true })
  t.same(result.header.pendingClaims, NO_CLAIMS)
  t.same(groupsOf(result.rows), [[0, 2, { $group_0: 'org:5' }]])
  t.same(warningsOf(result.header), [[2, 'group_type_limit_exceeded', { eventUuid: UUID, group_type: 'team', limit: 5 }, 'team']])
})

t.test('a sixth type when the project has 5: the row is written without it and warns group_type_limit_exceeded naming the type', async (t) => {
  const result = run([withGroups(BLOG_PRODUCTION, { company: 'c:9', zeta: 'z:1' })])
  t.same(result.header.pendingClaims, NO_CLAIMS, 'nothing to claim: there is no index left')
  t.same(groupsOf(result.rows), [[0, 3, { $group_0: 'c:9' }]])
  t.same(warningsOf(result.header), [[3, 'group_type_limit_exceeded', { eventUuid: UUID, group_type: 'zeta', limit: 5 }, 'zeta']])
})

t.test('a group key over 400 characters is skipped with a group_key_too_long warning; 400 is kept', async (t) => {
  const result = run([
    withGroups(SHOP_STAGING, { organization: 'o'.repeat(401), company: 'c:9' }),
    withGroups(SHOP_STAGING, { organization: 'o'.repeat(400) }),
  ])
  t.same(groupsOf(result.rows), [[0, 2, { $group_1: 'c:9' }], [1, 2, { $group_0: 'o'.repeat(400) }]])
  t.same(warningsOf(result.header), [[2, 'group_key_too_long', { eventUuid: UUID, group_type: 'organization', length: 401 }, 'organization']])
  t.same(result.header.drops, {}, '$groups with a long key keeps the event')
})

t.test('a too-long key of an unknown type claims nothing', async (t) => {
  const result = run([withGroups(SHOP_STAGING, { team: 't'.repeat(401) })])
  t.same([result.header.pendingClaims, result.header.eventRows], [NO_CLAIMS, 1])
})

t.test('$groupidentify with a known type is a group update of its environment: [team_id, index, key, $group_set JSON, timestamp ms]', async (t) => {
  const result = run([
    groupIdentify(SHOP_STAGING, 'organization', 'org:5', { name: 'Acme', employees: 40 }),
    groupIdentify(SHOP_PRODUCTION, 'company', 'c:9', { name: 'Initech' }),
    groupIdentify(BLOG_PRODUCTION, 'company', 'c:9'), // no $group_set: an empty one
  ])
  const ts = Date.parse(EVENT_TIME)
  t.same(result.header.groupUpdates, [
    [2, 0, 'org:5', '{"name":"Acme","employees":40}', ts],
    [1, 1, 'c:9', '{"name":"Initech"}', ts],
    [3, 0, 'c:9', '{}', ts],
  ])
  t.same([result.header.pendingClaims, result.header.warnings, result.header.eventRows], [NO_CLAIMS, [], 3])
})

t.test('$groupidentify with an unknown type waits for a claim and updates nothing', async (t) => {
  const result = run([groupIdentify(SHOP_STAGING, 'team', 't:1', { name: 'Core' })])
  t.same(result.header.pendingClaims, { indexes: [0], claims: [[1, 'team']] })
  t.same([result.header.groupUpdates, result.header.eventRows, result.header.warnings], [[], 0, []])
  const settled = run([groupIdentify(SHOP_STAGING, 'team', 't:1', { name: 'Core' })], { snapshot: snapshotAfter([claim(1, 'team')]), claimsSettled: true })
  t.same(settled.header.groupUpdates, [[2, 2, 't:1', '{"name":"Core"}', Date.parse(EVENT_TIME)]], 'updated on the settled re-run')
})

t.test('$groupidentify with a $group_key over 400 characters is dropped as group_key_too_long and warns', async (t) => {
  const result = run([groupIdentify(SHOP_STAGING, 'organization', 'k'.repeat(401), { name: 'Acme' })])
  t.same(result.header.drops, { group_key_too_long: 1 })
  t.same([result.header.eventRows, result.header.groupUpdates], [0, []])
  t.same(warningsOf(result.header), [[2, 'group_key_too_long', { eventUuid: UUID, group_type: 'organization', length: 401 }, 'organization']])
})

t.test('a dropped $groupidentify claims no group type, even one named in its $groups', async (t) => {
  // a claim spends one of the project's 5 indexes; an event that is not stored must not spend it
  const result = run([groupIdentify(SHOP_STAGING, 'organization', 'k'.repeat(401), { name: 'Acme' }, { $groups: { team: 't:1' } })])
  t.same(result.header.drops, { group_key_too_long: 1 })
  t.same(result.header.pendingClaims, NO_CLAIMS)
})

t.test('warnings of a message that waits for a claim are reported once, on the settled re-run', async (t) => {
  const invalidTs = (groups: Record<string, unknown>) => withGroups(SHOP_STAGING, groups, { timestamp: 'yesterday' })
  const first = run([invalidTs({}), invalidTs({ team: 't:1' })])
  t.same(first.header.pendingClaims, { indexes: [1], claims: [[1, 'team']] })
  t.same(warningsOf(first.header), [[2, 'ignored_invalid_timestamp', { eventUuid: UUID, field: 'timestamp', value: 'yesterday', reason: 'unparseable' }, '']], 'only the message that was processed')

  const won = run([invalidTs({ team: 't:1' })], { snapshot: snapshotAfter([claim(1, 'team')]), claimsSettled: true })
  t.same(warningsOf(won.header), [[2, 'ignored_invalid_timestamp', { eventUuid: UUID, field: 'timestamp', value: 'yesterday', reason: 'unparseable' }, '']], 'claim won: once')
  t.same(groupsOf(won.rows), [[0, 2, { $group_2: 't:1' }]])

  const lost = run([invalidTs({ team: 't:1' })], { claimsSettled: true })
  t.same(warningsOf(lost.header), [
    [2, 'ignored_invalid_timestamp', { eventUuid: UUID, field: 'timestamp', value: 'yesterday', reason: 'unparseable' }, ''],
    [2, 'group_type_limit_exceeded', { eventUuid: UUID, group_type: 'team', limit: 5 }, 'team'],
  ], 'claim lost: each once')
})

t.test('a message that waits for a claim reports no definitions until its re-run', async (t) => {
  const first = run([withGroups(SHOP_STAGING, { team: 't:1' }, { event: 'joined', properties: { plan: 'pro' } })])
  t.same(first.header.observations, { eventDefinitions: [], propertyDefinitions: [], eventProperties: [] })
  const settled = run([withGroups(SHOP_STAGING, { team: 't:1' }, { event: 'joined', properties: { plan: 'pro' } })], { snapshot: snapshotAfter([claim(1, 'team')]), claimsSettled: true })
  t.same(settled.header.observations, {
    eventDefinitions: [[1, 'joined']],
    propertyDefinitions: [[1, 'plan', 1, -1, 'String']],
    eventProperties: [[1, 'joined', 'plan']],
  })
})

// ─── definitions ───────────────────────────────────────────────────────────

const EMPTY: Observations = { eventDefinitions: [], propertyDefinitions: [], eventProperties: [] }

t.test('definitions: top-level keys are type 1 with their detected type, each linked to the event', async (t) => {
  const result = run([message(SHOP_STAGING, {
    event: 'purchase',
    properties: { plan: 'pro', amount: 12.5, paid: true, is_trial: 'FALSE', paid_at: '2025-03-01T10:00:00Z', utm_source: 42, coupon: null, items: [1, 2], address: { city: 'Paris' } },
  })])
  t.same(result.header.observations, {
    eventDefinitions: [[1, 'purchase']],
    propertyDefinitions: [
      [1, 'plan', 1, -1, 'String'],
      [1, 'amount', 1, -1, 'Numeric'],
      [1, 'paid', 1, -1, 'Boolean'],
      [1, 'is_trial', 1, -1, 'Boolean'],
      [1, 'paid_at', 1, -1, 'DateTime'],
      [1, 'utm_source', 1, -1, 'String'],
      [1, 'coupon', 1, -1, null],
      [1, 'items', 1, -1, null],
      [1, 'address', 1, -1, null],
      // utm_source is also an automatic person property: String by its key, its $initial_ by the value
      [1, 'utm_source', 2, -1, 'String'],
      [1, '$initial_utm_source', 2, -1, 'Numeric'],
    ],
    eventProperties: ['plan', 'amount', 'paid', 'is_trial', 'paid_at', 'utm_source', 'coupon', 'items', 'address'].map((p) => [1, 'purchase', p]),
  })
})

t.test('definitions: $set, $set_once, $unset, $groups, $group_0..4 and keys over 200 bytes are skipped', async (t) => {
  const properties: Record<string, unknown> = {
    $set: { email: 'a@example.com' }, $set_once: {}, $unset: ['old'], $groups: { organization: 'org:5' },
    $group_0: 'x', $group_1: 'x', $group_2: 'x', $group_3: 'x', $group_4: 'x',
    ['k'.repeat(200)]: 1, // 200 bytes: kept
    ['k'.repeat(201)]: 1,
    ['é'.repeat(100)]: 1, // 200 bytes: kept
    ['é'.repeat(101)]: 1, // 101 characters, 202 bytes
    ['☕'.repeat(67)]: 1, // 67 characters, 201 bytes
    ['🦆'.repeat(51)]: 1, // 102 UTF-16 units, 204 bytes
    kept: 'yes',
  }
  const result = run([message(SHOP_STAGING, { event: 'skips', properties })])
  const type1 = result.header.observations.propertyDefinitions.filter((d) => d[2] === 1).map((d) => d[1])
  t.same(type1.sort(), ['k'.repeat(200), 'kept', 'é'.repeat(100)].sort(), 'type 1: only the kept keys')
  t.same(result.header.observations.eventProperties.map((l) => l[2]).sort(), type1.sort(), 'links: the same keys')
  t.same(result.header.observations.propertyDefinitions.filter((d) => d[2] !== 1), [[1, 'email', 2, -1, 'String']], 'the $set key is a person property')
})

t.test('definitions: $set and $set_once keys are person properties (type 2), top-level $set/$set_once included; top-level keys win', async (t) => {
  const result = run([message(SHOP_STAGING, {
    event: '$identify',
    properties: { $set: { email: 'a@example.com', plan: 'free' }, $set_once: { first_visit_at: '2025-03-01T10:00:00Z', ['p'.repeat(201)]: 1 } },
    $set: { age: 30, plan: 5 },
    $set_once: { referrer: 'ads' },
  })])
  t.same(result.header.observations.propertyDefinitions, [
    [1, 'email', 2, -1, 'String'],
    [1, 'plan', 2, -1, 'Numeric'],
    [1, 'age', 2, -1, 'Numeric'],
    [1, 'first_visit_at', 2, -1, 'DateTime'],
    [1, 'referrer', 2, -1, 'String'],
  ])
  t.same(result.header.observations.eventProperties, [], '$set and $set_once are not event properties')
})

t.test('definitions: automatic person properties ($browser, utm_*, …) and their $initial_* are person properties (type 2), as PostHog records them', async (t) => {
  const result = run([message(SHOP_STAGING, {
    event: '$pageview',
    properties: { $browser: 'Chrome', $os_name: 'iOS', utm_source: 'news', $device_type: { nested: 1 }, other: 1 },
  })])
  const type2 = result.header.observations.propertyDefinitions.filter((d) => d[2] === 2).map((d) => [d[1], d[4]])
  t.same(type2.sort(), [
    ['$browser', 'String'], ['$initial_browser', 'String'],
    ['$initial_os', 'String'], ['$os', 'String'], // $os from $os_name, as the person gets it
    ['$initial_utm_source', 'String'], ['utm_source', 'String'],
  ].sort(), 'current and initial names; an object value is no automatic value')
  t.notOk(result.header.observations.propertyDefinitions.some((d) => d[2] === 2 && d[1] === 'other'), 'other keys are not person properties')
})

t.test('definitions: an explicit $set / $set_once value of an automatic key is the one described; personless events describe none', async (t) => {
  const explicit = run([message(SHOP_STAGING, { event: 'e', properties: { utm_medium: 'web', $set: { utm_medium: 7 }, $set_once: { $initial_utm_medium: true } } })])
  t.same(explicit.header.observations.propertyDefinitions.filter((d) => d[2] === 2).map((d) => [d[1], d[4]]).sort(),
    [['$initial_utm_medium', 'Boolean'], ['utm_medium', 'String']].sort(), 'utm_* is String whatever the value (key rule); $initial_utm_medium takes the explicit boolean')
  threadDefinitions.forget()
  const personless = run([message(SHOP_STAGING, { event: 'e', properties: { $browser: 'Chrome', $process_person_profile: false } })])
  t.same(personless.header.observations.propertyDefinitions.filter((d) => d[2] === 2), [], 'no person, no person properties')
})

t.test('definitions: automatic person properties are reported once per thread, like the rest', async (t) => {
  const first = run([message(SHOP_STAGING, { event: 'e', properties: { $browser: 'Chrome' } })])
  t.equal(first.header.observations.propertyDefinitions.filter((d) => d[2] === 2).length, 2)
  const second = run([message(SHOP_STAGING, { event: 'e', properties: { $browser: 'Firefox' } })])
  t.same(second.header.observations.propertyDefinitions, [], 'nothing new')
})

t.test('definitions: $group_set keys of a $groupidentify are group properties (type 3) with the group type index', async (t) => {
  const result = run([
    groupIdentify(SHOP_STAGING, 'company', 'c:9', { name: 'Initech', employees: 40, founded_at: '1999-02-19' }),
    groupIdentify(SHOP_STAGING, 'organization', 'org:5', { name: 'Acme' }),
  ])
  const type3 = result.header.observations.propertyDefinitions.filter((d) => d[2] === 3)
  t.same(type3, [
    [1, 'name', 3, 1, 'String'],
    [1, 'employees', 3, 1, 'Numeric'],
    [1, 'founded_at', 3, 1, 'DateTime'],
    [1, 'name', 3, 0, 'String'],
  ])
  // issue 15 rule 8, PostHog's rust/property-defs-rs: a $groupidentify contributes only its $group_set keys
  t.same(result.header.observations.propertyDefinitions.filter((d) => d[2] === 1), [], 'the $groupidentify\'s own keys are not event properties')
  t.same(result.header.observations.eventProperties, [], 'nor linked to the event')
})

// Issue 15 rule 8, PostHog's rust/property-defs-rs: links skip feature flag keys; names over 200 bytes describe nothing
const DEFINITION_LIMITS: { name: string; event: string; properties: Record<string, unknown>; eventDefinitions: number; properties1: string[]; links: string[] }[] = [
  { name: 'feature flag keys are property definitions but not linked to the event', event: 'clicked', properties: { $feature_x: 1, '$feature/beta': true, '$feature_enrollment/beta': true, plan: 'pro' }, eventDefinitions: 1, properties1: ['$feature_x', '$feature/beta', '$feature_enrollment/beta', 'plan'], links: ['$feature_x', 'plan'] },
  { name: 'an event name of 200 bytes is described', event: 'é'.repeat(100), properties: { a: 1 }, eventDefinitions: 1, properties1: ['a'], links: ['a'] },
  { name: 'an event name over 200 bytes (101 two-byte characters) is skipped for definitions', event: 'é'.repeat(101), properties: { b: 1 }, eventDefinitions: 0, properties1: [], links: [] },
]

for (const c of DEFINITION_LIMITS) {
  t.test(`definitions: ${c.name}`, async (t) => {
    const result = run([message(SHOP_STAGING, { event: c.event, properties: c.properties })])
    const o = result.header.observations
    t.equal(o.eventDefinitions.length, c.eventDefinitions)
    t.same(o.propertyDefinitions.filter((d) => d[2] === 1).map((d) => d[1]), c.properties1)
    t.same(o.eventProperties.map((l) => l[2]), c.links)
    t.equal(result.header.eventRows, 1, 'the event itself is stored')
  })
}

t.test('definitions: $group_set of a $groupidentify whose type has no index gives no group properties', async (t) => {
  const result = run([groupIdentify(BLOG_PRODUCTION, 'zeta', 'z:1', { name: 'Z' })])
  t.same(result.header.observations.propertyDefinitions.filter((d) => d[2] === 3), [])
})

t.test('definitions: one event definition per project and event per hour', async (t) => {
  const first = run([message(SHOP_STAGING, { event: 'signup' }), message(SHOP_STAGING, { event: 'signup' }), message(BLOG_PRODUCTION, { event: 'signup' })])
  t.same(first.header.observations.eventDefinitions, [[1, 'signup'], [3, 'signup']])
  t.same(run([message(SHOP_STAGING, { event: 'signup' })], { nowMs: NOW_MS + 40 * 60_000 }).header.observations.eventDefinitions, [], 'same hour: nothing')
  t.same(run([message(SHOP_STAGING, { event: 'signup' })], { nowMs: NOW_MS + HOUR }).header.observations.eventDefinitions, [[1, 'signup']], 'next hour: again')
  t.same(run([message(SHOP_STAGING, { event: 'signup' })], { nowMs: NOW_MS + HOUR + 60_000 }).header.observations.eventDefinitions, [], 'and once only')
})

t.test('definitions: the second identical event reports nothing new, in the same task or a later one', async (t) => {
  const event = () => message(SHOP_STAGING, { event: 'view', properties: { path: '/a', $set: { email: 'a@example.com' } } })
  const first = run([event(), event()])
  t.same(first.header.observations, {
    eventDefinitions: [[1, 'view']],
    propertyDefinitions: [[1, 'path', 1, -1, 'String'], [1, 'email', 2, -1, 'String']],
    eventProperties: [[1, 'view', 'path']],
  })
  t.same(run([event()]).header.observations, EMPTY, 'a later task')
  t.same(run([message(SHOP_STAGING, { event: 'view', properties: { path: '/b' } })]).header.observations, EMPTY, 'another value of the same type')
})

t.test('definitions: a property first seen as null is reported again once it has a type', async (t) => {
  const withX = (x: unknown) => message(SHOP_STAGING, { event: 'e', properties: { x } })
  t.same(run([withX(null)]).header.observations.propertyDefinitions, [[1, 'x', 1, -1, null]])
  const typed = run([withX('a')]).header.observations
  t.same([typed.propertyDefinitions, typed.eventProperties], [[[1, 'x', 1, -1, 'String']], []], 'the typed definition; the link is not repeated')
  t.same(run([withX('b'), withX(null)]).header.observations, EMPTY, 'then nothing new')
})

t.test('definitions: a second environment of the same project reports under the same project_id, once', async (t) => {
  const props = { properties: { plan: 'pro' } }
  const staging = run([message(SHOP_STAGING, { event: 'signup', ...props })])
  t.same(staging.header.observations, {
    eventDefinitions: [[1, 'signup']],
    propertyDefinitions: [[1, 'plan', 1, -1, 'String']],
    eventProperties: [[1, 'signup', 'plan']],
  })
  t.same(run([message(SHOP_PRODUCTION, { event: 'signup', ...props })]).header.observations, EMPTY, 'production: already known for project 1')
  t.same(run([message(BLOG_PRODUCTION, { event: 'signup', ...props })]).header.observations, {
    eventDefinitions: [[3, 'signup']],
    propertyDefinitions: [[3, 'plan', 1, -1, 'String']],
    eventProperties: [[3, 'signup', 'plan']],
  }, 'another project: its own')
})

t.test('definitions: dropped events report nothing', async (t) => {
  const result = run([
    message(SHOP_STAGING, { event: 'x', properties: { a: 1 } }, { distinct_id: 'd'.repeat(401) }),
    groupIdentify(SHOP_STAGING, 'organization', 'k'.repeat(401), { name: 'Acme' }),
  ])
  t.same([result.header.drops, result.header.observations], [{ invalid_distinct_id: 1, group_key_too_long: 1 }, EMPTY])
})
