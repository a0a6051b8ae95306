// Ingestion warnings into `ingestion_warnings` (DESIGN §4 step 10),
// rate-limited per environment, type and key (PostHog writes about one per
// hour for the same type and key): every warning is counted in metrics, only
// the first of each window becomes a row.
import { lruOf } from './lru'
import type { WarningRecord } from '../../../workers/protocol'
import { formatDateTime, monthOf } from '../../../workers/clickhouse-types'
import type { Metrics } from '../../metrics'
import type { TableRows } from './batcher'
import { jsonText } from '../../../workers/well-formed'
import type { Schema } from '../format/schema'

export class WarningsWriter {
  private readonly lastWritten = lruOf<string, number>(100_000)

  constructor(private readonly schema: Schema, private readonly intervalMs: number, private readonly metrics: Metrics) {}

  rows(records: readonly WarningRecord[], nowMs: number): TableRows[] {
    let text = ''
    let rows = 0
    const timestamp = formatDateTime(nowMs, this.schema.dateTime)
    for (const [team_id, type, details, key] of records) {
      this.metrics.warnings.inc({ type })
      const k = `${team_id}\u0000${type}\u0000${key}`
      const last = this.lastWritten.get(k)
      if (last !== undefined && nowMs - last < this.intervalMs) {
        this.metrics.warningsSuppressed.inc({ type })
        continue
      }
      this.lastWritten.set(k, nowMs)
      text += jsonText({ team_id, source: 'sluice', type, details, timestamp }) + '\n'
      rows++
    }
    // every row is stamped now: one partition
    return rows > 0 ? [{ table: this.schema.tables.warnings, chunk: Buffer.from(text), rows, partitions: [monthOf(nowMs)] }] : []
  }
}
