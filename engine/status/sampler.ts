// Samples the engine's own counters every second and keeps the last window
// (SLUICE_STATUS_WINDOW_SECONDS, a minute by default), so that GET /api/status
// answers "which stage limits throughput now" from differences over that
// window (engine/status/verdict.ts decides), and /metrics carries the same
// verdict as sluice_bottleneck{stage}. Nothing here is per event: a sample is
// a handful of reads of prom-client values and the consume loop's wait totals.
import os from 'node:os'
import type { Metrics } from '../metrics'
import { decide, STAGES, type StageFigures, type Verdict } from './verdict'

export interface StatusSources {
  metrics: Metrics
  consumer: { readonly waits: { slotMs: number; fetchMs: number; pausedMs: number }; readonly assigned: number[] }
  batcher: { readonly failingSince: number }
  /** rejects or times out when ClickHouse does not answer */
  probeClickHouse: () => Promise<void>
  eventsTable: string
  threads: number
  maxInflightBytes: number
  maxRowsPerInsert: number
  windowSeconds: number
}

interface Sample {
  at: number
  slotMs: number; fetchMs: number; pausedMs: number
  workerSeconds: number; insertSeconds: number; insertErrors: number
  consumed: number; inserted: number
  lag: number; inflight: number; controlLag: number
}

export interface StatusReport extends Verdict {
  figures: StageFigures
  sampled_at: string
}

const SAMPLE_MS = 1000
const PROBE_EVERY = 5
const PROBE_TIMEOUT_MS = 2000

type Collectable = { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[] }> }

async function total(m: Collectable, filter: (v: { labels: Partial<Record<string, string | number>>; metricName?: string }) => boolean = () => true): Promise<number> {
  let sum = 0
  for (const v of (await m.get()).values) if (filter(v)) sum += v.value
  return sum
}

const clamp = (x: number) => Math.max(0, Math.min(1, Number.isFinite(x) ? x : 0))

export class StatusSampler {
  private readonly samples: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private ticks = 0
  private reachable: boolean | null = null
  private last: StatusReport | undefined
  private readonly cores = os.availableParallelism()

  constructor(private readonly s: StatusSources) {}

  start(): void {
    void this.tick()
    this.timer = setInterval(() => void this.tick(), SAMPLE_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  /** The verdict over the window as of the last sample. */
  report(): StatusReport {
    return this.last ?? this.compute()
  }

  private async tick(): Promise<void> {
    if (this.ticks++ % PROBE_EVERY === 0) void this.probe()
    this.samples.push(await this.sample())
    const keepFrom = Date.now() - this.s.windowSeconds * 1000 - SAMPLE_MS
    while (this.samples.length > 2 && this.samples[0].at < keepFrom) this.samples.shift()
    this.last = this.compute()
    for (const stage of STAGES) this.s.metrics.bottleneck.set({ stage }, stage === this.last.stage ? 1 : 0)
    const f = this.last.figures
    this.s.metrics.stageUtilisation.set({ stage: 'workers' }, f.workers.busy_share)
    this.s.metrics.stageUtilisation.set({ stage: 'clickhouse' }, f.clickhouse.insert_share)
    this.s.metrics.stageUtilisation.set({ stage: 'kafka' }, f.kafka.fetch_wait_share)
    this.s.metrics.stageUtilisation.set({ stage: 'memory' }, f.memory.share)
  }

  private async probe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.s.probeClickHouse(),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS) }),
      ])
      this.reachable = true
    } catch {
      this.reachable = false
    } finally {
      clearTimeout(timer)
    }
  }

  private async sample(): Promise<Sample> {
    const m = this.s.metrics
    const w = this.s.consumer.waits
    return {
      at: Date.now(),
      slotMs: w.slotMs, fetchMs: w.fetchMs, pausedMs: w.pausedMs,
      workerSeconds: await total(m.workerTaskDuration, (v) => v.metricName === 'sluice_worker_task_seconds_sum'),
      insertSeconds: await total(m.insertDuration, (v) => v.metricName === 'sluice_insert_duration_seconds_sum'),
      insertErrors: await total(m.insertErrors),
      consumed: await total(m.messagesConsumed),
      inserted: await total(m.eventsInserted, (v) => v.labels.table === this.s.eventsTable),
      lag: await total(m.consumerLag),
      inflight: await total(m.inflightBytes),
      controlLag: await total(m.controlLag),
    }
  }

  private compute(): StatusReport {
    const now = Date.now()
    const newest = this.samples[this.samples.length - 1]
    const from = this.samples.find((x) => x.at >= now - this.s.windowSeconds * 1000 - SAMPLE_MS / 2) ?? this.samples[0]
    const a = from ?? newest
    const b = newest ?? a
    const seconds = a && b && b.at > a.at ? (b.at - a.at) / 1000 : 0
    const d = (k: keyof Sample) => (a && b ? b[k] - a[k] : 0)
    const per = (x: number) => (seconds > 0 ? x / seconds : 0)
    const threads = this.s.threads
    const failing = this.s.batcher.failingSince
    const figures: StageFigures = {
      window_seconds: Math.round(seconds),
      throughput: { consumed_per_second: Math.round(per(d('consumed'))), inserted_events_per_second: Math.round(per(d('inserted'))) },
      kafka: {
        fetch_wait_share: clamp(per(d('fetchMs') / 1000)),
        paused_share: clamp(per(d('pausedMs') / 1000)),
        consumer_lag: b?.lag ?? 0,
        consumer_lag_trend_per_second: Math.round(per(d('lag')) * 10) / 10,
        partitions: this.s.consumer.assigned.length,
      },
      workers: { threads, cores: this.cores, busy_share: clamp(per(d('workerSeconds')) / threads), slot_wait_share: clamp(per(d('slotMs') / 1000)) },
      clickhouse: {
        insert_share: clamp(per(d('insertSeconds'))),
        insert_errors: d('insertErrors'),
        failing_since: failing !== 0 ? new Date(failing).toISOString() : null,
        reachable: this.reachable,
        max_rows_per_insert: this.s.maxRowsPerInsert,
      },
      control_log: { lag: b?.controlLag ?? 0 },
      memory: { inflight_bytes: b?.inflight ?? 0, max_inflight_bytes: this.s.maxInflightBytes, share: clamp((b?.inflight ?? 0) / this.s.maxInflightBytes) },
    }
    for (const k of ['fetch_wait_share', 'paused_share'] as const) figures.kafka[k] = Math.round(figures.kafka[k] * 1000) / 1000
    figures.workers.busy_share = Math.round(figures.workers.busy_share * 1000) / 1000
    figures.workers.slot_wait_share = Math.round(figures.workers.slot_wait_share * 1000) / 1000
    figures.clickhouse.insert_share = Math.round(figures.clickhouse.insert_share * 1000) / 1000
    figures.memory.share = Math.round(figures.memory.share * 1000) / 1000
    return { ...decide(figures), figures, sampled_at: new Date(b?.at ?? now).toISOString() }
  }
}
