// "What do I scale?": a pure function from the per-stage figures of the last
// window (engine/status/sampler.ts measures them) to the stage that limits
// throughput now and what to change, with the numbers that decided it.
// Table test: test/unit/engine/status/verdict.test.ts.
//
// Where the consume loop spends its time says which stage holds it back:
//
//   consume loop:  wait for a worker slot ── fetch from Kafka ── hand the batch to a worker
//                      │ workers behind          │ Kafka behind / idle
//   pause (in-flight bytes at SLUICE_MAX_INFLIGHT_BYTES) ◄── ClickHouse inserts behind
//
// Rules, first match wins (a stage that fails outright beats one that is busy):
//   1. ClickHouse unreachable or inserts failing                 → clickhouse
//   2. consumption paused for memory: the slower of inserts and workers
//   3. workers busy ≥ 80 % of the window, or the loop waits for a worker slot ≥ 25 %  → workers
//   4. inserts take ≥ 80 % of the window                         → clickhouse
//   5. control log ≥ 1000 commands behind                         → control_log
//   6. consumer lag growing while no stage above is saturated     → kafka
//   7. otherwise keeping up                                       → none

export const STAGES = ['kafka', 'workers', 'clickhouse', 'control_log', 'none'] as const
export type Stage = (typeof STAGES)[number]

export interface StageFigures {
  window_seconds: number
  throughput: { consumed_per_second: number; inserted_events_per_second: number }
  kafka: { fetch_wait_share: number; paused_share: number; consumer_lag: number; consumer_lag_trend_per_second: number; partitions: number }
  workers: { threads: number; cores: number; busy_share: number; slot_wait_share: number }
  clickhouse: { insert_share: number; insert_errors: number; failing_since: string | null; reachable: boolean | null; max_rows_per_insert: number }
  control_log: { lag: number }
  memory: { inflight_bytes: number; max_inflight_bytes: number; share: number }
}

export interface Verdict { stage: Stage; summary: string; advice: string[]; because: string[] }

export const THRESHOLDS = {
  busy: 0.8,
  slotWait: 0.25,
  insert: 0.8,
  paused: 0.25,
  memory: 0.8,
  controlLag: 1000,
} as const

const pct = (x: number) => `${Math.round(x * 100)} %`

function clickhouseAdvice(f: StageFigures): string[] {
  return [
    'give ClickHouse more capacity (CPU, faster disks, or more shards with SLUICE_CLICKHOUSE_CLUSTER)',
    `send larger, fewer inserts: raise SLUICE_INSERT_MAX_ROWS (now ${f.clickhouse.max_rows_per_insert}) and SLUICE_INSERT_INTERVAL_MS`,
  ]
}

function workersAdvice(f: StageFigures): string[] {
  const { threads, cores } = f.workers
  // as config/schema.ts DEFAULT_WORKERS: cores − 1, but 2 on 2 cores (measured: 2 workers beat 1 there)
  const suggested = Math.max(2, Math.min(8, cores - 1))
  const advice = threads < suggested
    ? [`raise SLUICE_WORKERS from ${threads} to ${suggested} (this machine has ${cores} cores)`]
    : [`all ${cores} cores are in use by ${threads} workers: give this instance more cores, or run more instances (the input topic needs at least as many partitions as instances; it has ${f.kafka.partitions} here)`]
  return advice
}

export function decide(f: StageFigures): Verdict {
  const because: string[] = []
  const ch = f.clickhouse
  if (ch.reachable === false || ch.failing_since !== null) {
    because.push(ch.reachable === false ? 'ClickHouse does not answer SELECT 1' : `inserts failing since ${ch.failing_since}`)
    if (ch.insert_errors > 0) because.push(`${ch.insert_errors} failed insert attempts in the last ${f.window_seconds} s`)
    return {
      stage: 'clickhouse',
      summary: 'ClickHouse is not taking inserts: consumption pauses and nothing is committed until it does (nothing is lost)',
      advice: ['bring the ClickHouse server back or fix what its errors name (see the engine log and /readyz)', ...clickhouseAdvice(f)],
      because,
    }
  }
  const w = f.workers
  const pausedForMemory = f.kafka.paused_share >= THRESHOLDS.paused || f.memory.share >= THRESHOLDS.memory
  if (pausedForMemory) {
    because.push(`consumption paused ${pct(f.kafka.paused_share)} of the window; in-flight bytes at ${pct(f.memory.share)} of SLUICE_MAX_INFLIGHT_BYTES`)
    because.push(`ClickHouse inserts ${pct(ch.insert_share)} of the time, workers busy ${pct(w.busy_share)}`)
    if (ch.insert_share >= w.busy_share) {
      return { stage: 'clickhouse', summary: 'ClickHouse inserts are the slowest stage: data waits in memory for them', advice: clickhouseAdvice(f), because }
    }
    return { stage: 'workers', summary: 'the worker threads are the slowest stage: data waits in memory for them', advice: workersAdvice(f), because }
  }
  if (w.busy_share >= THRESHOLDS.busy || w.slot_wait_share >= THRESHOLDS.slotWait) {
    because.push(`${w.threads} worker thread(s) busy ${pct(w.busy_share)} of the window; the consume loop waited for a free worker ${pct(w.slot_wait_share)} of it`)
    return { stage: 'workers', summary: 'the worker threads limit throughput: the consumer has more data than they process', advice: workersAdvice(f), because }
  }
  if (ch.insert_share >= THRESHOLDS.insert) {
    because.push(`inserts took ${pct(ch.insert_share)} of the window`)
    return { stage: 'clickhouse', summary: 'ClickHouse inserts are nearly always in progress: they limit throughput', advice: clickhouseAdvice(f), because }
  }
  if (f.control_log.lag >= THRESHOLDS.controlLag) {
    because.push(`${f.control_log.lag} control-log commands not yet folded`)
    return {
      stage: 'control_log',
      summary: 'this instance is behind the control log: new tokens and settings reach it late',
      advice: ['check the broker holding the control topic and this instance\'s connection to it; a busy main thread folds slower (see the event-loop delay)'],
      because,
    }
  }
  if (f.kafka.consumer_lag > 0 && f.kafka.consumer_lag_trend_per_second > 0) {
    because.push(`consumer lag ${f.kafka.consumer_lag} messages, growing by ${f.kafka.consumer_lag_trend_per_second.toFixed(1)}/s; workers busy ${pct(w.busy_share)}, inserts ${pct(ch.insert_share)}, fetch wait ${pct(f.kafka.fetch_wait_share)}`)
    return {
      stage: 'kafka',
      summary: 'input arrives faster than this instance consumes it, while no stage inside it is saturated: the consumer (Kafka fetches and the main thread) is the limit',
      advice: [`run more instances in the consumer group and give the input topic more partitions (this instance owns ${f.kafka.partitions})`, 'check the brokers and the network between them and this instance'],
      because,
    }
  }
  because.push(`workers busy ${pct(w.busy_share)}, inserts ${pct(ch.insert_share)}, in-flight ${pct(f.memory.share)}, consumer lag ${f.kafka.consumer_lag} (trend ${f.kafka.consumer_lag_trend_per_second.toFixed(1)}/s)`)
  return { stage: 'none', summary: 'keeping up: no stage is saturated', advice: [], because }
}
