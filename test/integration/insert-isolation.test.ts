// What the batcher does with inserts a real ClickHouse refuses, on both
// stores: chDB (ClickHouse 26.7, the modern behaviour) and Debian's 18.16
// server. For every table Sluice writes, a flush holding one row the server
// rejects stores the others and reports that row alone, with its table, the
// error and its source coordinates. Rows spanning 150 months (a device with
// a bad clock) are all stored: the batcher splits them by partition under
// max_partitions_per_insert_block instead of having them refused (26.7
// answers Code 252 to one block over 100 partitions).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { foldAll } from '../../engine/control/fold'
import { buildSnapshot } from '../../engine/control/snapshot'
import { createMetrics } from '../../engine/metrics'
import { InsertBatcher, type RowSource, type TableRows } from '../../engine/sink/writers/batcher'
import { openChdb } from '../../engine/sink/transport/chdb'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import { JSON_EACH_ROW, type InsertFormat } from '../../engine/sink/format/row-format'
import { createSchema, type Schema } from '../../engine/sink/format/schema'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { eventColumns } from '../../workers/clickhouse-types'
import { processBatch } from '../../workers/index'
import type { RowFormat } from '../../workers/protocol'
import { startClickHouseServer } from '../harness/clickhouse-server'
import { taskOf } from '../harness/tasks'

const CAPTURED = '2026-11-20T10:00:00.000Z'
const NOW_MS = Date.parse('2026-11-20T10:00:05.000Z')
const { state } = foldAll([{ type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: 'phc_shop' }])
const SNAPSHOT = buildSnapshot(state, 1)

interface Rejected { table: string; row: string; error: string; source: RowSource }

interface Rig { batcher: InsertBatcher; rejected: Rejected[]; acked: number[] }

function rig(store: ClickHouseStore, limit: number): Rig {
  const rejected: Rejected[] = []
  const acked: number[] = []
  const batcher = new InsertBatcher(store, { maxRows: 1_000_000, maxBytes: 1 << 30, intervalMs: 60_000, maxPartitionsPerInsert: limit },
    (flush) => acked.push(flush.messages),
    async (table, row, error, source) => { rejected.push({ table, row: Buffer.from(row).toString('utf8'), error, source }) },
    createMetrics(), pino({ level: 'silent' }))
  return { batcher, rejected, acked }
}

const count = async (store: ClickHouseStore, table: string) => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0].n)

const message = (i: number, data: Record<string, unknown>) => {
  const uuid = `0190a1b2-c3d4-7e5f-8a9b-${(0xabcdef000000 + i).toString(16)}`
  return JSON.stringify({ uuid, token: 'phc_shop', distinct_id: `d${i}`, now: CAPTURED, data: JSON.stringify({ event: 'e', uuid, ...data }) })
}

/** `events` rows as the workers encode them for this store, one per message (partition 0, offsets from 1000). */
function eventRows(format: RowFormat, schema: Schema, values: string[]): TableRows {
  const { header, rows } = processBatch(taskOf(values, { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: NOW_MS, firstOffset: 1000 }), { dateTime: schema.dateTime, format })
  const insert: InsertFormat = format === 'RowBinary' ? { kind: 'RowBinary', columns: eventColumns(schema.dateTime) } : JSON_EACH_ROW
  return {
    table: schema.tables.events, chunk: Buffer.from(rows.bytes()), rows: header.eventRows, format: insert, partitions: header.partitions,
    sourceOf: (i) => ({ topic: 'events_plugin_ingestion', partition: 0, offset: 1000 + header.rowMessages[i] }),
  }
}

const time = (schema: Schema) => (schema.dateTime === 'DateTime64' ? '2026-11-20 10:00:00.000000' : '2026-11-20 10:00:00')

