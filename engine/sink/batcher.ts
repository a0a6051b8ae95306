// Collects encoded rows from worker answers into large inserts, one per table,
// flushed by rows, bytes or age (Vector's sink: batching separate from
// transport). One flush is in flight at a time; while it retries, new rows
// wait in the next one and the consumer pauses on SLUICE_MAX_INFLIGHT_BYTES.
//
// A flush is acknowledged only when every table's insert succeeded; then its
// offset segments are handed back for committing. A retried insert sends the
// same bytes again. Rows ClickHouse rejects permanently (bad data) are
// isolated by bisection and reported one by one instead of stalling the stream.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { ContributionTimes } from '../dispatch/lag'
import type { Metrics } from '../metrics'
import type { Segment } from '../source/offsets'
import { backoffMs, isRetriable } from './retry'
import { JSON_EACH_ROW, rowAsJson, splitRows, type InsertFormat } from './row-format'
import type { ClickHouseStore } from './store'

export interface TableRows {
  table: string
  chunk: Uint8Array
  rows: number
  /** JSONEachRow unless told */
  format?: InsertFormat
}

export interface Contribution {
  tables: readonly TableRows[]
  segments: readonly Segment[]
  /** consumed bytes this contribution accounts for, released on acknowledgement */
  consumedBytes: number
  messages: number
  /** consumption time and Kafka timestamps, for the lag histograms at acknowledgement (engine/dispatch/lag.ts) */
  times?: ContributionTimes
}

export interface AckedFlush {
  segments: Segment[]
  consumedBytes: number
  messages: number
  times: ContributionTimes[]
}

interface PendingTable { chunks: Uint8Array[]; rows: number; bytes: number; format: InsertFormat }

interface FlushUnit {
  tables: Map<string, PendingTable>
  segments: Segment[]
  consumedBytes: number
  messages: number
  rows: number
  bytes: number
  firstAt: number
  times: ContributionTimes[]
}

export interface BatcherOptions {
  maxRows: number
  maxBytes: number
  intervalMs: number
  /** send insert_deduplication_token (the server understands it) */
  dedupTokens?: boolean
}

/** Same rows, same token: a retried insert that had in fact landed is not stored twice. */
export function dedupToken(table: string, chunks: readonly Uint8Array[]): string {
  const h = createHash('sha256').update(table)
  for (const c of chunks) h.update(c)
  return h.digest('base64url')
}

const emptyUnit = (): FlushUnit => ({ tables: new Map(), segments: [], consumedBytes: 0, messages: 0, rows: 0, bytes: 0, firstAt: 0, times: [] })

export class InsertBatcher {
  private current = emptyUnit()
  private inFlight: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** consecutive failed attempts of the flush in flight (for health) */
  failingSince = 0

  constructor(
    private readonly store: ClickHouseStore,
    private readonly opts: BatcherOptions,
    private readonly onAcked: (flush: AckedFlush) => void,
    private readonly onRejectedRow: (table: string, row: Uint8Array, error: string) => Promise<void>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  add(c: Contribution): void {
    const u = this.current
    if (u.messages === 0 && u.segments.length === 0) u.firstAt = Date.now()
    for (const t of c.tables) {
      if (t.rows === 0) continue
      let p = u.tables.get(t.table)
      if (!p) u.tables.set(t.table, (p = { chunks: [], rows: 0, bytes: 0, format: t.format ?? JSON_EACH_ROW }))
      p.chunks.push(t.chunk)
      p.rows += t.rows
      p.bytes += t.chunk.byteLength
      u.rows += t.rows
      u.bytes += t.chunk.byteLength
    }
    for (const s of c.segments) u.segments.push(s)
    u.consumedBytes += c.consumedBytes
    u.messages += c.messages
    if (c.times) u.times.push(c.times)
    this.schedule()
  }

  private schedule(): void {
    if (this.inFlight || this.stopped) return
    const u = this.current
    if (u.segments.length === 0 && u.rows === 0) return
    const full = u.rows >= this.opts.maxRows || u.bytes >= this.opts.maxBytes
    const age = Date.now() - u.firstAt
    if (full || age >= this.opts.intervalMs) {
      this.startFlush()
    } else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = undefined; this.schedule() }, this.opts.intervalMs - age)
    }
  }

  private startFlush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined }
    const unit = this.current
    this.current = emptyUnit()
    this.inFlight = this.flush(unit).finally(() => {
      this.inFlight = undefined
      this.schedule()
    })
  }

  private async flush(unit: FlushUnit): Promise<void> {
    await Promise.all([...unit.tables].map(([table, p]) => this.insertTable(table, p.format, p.chunks, p.rows)))
    this.onAcked({ segments: unit.segments, consumedBytes: unit.consumedBytes, messages: unit.messages, times: unit.times })
  }

  /** Inserts until acknowledged; permanent rejections are bisected down to single rows. */
  private async insertTable(table: string, format: InsertFormat, chunks: Uint8Array[], rows: number): Promise<void> {
    const token = this.opts.dedupTokens ? dedupToken(table, chunks) : undefined
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint()
      try {
        await this.store.insert(table, chunks, token, format)
        this.metrics.insertDuration.observe({ table }, Number(process.hrtime.bigint() - started) / 1e9)
        this.metrics.insertRows.observe(rows)
        this.metrics.eventsInserted.inc({ table }, rows)
        if (attempt > 0) this.log.info({ table, rows, attempts: attempt + 1 }, 'insert succeeded after retries')
        this.failingSince = 0
        return
      } catch (err) {
        const retriable = isRetriable(err)
        this.metrics.insertErrors.inc({ table, retriable: String(retriable) })
        if (!retriable) {
          await this.isolateRejected(table, format, chunks, rows, err as Error)
          return
        }
        if (this.failingSince === 0) this.failingSince = Date.now()
        const wait = backoffMs(attempt)
        this.log.error({ table, rows, attempt: attempt + 1, retryInMs: wait, err: (err as Error).message }, 'insert failed, retrying')
        await new Promise((r) => setTimeout(r, wait))
      }
    }
  }

  private async isolateRejected(table: string, format: InsertFormat, chunks: Uint8Array[], rows: number, err: Error): Promise<void> {
    const lines = splitRows(chunks, format)
    if (lines.length <= 1) {
      // the dead letter is readable whatever the insert format
      if (lines.length === 1) await this.onRejectedRow(table, rowAsJson(lines[0], format), err.message)
      return
    }
    this.log.warn({ table, rows, err: err.message }, 'insert rejected as bad data; isolating the rejected rows')
    const mid = lines.length >> 1
    await this.insertTable(table, format, lines.slice(0, mid), mid)
    await this.insertTable(table, format, lines.slice(mid), lines.length - mid)
  }

  /** Flushes everything pending (shutdown); resolves when acknowledged. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.inFlight) { await this.inFlight; continue }
      if (this.current.segments.length === 0 && this.current.rows === 0) return
      this.startFlush()
    }
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
  }
}
