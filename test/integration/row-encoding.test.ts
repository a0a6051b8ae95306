// The two row encodings of `events` say the same thing to real ClickHouse:
// the same messages, processed by the worker into RowBinary and into
// JSONEachRow, inserted into identical tables, read back identical. On
// Debian's 18.16 (DateTime) through the engine's own store and insert path,
// and on chDB (ClickHouse 26, DateTime64(6)), which takes RowBinary from a
// file. Also: a RowBinary body splits into its rows (how a rejected row is
// isolated), and those rows insert one by one.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { foldAll } from '../../engine/control/fold'
import { buildSnapshot } from '../../engine/control/snapshot'
import { openChdb } from '../../engine/sink/transport/chdb'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import { insertStatement, JSON_EACH_ROW, splitRows, type InsertFormat } from '../../engine/sink/format/row-format'
import { schemaStatements } from '../../engine/sink/format/schema'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { eventColumns } from '../../workers/clickhouse-types'
import { processBatch, threadDefinitions } from '../../workers/index'
import type { DateTimeFlavor, RowEncoding } from '../../workers/protocol'
import { startClickHouseServer, type ClickHouseServer } from '../harness/clickhouse-server'
import { taskOf } from '../harness/tasks'

const CAPTURED = '2026-11-20T10:00:00.000Z'
const NOW_MS = Date.parse('2026-11-20T10:00:05.000Z')
const { state } = foldAll([
  { type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: 'phc_shop' },
  { type: 'claim_group_type', request_id: 'r2', at: CAPTURED, project_id: 1, group_type: 'organization' },
  { type: 'claim_group_type', request_id: 'r3', at: CAPTURED, project_id: 1, group_type: 'company' },
])
const SNAPSHOT = buildSnapshot(state, 1)

const uuid = (i: number) => `0190a1b2-c3d4-7e5f-8a9b-${(0xabcdef000000 + i).toString(16)}`

/** Messages that stress the encoding: lengths across varint boundaries, non-ASCII, escapes, groups, changed and untouched properties. */
function messages(): string[] {
  const long = (n: number) => 'x'.repeat(n)
  const datas: Record<string, unknown>[] = [
    { event: '$pageview', properties: { $current_url: 'https://example.com/?q=a%20b', n: 1.5, ok: true, none: null, list: [1, 'two'], nested: { a: { b: [] } } } },
    { event: 'café ☕ 🦆', properties: { emoji: '🦆🦆', quote: 'say "hi"\\ back', newline: 'a\nb\tc', nul: 'a\u0000b' } },
    { event: 'short', properties: {} },
    { event: 'no properties' },
    { event: 'long 127', properties: { v: long(100) } },
    { event: 'long 200', properties: { v: long(200) } },
    { event: 'long 20000', properties: { v: long(20_000), w: 'é'.repeat(5000) } },
    { event: 'groups', properties: { $groups: { organization: 'org:5', company: 'c:9' }, plan: 'pro' } },
    { event: '$groupidentify', properties: { $group_type: 'company', $group_key: 'c:9', $group_set: { name: 'Acme' } } },
    { event: 'merged $set', properties: { a: 1, $set: { x: 1 } }, $set: { y: 2 }, $set_once: { z: 3 } },
    { event: 'has $ip', properties: { $ip: '10.0.0.1' } },
    { event: { not: 'a string' }, properties: { key: 'value' } },
  ]
  return datas.map((data, i) => JSON.stringify({
    uuid: uuid(i), distinct_id: i % 2 === 0 ? `user-${i}` : 'ünïcødé-ïd', ip: '203.0.113.7', now: CAPTURED, token: 'phc_shop',
    data: JSON.stringify({ timestamp: '2026-11-20T09:59:59.123Z', ...data }),
  }))
}

function encode(enc: RowEncoding): { rows: Uint8Array; count: number } {
  threadDefinitions.forget()
  const { header, rows } = processBatch(taskOf(messages(), { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: NOW_MS - 1000, firstOffset: 40 }), enc)
  return { rows: rows.bytes(), count: header.eventRows }
}

const rowBinary = (flavor: DateTimeFlavor): InsertFormat => ({ kind: 'RowBinary', columns: eventColumns(flavor) })

async function createEventsTable(store: ClickHouseStore, database: string, flavor: DateTimeFlavor): Promise<string> {
  const [createDb, createEvents] = schemaStatements(database, flavor)
  await store.command(createDb)
  await store.command(createEvents)
  return `${database}.events`
}

const selectAll = (table: string) => `SELECT * FROM ${table} ORDER BY uuid`

let server: ClickHouseServer | undefined
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-row-encoding-'))
t.teardown(async () => {
  await server?.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
})

