// engine/status/verdict.ts: which stage limits throughput, for a table of
// figures (one row per rule, plus the precedence between them).
import t from 'tap'
import { decide, type StageFigures } from '../../../../engine/status/verdict'

function figures(over: { [K in keyof StageFigures]?: Partial<StageFigures[K]> } = {}): StageFigures {
  const base: StageFigures = {
    window_seconds: 60,
    throughput: { consumed_per_second: 1000, inserted_events_per_second: 1000 },
    kafka: { fetch_wait_share: 0.6, paused_share: 0, consumer_lag: 0, consumer_lag_trend_per_second: 0, partitions: 4 },
    workers: { threads: 2, cores: 2, busy_share: 0.3, slot_wait_share: 0 },
    clickhouse: { insert_share: 0.1, insert_errors: 0, failing_since: null, reachable: true, max_rows_per_insert: 50000 },
    control_log: { lag: 0 },
    memory: { inflight_bytes: 0, max_inflight_bytes: 268435456, share: 0 },
  }
  const out = { ...base } as Record<string, unknown>
  for (const [k, v] of Object.entries(over)) out[k] = typeof v === 'object' ? { ...(base as unknown as Record<string, object>)[k], ...v } : v
  return out as unknown as StageFigures
}

const CASES: { name: string; f: StageFigures; stage: string; advice?: RegExp }[] = [
  { name: 'idle: nothing limits', f: figures(), stage: 'none' },
  { name: 'ClickHouse unreachable', f: figures({ clickhouse: { reachable: false } }), stage: 'clickhouse', advice: /bring the ClickHouse server back/ },
  { name: 'inserts failing', f: figures({ clickhouse: { failing_since: '2026-12-01T00:00:00.000Z', insert_errors: 4 } }), stage: 'clickhouse' },
  { name: 'failing ClickHouse wins over busy workers', f: figures({ clickhouse: { reachable: false }, workers: { busy_share: 0.99 } }), stage: 'clickhouse' },
  { name: 'paused for memory, inserts slower than workers', f: figures({ kafka: { paused_share: 0.6 }, clickhouse: { insert_share: 0.7 }, workers: { busy_share: 0.4 } }), stage: 'clickhouse', advice: /SLUICE_INSERT_MAX_ROWS \(now 50000\)/ },
  { name: 'paused for memory, workers slower than inserts', f: figures({ memory: { share: 0.95 }, clickhouse: { insert_share: 0.2 }, workers: { busy_share: 0.7 } }), stage: 'workers' },
  { name: 'workers busy', f: figures({ workers: { busy_share: 0.85 } }), stage: 'workers', advice: /more cores, or run more instances/ },
  { name: 'the loop waits for a worker slot', f: figures({ workers: { threads: 1, busy_share: 0.5, slot_wait_share: 0.4 } }), stage: 'workers', advice: /raise SLUICE_WORKERS from 1 to 2/ },
  { name: 'inserts nearly always running', f: figures({ clickhouse: { insert_share: 0.9 } }), stage: 'clickhouse' },
  { name: 'control log behind', f: figures({ control_log: { lag: 5000 } }), stage: 'control_log' },
  { name: 'lag growing with no saturated stage', f: figures({ kafka: { consumer_lag: 90000, consumer_lag_trend_per_second: 1500 } }), stage: 'kafka', advice: /more instances .* more partitions/ },
  { name: 'lag shrinking is catching up, not a limit', f: figures({ kafka: { consumer_lag: 90000, consumer_lag_trend_per_second: -800 } }), stage: 'none' },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const v = decide(c.f)
    t.equal(v.stage, c.stage)
    t.ok(v.summary.length > 0 && v.because.length > 0, 'says what and why')
    if (c.advice) t.match(v.advice.join(' | '), c.advice)
  })
}
