// Heatmap points from the workers (workers/steps/extract-heatmaps.ts) → rows
// of `heatmaps` (engine/sink/format/heatmaps-schema.ts), JSONEachRow, split
// by month as the table is partitioned by toYYYYMM(timestamp).
import type { HeatmapRecord } from '../../../workers/protocol'
import { formatDateTime, monthOf } from '../../../workers/clickhouse-types'
import { jsonText } from '../../../workers/well-formed'
import type { TableRows } from './batcher'
import type { Schema } from '../format/schema'

export class HeatmapsWriter {
  constructor(private readonly schema: Schema) {}

  rows(records: readonly HeatmapRecord[], nowMs: number): TableRows[] {
    if (records.length === 0) return []
    const flavor = this.schema.dateTime
    const now = formatDateTime(nowMs, flavor)
    const months = new Set<number>()
    let text = ''
    for (const [team_id, session_id, distinct_id, ms, x, y, scale_factor, viewport_width, viewport_height, fixed, current_url, type] of records) {
      months.add(monthOf(ms))
      text += jsonText({
        session_id, team_id, distinct_id, timestamp: formatDateTime(ms, flavor), x, y, scale_factor, viewport_width, viewport_height,
        pointer_target_fixed: fixed ? 1 : 0, current_url, type, _timestamp: now,
      }) + '\n'
    }
    return [{ table: this.schema.tables.heatmaps, chunk: Buffer.from(text), rows: records.length, partitions: [...months] }]
  }
}
