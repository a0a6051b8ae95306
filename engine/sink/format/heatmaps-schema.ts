// DDL of `heatmaps` (issue 15 rule 2): PostHog's columns (its
// posthog/heatmaps/sql.py: session_id, team_id, distinct_id, timestamp, x,
// y, scale_factor, viewport_width, viewport_height, pointer_target_fixed,
// current_url, type), per environment (team_id). Differences, for ClickHouse
// 18.16: `pointer_target_fixed` is UInt8 (no Bool there) and `type` a plain
// String (no LowCardinality). ReplacingMergeTree over every column, unlike
// PostHog's MergeTree, so that a redelivered batch collapses (DESIGN §6).
import type { DateTimeFlavor } from '../../../workers/protocol'

export function heatmapsTableStatement(database: string, flavor: DateTimeFlavor): string {
  const dt = flavor === 'DateTime64' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"
  return `CREATE TABLE IF NOT EXISTS ${database}.heatmaps (
  session_id String,
  team_id Int64,
  distinct_id String,
  timestamp ${dt},
  x Int16,
  y Int16,
  scale_factor Int16,
  viewport_width Int16,
  viewport_height Int16,
  pointer_target_fixed UInt8,
  current_url String,
  type String,
  _timestamp ${dt}
) ENGINE = ReplacingMergeTree(_timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), type, current_url, session_id, distinct_id, timestamp, x, y, viewport_width, viewport_height, pointer_target_fixed)`
}