/** Good JSONEachRow rows for every other table, and one bad row each (a value of the wrong type). */
function otherTables(schema: Schema): { table: string; good: string[]; bad: string }[] {
  const at = time(schema)
  const tb = schema.tables
  return [
    { table: tb.groups, good: [1, 2].map((i) => JSON.stringify({ team_id: 1, group_type_index: 0, group_key: `g${i}`, group_properties: '{}', created_at: at, _timestamp: at })), bad: JSON.stringify({ team_id: 'one', group_type_index: 0, group_key: 'bad', group_properties: '{}', created_at: at, _timestamp: at }) },
    { table: tb.warnings, good: [1, 2].map((i) => JSON.stringify({ team_id: 1, source: 'sluice', type: `w${i}`, details: '{}', timestamp: at })), bad: JSON.stringify({ team_id: 1, source: 'sluice', type: 'bad', details: '{}', timestamp: 'not a time' }) },
    { table: tb.eventDefinitions, good: [1, 2].map((i) => JSON.stringify({ project_id: 1, name: `e${i}`, first_seen: at, last_seen: at })), bad: JSON.stringify({ project_id: [1], name: 'bad', first_seen: at, last_seen: at }) },
    { table: tb.propertyDefinitions, good: [1, 2].map((i) => JSON.stringify({ project_id: 1, name: `p${i}`, type: 1, group_type_index: -1, property_type: '', is_numerical: 0, first_seen: at, _version: 0 })), bad: JSON.stringify({ project_id: 1, name: 'bad', type: 'event', group_type_index: -1, property_type: '', is_numerical: 0, first_seen: at, _version: 0 }) },
    { table: tb.eventProperties, good: [1, 2].map((i) => JSON.stringify({ project_id: 1, event: 'e', property: `p${i}` })), bad: JSON.stringify({ project_id: { a: 1 }, event: 'e', property: 'bad' }) },
  ]
}

