// Cluster mode's DDL and readiness verdict, without servers
// (engine/sink/cluster-ddl.ts, engine/sink/cluster-health.ts): every table
// has a placement, per-event tables become Replicated local tables behind a
// Distributed table sharded by the right key, small tables one copy per node,
// the migration adds exactly the missing columns in place. The statements run
// on real servers in test/integration/cluster.test.ts.
import t from 'tap'
import {
  clusterStatements, columnChanges, migrationStatements, parseColumns, parseCreateTable, placementOf, PLACEMENT,
} from '../../../../../engine/sink/format/cluster-ddl'
import { clusterVerdict } from '../../../../../engine/sink/transport/cluster-health'
import { schemaStatements } from '../../../../../engine/sink/format/schema'

const single = schemaStatements('db', 'DateTime')
const modern = schemaStatements('db', 'DateTime64', true)

t.test('every table of the single-server schema has a cluster placement', async (t) => {
  const tables = single.map(parseCreateTable).filter((x) => x !== undefined).map((x) => x!.table)
  t.ok(tables.length >= 9)
  for (const name of tables) t.ok(PLACEMENT[name], `${name} is placed`)
  t.throws(() => placementOf('new_table'), /has no cluster placement: add it to PLACEMENT/)
})

t.test('per-event tables become Replicated local tables behind Distributed tables sharded by user or group', async (t) => {
  const out = clusterStatements(single, 'c1')
  t.equal(out[0], 'CREATE DATABASE IF NOT EXISTS db ON CLUSTER c1')
  const events = out.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS db.events_local '))!
  t.match(events, /^CREATE TABLE IF NOT EXISTS db\.events_local ON CLUSTER c1 \(\n  uuid UUID,/)
  t.match(events, /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/c1\/\{shard\}\/db\.events_local', '\{replica\}', _timestamp\)\nPARTITION BY toYYYYMM\(timestamp\)\nORDER BY \(team_id/)
  t.ok(out.includes('CREATE TABLE IF NOT EXISTS db.events ON CLUSTER c1 AS db.events_local\nENGINE = Distributed(c1, db, events_local, cityHash64(distinct_id))'))
  t.ok(out.includes('CREATE TABLE IF NOT EXISTS db.groups ON CLUSTER c1 AS db.groups_local\nENGINE = Distributed(c1, db, groups_local, cityHash64(group_key))'))
  // the local table comes before the Distributed table that copies its columns
  t.ok(out.indexOf(events) < out.findIndex((s) => s.startsWith('CREATE TABLE IF NOT EXISTS db.events ON CLUSTER')))
})

t.test('small tables are one replicated copy on every node, versioned as before', async (t) => {
  const out = clusterStatements(single, 'c1')
  const projects = out.find((s) => s.includes('db.projects '))!
  t.match(projects, /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/c1\/all\/db\.projects', '\{replica\}', _version\)\nORDER BY id$/)
  const warnings = out.find((s) => s.includes('db.ingestion_warnings '))!
  t.match(warnings, /ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/c1\/all\/db\.ingestion_warnings', '\{replica\}'\)\nPARTITION BY/)
  const eventProperties = out.find((s) => s.includes('db.event_properties '))!
  t.match(eventProperties, /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/c1\/all\/db\.event_properties', '\{replica\}'\)/)
  t.notOk(out.some((s) => /Distributed\(c1, db, (projects|environments|ingestion_warnings)/.test(s)), 'no small table fans out')
})

t.test('the non-replicated dedup window of current servers is dropped (Replicated tables have their own)', async (t) => {
  t.match(modern[1], /non_replicated_deduplication_window/)
  const out = clusterStatements(modern, 'c1')
  t.notOk(out.some((s) => /non_replicated_deduplication_window/.test(s)))
  t.ok(out.some((s) => /timestamp DateTime64\(6, 'UTC'\),/.test(s)), 'types with commas survive')
})

t.test('column lists are split at top-level commas only', async (t) => {
  t.same(parseColumns("a UUID,\n  `$group_0` String,\n  t DateTime64(6, 'UTC'),\n  n Int64"), [
    { name: 'a', type: 'UUID' }, { name: '$group_0', type: 'String' }, { name: 't', type: "DateTime64(6, 'UTC')" }, { name: 'n', type: 'Int64' },
  ])
})

t.test('a migration adds exactly the missing columns, in place, ON CLUSTER for sharded tables', async (t) => {
  const eventsCols = parseColumns(parseCreateTable(single[1])!.columns).map((c) => c.name)
  const old = new Set(eventsCols.filter((c) => !/^\$group_[34]$/.test(c)))
  const existing = new Map<string, Set<string>>([['events_local', old], ['events', old], ['projects', new Set(['id', 'name', 'settings', 'created_at', 'merged_into', 'deleted', '_version'])]])
  const changes = columnChanges(single, existing)
  t.equal(changes.length, 1, 'only events changed; tables absent from the map are new, not migrated')
  t.same(changes[0].add, [{ name: '$group_3', type: 'String', after: '$group_2' }, { name: '$group_4', type: 'String', after: '$group_3' }])
  t.same(migrationStatements(changes[0], 'c1', 'db'), [
    'ALTER TABLE db.events_local ON CLUSTER c1 ADD COLUMN `$group_3` String AFTER `$group_2`, ADD COLUMN `$group_4` String AFTER `$group_3`',
    'DROP TABLE IF EXISTS db.events ON CLUSTER c1',
    'CREATE TABLE IF NOT EXISTS db.events ON CLUSTER c1 AS db.events_local\nENGINE = Distributed(c1, db, events_local, cityHash64(distinct_id))',
  ])
})

t.test('a small table is altered once (replication carries it); an interrupted migration recreates the Distributed table', async (t) => {
  const eventsCols = new Set(parseColumns(parseCreateTable(single[1])!.columns).map((c) => c.name))
  const changes = columnChanges(single, new Map([
    ['projects', new Set(['id', 'name', 'settings', 'created_at', 'deleted', '_version'])],
    ['events_local', eventsCols],
    ['events', new Set([...eventsCols].filter((c) => c !== '_offset'))],
  ]))
  const projects = changes.find((c) => c.logical === 'projects')!
  t.same(migrationStatements(projects, 'c1', 'db'), ['ALTER TABLE db.projects ADD COLUMN merged_into Int64 AFTER created_at'])
  const events = changes.find((c) => c.logical === 'events')!
  t.same(events.add, [])
  t.same(migrationStatements(events, 'c1', 'db').map((s) => s.split('\n')[0]), ['DROP TABLE IF EXISTS db.events ON CLUSTER c1', 'CREATE TABLE IF NOT EXISTS db.events ON CLUSTER c1 AS db.events_local'])
})

t.test('readiness: a dead shard is unready, a dead replica of a live shard is named but ready', async (t) => {
  const h = (shard: number, replica: number, port: number) => ({ shard, replica, host: 'ch', port })
  t.same(clusterVerdict([{ host: h(1, 1, 1), rows: 5 }, { host: h(2, 1, 2), rows: 6 }]), { ok: true, detail: '2 shard(s), 2/2 replicas answer' })
  t.same(clusterVerdict([{ host: h(1, 1, 1), rows: 5 }, { host: h(1, 2, 2), error: 'Connection refused' }]),
    { ok: true, detail: '1 shard(s), 1/2 replicas answer; degraded, unreachable: shard 1 replica 2 (ch:2): Connection refused' })
  t.same(clusterVerdict([{ host: h(1, 1, 1), rows: 5 }, { host: h(2, 1, 2), error: 'timeout' }]),
    { ok: false, detail: 'shard 2 unreachable (no replica answers): shard 2 replica 1 (ch:2): timeout' })
})
