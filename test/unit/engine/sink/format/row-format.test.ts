// engine/sink/format/row-format.ts rowAsJson: a RowBinary row that ClickHouse
// rejects is dead-lettered as a readable JSON line; decoded, the worker's
// RowBinary rows say what its JSONEachRow rows say, in both time flavors.
import t from 'tap'
import { foldAll } from '../../../../../engine/control/fold'
import { buildSnapshot } from '../../../../../engine/control/snapshot'
import { rowAsJson, splitRows, JSON_EACH_ROW } from '../../../../../engine/sink/format/row-format'
import { eventColumns } from '../../../../../workers/clickhouse-types'
import { processBatch, threadDefinitions } from '../../../../../workers/index'
import type { DateTimeFlavor } from '../../../../../workers/protocol'
import { taskOf } from '../../../../harness/tasks'

const CAPTURED = '2026-11-20T10:00:00.000Z'
const NOW_MS = Date.parse('2026-11-20T10:00:05.250Z')
const { state } = foldAll([
  { type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: 'phc_shop' },
  { type: 'claim_group_type', request_id: 'r2', at: CAPTURED, project_id: 1, group_type: 'organization' },
])
const SNAPSHOT = buildSnapshot(state, 1)

const MESSAGES = [
  { event: '$pageview', properties: { url: 'https://example.com', n: 1.5 }, timestamp: '2026-11-20T09:59:59.123Z' },
  { event: 'café ☕', properties: { $groups: { organization: 'org:5' }, long: 'é'.repeat(3000) } },
].map((data, i) => JSON.stringify({
  uuid: `0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5${i}`, distinct_id: `ünï ${i}`, ip: '203.0.113.7', now: CAPTURED, token: 'phc_shop', data: JSON.stringify(data),
}))

function rows(dateTime: DateTimeFlavor, format: 'RowBinary' | 'JSONEachRow'): Uint8Array {
  threadDefinitions.forget()
  const task = taskOf(MESSAGES, { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: NOW_MS - 1000, firstOffset: 2 ** 40 })
  return Buffer.from(processBatch(task, { dateTime, format }).rows.bytes())
}

for (const flavor of ['DateTime', 'DateTime64'] as const) {
  t.test(`${flavor}: a RowBinary row decodes to the fields of the JSONEachRow row`, async (t) => {
    const format = { kind: 'RowBinary', columns: eventColumns(flavor) } as const
    const decoded = splitRows([rows(flavor, 'RowBinary')], format).map((r) => JSON.parse(Buffer.from(rowAsJson(r, format)).toString()) as Record<string, unknown>)
    const json = splitRows([rows(flavor, 'JSONEachRow')], JSON_EACH_ROW).map((r) => JSON.parse(Buffer.from(r).toString()) as Record<string, unknown>)
    // JSONEachRow leaves out empty group columns and an empty elements_chain (their default is '')
    const filled = json.map((r) => ({ ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`$group_${i}`, ''])), elements_chain: '', ...r }))
    t.equal(decoded.length, 2)
    t.same(decoded, filled)
    t.equal(decoded[1].$group_0, 'org:5')
    t.equal(decoded[0]._offset, 2 ** 40)
  })
}

t.test('a JSONEachRow row is dead-lettered as it is', async (t) => {
  const row = Buffer.from('{"a":1}\n')
  t.equal(rowAsJson(row, JSON_EACH_ROW), row)
})

t.test('person rows in RowBinary (a ClickHouse server): split by their columns and readable as a dead letter, UInt8 flags included', async (t) => {
  const { personColumns } = await import('../../../../../engine/sink/format/person-schema')
  const { RowWriter } = await import('../../../../../workers/row-writer')
  const format = { kind: 'RowBinary', columns: personColumns('DateTime') } as const
  const w = new RowWriter(64)
  for (const [id, identified, props] of [['0f0e5a8c-6b5d-5e3a-9a1f-000000000001', 1, '{"plan":"pro"}'], ['0f0e5a8c-6b5d-5e3a-9a1f-000000000002', 0, '{}']] as const) {
    w.uuid(id); w.int64(7); w.string(props); w.uint8(identified); w.uint32(Date.parse(CAPTURED) / 1000); w.int64(1764550000123); w.uint8(0); w.uint32(NOW_MS / 1000)
  }
  const rows = splitRows([w.bytes()], format).map((r) => JSON.parse(Buffer.from(rowAsJson(r, format)).toString()) as Record<string, unknown>)
  t.same(rows, [
    { id: '0f0e5a8c-6b5d-5e3a-9a1f-000000000001', team_id: 7, properties: '{"plan":"pro"}', is_identified: 1, created_at: '2026-11-20 10:00:00', version: 1764550000123, is_deleted: 0, _timestamp: '2026-11-20 10:00:05' },
    { id: '0f0e5a8c-6b5d-5e3a-9a1f-000000000002', team_id: 7, properties: '{}', is_identified: 0, created_at: '2026-11-20 10:00:00', version: 1764550000123, is_deleted: 0, _timestamp: '2026-11-20 10:00:05' },
  ])
})

t.test('eventRowProperties: the properties text of a worker\'s row, either format (what persons read their automatic values from)', async (t) => {
  const { eventRowProperties } = await import('../../../../../engine/sink/format/row-format')
  for (const format of ['RowBinary', 'JSONEachRow'] as const) {
    const bytes = rows('DateTime', format)
    const insert = format === 'RowBinary' ? { kind: 'RowBinary', columns: eventColumns('DateTime') } as const : JSON_EACH_ROW
    const all = splitRows([bytes], insert)
    let at = 0
    const texts = all.map((row) => { const s = eventRowProperties(bytes, at, at + row.length, insert); at += row.length; return JSON.parse(s) as Record<string, unknown> })
    t.equal(texts[0].url, 'https://example.com', `${format}: the first row's properties`)
    t.equal(texts[1].long, 'é'.repeat(3000), `${format}: a long multi-byte value (a two-byte length)`)
  }
})