async function suite(t: Test, store: ClickHouseStore, format: RowFormat, db: string): Promise<void> {
  const schema = await createSchema(store, db)

  t.test('every table: the rejected row is dead-lettered alone with its table, error and source; the rest is stored; offsets move on', async (t) => {
    const r = rig(store, schema.maxPartitionsPerInsert)
    const values = [0, 1, 2, 3, 4, 5].map((i) => message(i, { properties: { i } }))
    const events = eventRows(format, schema, values)
    // a row no ClickHouse accepts, after four good ones: cut short (RowBinary) or not JSON (JSONEachRow)
    const bad = format === 'RowBinary' ? Buffer.from(events.chunk).subarray(0, events.chunk.byteLength - 3) : Buffer.from(Buffer.from(events.chunk).toString('utf8').replace('"team_id":1,', '"team_id":"x",'))
    t.ok(bad.byteLength < events.chunk.byteLength || bad.toString() !== Buffer.from(events.chunk).toString(), 'the last events row is broken')
    const others = otherTables(schema)
    r.batcher.add({
      tables: [
        format === 'RowBinary' ? { ...events, chunk: bad } : { ...events, chunk: bad },
        ...others.map((o) => ({ table: o.table, chunk: Buffer.from([...o.good.slice(0, 1), o.bad, ...o.good.slice(1)].join('\n') + '\n'), rows: 3, sourceOf: () => ({ topic: 'events_plugin_ingestion', messages: '0:1000-1005' }) })),
      ],
      segments: [], consumedBytes: 0, messages: 6,
    })
    await r.batcher.drain()
    t.same(r.acked, [6], 'the flush was acknowledged once')
    const expectedRejected = new Set([schema.tables.events, ...others.map((o) => o.table)])
    t.same(new Set(r.rejected.map((x) => x.table)), expectedRejected, 'one rejected row per table')
    t.equal(r.rejected.length, expectedRejected.size)
    const ev = r.rejected.find((x) => x.table === schema.tables.events)!
    t.same(ev.source, { topic: 'events_plugin_ingestion', partition: 0, offset: 1000 + (format === 'RowBinary' ? 5 : 0) }, 'the events row names its message')
    t.match(ev.error, /Code: \d+/, 'with ClickHouse\'s error')
    for (const o of others) {
      const x = r.rejected.find((y) => y.table === o.table)!
      t.same(x.source, { topic: 'events_plugin_ingestion', messages: '0:1000-1005' }, `${o.table}: derived rows name the batch`)
      t.same(JSON.parse(x.row), JSON.parse(o.bad), `${o.table}: the dead letter is the row`)
      t.equal(await count(store, o.table), 2, `${o.table}: the good rows are stored`)
    }
    t.equal(await count(store, schema.tables.events), 5, 'events: the five good rows are stored')
    t.ok(r.rejected.every((x) => x.row.isWellFormed()), 'dead letters are well-formed text')
    t.comment(`rejection codes seen: ${r.rejected.map((x) => `${x.table.split('.')[1]} ${/Code: (\d+)/.exec(x.error)?.[1]}`).join(', ')}`)
  })

  t.test('a contribution\'s memory is given back once, after its rows are stored and its bad row dead-lettered: reusing it then changes nothing stored', async (t) => {
    const r = rig(store, schema.maxPartitionsPerInsert)
    const values = [0, 1, 2, 3].map((i) => message(500 + i, { event: 'reused_memory', properties: { i } }))
    const events = eventRows(format, schema, values)
    // the last row broken, so the insert is refused and bisected before the flush completes
    const memory = format === 'RowBinary' ? Buffer.from(events.chunk).subarray(0, events.chunk.byteLength - 3) : Buffer.from(Buffer.from(events.chunk).toString('utf8').replace(/"team_id":1,(?![\s\S]*"team_id":1,)/, '"team_id":"x",'))
    const seen: { acked: number; rejected: number }[] = []
    r.batcher.add({
      tables: [{ ...events, chunk: memory }], segments: [], consumedBytes: 0, messages: 4,
      // as the engine's row buffers are reused: overwritten at once
      release: () => { seen.push({ acked: r.acked.length, rejected: r.rejected.length }); memory.fill(0) },
    })
    await r.batcher.drain()
    t.same(seen, [{ acked: 1, rejected: 1 }], 'released once, after the acknowledgement and the dead letter')
    const stored = await store.query<{ n: string }>(`SELECT count() AS n FROM ${schema.tables.events} WHERE event = 'reused_memory'`)
    t.equal(Number(stored[0].n), 3, 'the three good rows are stored as they were')
  })

  t.test('150 events in 150 months: all stored, in inserts of at most the server\'s partition limit', async (t) => {
    const limit = schema.maxPartitionsPerInsert || 100 // 18.16 has no limit: the configured value decides
    const r = rig(store, limit)
    const values = Array.from({ length: 150 }, (_, i) => message(100 + i, { timestamp: new Date(Date.UTC(2010, i, 15)).toISOString() }))
    const events = eventRows(format, schema, values)
    t.equal(events.partitions?.length, 150, 'the workers report 150 partitions')
    const before = await count(store, schema.tables.events)
    r.batcher.add({ tables: [events], segments: [], consumedBytes: 0, messages: 150 })
    await r.batcher.drain()
    t.same(r.rejected, [], 'nothing dead-lettered: the rows are valid')
    t.equal(await count(store, schema.tables.events) - before, 150, 'all stored')
    const parts = await store.query<{ n: string }>(`SELECT uniqExact(toYYYYMM(timestamp)) AS n FROM ${schema.tables.events} WHERE timestamp < toDateTime('2023-01-01 00:00:00', 'UTC')`)
    t.equal(Number(parts[0].n), 150, '150 month partitions')
  })

  t.test('without shaping, a refused block of too many partitions is split, never dead-lettered', async (t) => {
    const r = rig(store, 0)
    const values = Array.from({ length: 120 }, (_, i) => message(300 + i, { timestamp: new Date(Date.UTC(1990, i, 15)).toISOString() }))
    const events = eventRows(format, schema, values)
    const before = await count(store, schema.tables.events)
    r.batcher.add({ tables: [events], segments: [], consumedBytes: 0, messages: 120 })
    await r.batcher.drain()
    t.same(r.rejected, [], 'nothing dead-lettered')
    t.equal(await count(store, schema.tables.events) - before, 120, 'all stored')
  })

  t.test('a lone surrogate in a JSONEachRow body (as Sluice used to write it) is isolated, not retried for ever', async (t) => {
    const r = rig(store, schema.maxPartitionsPerInsert)
    const at = time(schema)
    const good = JSON.stringify({ project_id: 9, name: 'fine', first_seen: at, last_seen: at })
    const lone = `{"project_id":9,"name":"\\ud800x","first_seen":"${at}","last_seen":"${at}"}`
    r.batcher.add({ tables: [{ table: schema.tables.eventDefinitions, chunk: Buffer.from(`${good}\n${lone}\n`), rows: 2 }], segments: [], consumedBytes: 0, messages: 2 })
    await r.batcher.drain()
    const stored = await store.query<{ name: string }>(`SELECT name FROM ${schema.tables.eventDefinitions} WHERE project_id = 9 ORDER BY name`)
    // both refuse it here (Code 25): 26.7 ("missing second part of surrogate pair"), and 18.16 when the escape is followed by more text
    t.equal(r.rejected.length, 1, 'dead-lettered alone')
    t.match(r.rejected[0].error, /Code: 25/)
    t.same(stored.map((s) => s.name), ['fine'], 'the other row is stored')
  })
}

t.test('chDB (ClickHouse 26.7), JSONEachRow', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-isolation-'))
  const store = await openChdb(dir)
  t.teardown(async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }) })
  const limit = (await createSchema(store, 'isolation')).maxPartitionsPerInsert
  t.equal(limit, 100, 'the partition limit is read from the server')
  await suite(t, store, 'JSONEachRow', 'isolation')
})

t.test('Debian clickhouse-server 18.16, RowBinary events', async (t) => {
  const ch = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: ch.url })
  t.teardown(async () => { await store.close(); await ch.destroy() })
  t.equal((await createSchema(store, 'isolation')).maxPartitionsPerInsert, 0, '18.16 has no partition limit')
  await suite(t, store, 'RowBinary', 'isolation')
})