t.test('ClickHouse 18.16 (DateTime): RowBinary and JSONEachRow rows read back the same', async (t) => {
  server = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: server.url })
  t.teardown(() => store.close())
  const binary = encode({ dateTime: 'DateTime', format: 'RowBinary' })
  const json = encode({ dateTime: 'DateTime', format: 'JSONEachRow' })
  t.equal(binary.count, messages().length, 'every message became a row')
  t.equal(json.count, binary.count)

  const binaryTable = await createEventsTable(store, 'rb', 'DateTime')
  const jsonTable = await createEventsTable(store, 'js', 'DateTime')
  await store.insert(binaryTable, [binary.rows], undefined, rowBinary('DateTime'))
  await store.insert(jsonTable, [json.rows], undefined, JSON_EACH_ROW)
  const fromBinary = await store.query<Record<string, unknown>>(selectAll(binaryTable))
  const fromJson = await store.query<Record<string, unknown>>(selectAll(jsonTable))
  t.equal(fromBinary.length, messages().length)
  t.same(fromBinary, fromJson, 'identical rows')
  t.same(fromBinary.map((r) => r.uuid), messages().map((_, i) => uuid(i)).sort(), 'the uuids as sent')

  const byEvent = new Map(fromBinary.map((r) => [r.event as string, r]))
  t.same(JSON.parse(byEvent.get('long 20000')!.properties as string), { $ip: '203.0.113.7', v: 'x'.repeat(20_000), w: 'é'.repeat(5000) }, 'a 30 kB property text (3-byte length)')
  t.same(JSON.parse(byEvent.get('café ☕ 🦆')!.properties as string), { $ip: '203.0.113.7', emoji: '🦆🦆', quote: 'say "hi"\\ back', newline: 'a\nb\tc', nul: 'a\u0000b' }, 'escapes survive; NUL kept as PostHog keeps it (issue 15 rule 10)')
  t.same(JSON.parse(byEvent.get('merged $set')!.properties as string), { a: 1, $set: { x: 1, y: 2 }, $set_once: { z: 3 }, $ip: '203.0.113.7' }, 'top-level $set merged')
  t.same(JSON.parse(byEvent.get('has $ip')!.properties as string), { $ip: '10.0.0.1' }, 'the event\'s own $ip kept')
  t.same([byEvent.get('groups')!.$group_0, byEvent.get('groups')!.$group_1], ['org:5', 'c:9'])
  t.same([byEvent.get('short')!.timestamp, byEvent.get('short')!.created_at, byEvent.get('short')!._timestamp, byEvent.get('short')!._offset],
    ['2026-11-20 09:59:59', '2026-11-20 10:00:05', '2026-11-20 10:00:04', '42'])

  // isolating a rejected row: the body splits into whole rows that insert one by one
  const rows = splitRows([binary.rows], rowBinary('DateTime'))
  t.equal(rows.length, messages().length, 'split into its rows')
  const oneByOne = await createEventsTable(store, 'rb1', 'DateTime')
  for (const row of rows) await store.insert(oneByOne, [row], undefined, rowBinary('DateTime'))
  t.same(await store.query(selectAll(oneByOne)), fromBinary, 'each row alone is a valid insert')
})

t.test('chDB (DateTime64(6)): RowBinary and JSONEachRow rows read back the same', async (t) => {
  const store = await openChdb(path.join(tmp, 'chdb'))
  t.teardown(() => store.close())
  const binary = encode({ dateTime: 'DateTime64', format: 'RowBinary' })
  const json = encode({ dateTime: 'DateTime64', format: 'JSONEachRow' })
  const binaryTable = await createEventsTable(store, 'rb', 'DateTime64')
  const jsonTable = await createEventsTable(store, 'js', 'DateTime64')
  // chDB's insert API takes text formats: RowBinary goes through a file
  const file = path.join(tmp, 'events.rowbinary')
  fs.writeFileSync(file, binary.rows)
  const structure = eventColumns('DateTime64').map(([name, type]) => `\`${name}\` ${type === 'DateTime64' ? 'DateTime64(6)' : type}`).join(', ')
  const columns = insertStatement(binaryTable, rowBinary('DateTime64')).replace(/^INSERT INTO \S+ /, '').replace(/ FORMAT RowBinary$/, '')
  await store.command(`INSERT INTO ${binaryTable} ${columns} SELECT * FROM file('${file}', RowBinary, '${structure}')`)
  await store.insert(jsonTable, [json.rows], undefined, JSON_EACH_ROW)
  const fromBinary = await store.query<Record<string, unknown>>(selectAll(binaryTable))
  t.equal(fromBinary.length, messages().length)
  t.same(fromBinary, await store.query(selectAll(jsonTable)), 'identical rows')
  const short = fromBinary.find((r) => r.event === 'short')!
  t.same([short.timestamp, short.created_at, short._timestamp], ['2026-11-20 09:59:59.123000', '2026-11-20 10:00:05.000000', '2026-11-20 10:00:04.000000'], 'microsecond times')
  t.equal(splitRows([binary.rows], rowBinary('DateTime64')).length, messages().length, 'split into its rows')
})
