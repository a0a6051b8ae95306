// engine/sink/writers/heatmaps.ts: worker heatmap records → rows of
// `heatmaps` with PostHog's columns, partitioned by month.
import t from 'tap'
import { HeatmapsWriter } from '../../../../../engine/sink/writers/heatmaps'
import type { Schema } from '../../../../../engine/sink/format/schema'
import { heatmapsTableStatement } from '../../../../../engine/sink/format/heatmaps-schema'

const schema = { dateTime: 'DateTime', tables: { heatmaps: 'db.heatmaps' } } as unknown as Schema

t.test('writes one row per point, with PostHog\'s columns, and names the months', async (t) => {
  const [out] = new HeatmapsWriter(schema).rows([
    [2, 'S1', 'user-1', Date.parse('2025-03-04T05:06:00Z'), 6, 3, 16, 80, 50, true, 'https://a.test/x', 'click'],
    [2, 'S1', 'user-1', Date.parse('2025-02-28T23:59:59Z'), 0, 56, 16, 80, 50, false, 'https://a.test/old', 'scrolldepth'],
  ], Date.parse('2025-03-04T05:10:00Z'))
  t.equal(out.table, 'db.heatmaps')
  t.equal(out.rows, 2)
  t.same(out.partitions, [202503, 202502])
  t.same(Buffer.from(out.chunk).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l)), [
    { session_id: 'S1', team_id: 2, distinct_id: 'user-1', timestamp: '2025-03-04 05:06:00', x: 6, y: 3, scale_factor: 16, viewport_width: 80, viewport_height: 50, pointer_target_fixed: 1, current_url: 'https://a.test/x', type: 'click', _timestamp: '2025-03-04 05:10:00' },
    { session_id: 'S1', team_id: 2, distinct_id: 'user-1', timestamp: '2025-02-28 23:59:59', x: 0, y: 56, scale_factor: 16, viewport_width: 80, viewport_height: 50, pointer_target_fixed: 0, current_url: 'https://a.test/old', type: 'scrolldepth', _timestamp: '2025-03-04 05:10:00' },
  ])
})

t.test('no records, no insert', async (t) => {
  t.same(new HeatmapsWriter(schema).rows([], 0), [])
})

t.test('the table has PostHog\'s columns, with 18.16 types when asked', async (t) => {
  const sql = heatmapsTableStatement('db', 'DateTime')
  for (const c of ['session_id String', 'team_id Int64', 'distinct_id String', "timestamp DateTime('UTC')", 'x Int16', 'y Int16', 'scale_factor Int16', 'viewport_width Int16', 'viewport_height Int16', 'pointer_target_fixed UInt8', 'current_url String', 'type String']) t.match(sql, c)
  t.match(heatmapsTableStatement('db', 'DateTime64'), "timestamp DateTime64(6, 'UTC')")
})
