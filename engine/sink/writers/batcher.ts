// Collects encoded rows from worker answers into large inserts, one per table,
// flushed by rows, bytes or age (Vector's sink: batching separate from
// transport): the age is shorter while the consumer keeps up with the topic
// (latency is what waiting costs then) and longer while it is behind. One
// flush is in flight at a time; while it retries, new rows wait in the next
// one and the consumer pauses on SLUICE_MAX_INFLIGHT_BYTES.
//
// A flush is acknowledged only when every table's insert succeeded; then its
// offset segments are handed back for committing. A retried insert sends the
// same bytes again (retry.ts decides what a failure means). Rows ClickHouse
// rejects (bad data) are isolated by bisection and dead-lettered one by one,
// with their table, the error and their source coordinates, instead of
// stalling the stream; the rest is inserted.
//
// Inserts are shaped for the server: a table partitioned by month never gets
// one insert touching more partitions than max_partitions_per_insert_block
// (read from the server or configured); such a flush is split by partition
// (a backfill over 10 years becomes 2 inserts, not a rejection). Only those
// flushes parse their rows (row-format.ts rowPartition); the workers report
// each task's partitions.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { ContributionTimes } from '../../dispatch/lag'
import type { Metrics } from '../../metrics'
import type { Segment } from '../../source/offsets'
import { retrying } from '../../retrying'
import { classifyStoreError, type StoreErrorClass } from '../transport/retry'
import { JSON_EACH_ROW, rowAsJson, rowPartition, splitRows, type InsertFormat } from '../format/row-format'
import type { ClickHouseStore } from '../transport/store'

/** Where a row came from, for its dead letter: its message's Kafka coordinates, or the batch's offset ranges for derived rows. */
export type RowSource = Readonly<Record<string, string | number>>

export interface TableRows {
  table: string
  chunk: Uint8Array
  rows: number
  /** JSONEachRow unless told */
  format?: InsertFormat
  /** the source of the chunk's row `i` (0-based), for the dead letter of a rejected row */
  sourceOf?: (row: number) => RowSource
  /** distinct partitions (YYYYMM) of the rows, for a table PARTITION BY toYYYYMM(timestamp); absent: not partitioned */
  partitions?: readonly number[]
}

/** An insert's body: chunks of rows, with where each chunk's rows came from. */
interface Rows { chunks: Uint8Array[]; sources: ((row: number) => RowSource)[]; rows: number }

const NO_SOURCE = (): RowSource => ({})

export interface Contribution {
  tables: readonly TableRows[]
  segments: readonly Segment[]
  /** consumed bytes this contribution accounts for, released on acknowledgement */
  consumedBytes: number
  messages: number
  /** consumption time and Kafka timestamps, for the lag histograms at acknowledgement (engine/dispatch/lag.ts) */
  times?: ContributionTimes
  /** called once its rows are acknowledged and nothing reads them any more (their memory is reused) */
  release?: () => void
}

export interface AckedFlush {
  segments: Segment[]
  consumedBytes: number
  messages: number
  times: ContributionTimes[]
}

interface PendingTable extends Rows { bytes: number; format: InsertFormat; partitions: Set<number> | undefined }

interface FlushUnit {
  tables: Map<string, PendingTable>
  segments: Segment[]
  consumedBytes: number
  messages: number
  rows: number
  bytes: number
  firstAt: number
  times: ContributionTimes[]
  releases: (() => void)[]
}

export interface BatcherOptions {
  maxRows: number
  maxBytes: number
  intervalMs: number
  /** while `keepingUp()`: how long an insert waits instead of `intervalMs`, when shorter (SLUICE_INSERT_IDLE_MS) */
  idleMs?: number
  /** the consumer has read everything its partitions held: more rows are not coming sooner by waiting */
  keepingUp?: () => boolean
  /** while `behind()`: how long an insert may wait to fill up instead of `intervalMs` (SLUICE_INSERT_CATCH_UP_MS) */
  catchUpMs?: number
  /** the consumer is behind: latency is lost anyway, and larger inserts drain the backlog for less */
  behind?: () => boolean
  /** send insert_deduplication_token (the server understands it) */
  dedupTokens?: boolean
  /** most partitions one insert may touch (the server's max_partitions_per_insert_block); 0: no limit */
  maxPartitionsPerInsert?: number
}

/** Rows grouped by partition, packed into blocks of at most `limit` partitions each (in partition order). */
export function blocksByPartition(keys: readonly number[], limit: number): number[][] {
  const byKey = new Map<number, number[]>()
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    let list = byKey.get(k)
    if (!list) byKey.set(k, (list = []))
    list.push(i)
  }
  const blocks: number[][] = []
  let block: number[] = []
  let inBlock = 0
  for (const k of [...byKey.keys()].sort((a, b) => a - b)) {
    if (inBlock === limit) { blocks.push(block); block = []; inBlock = 0 }
    for (const i of byKey.get(k)!) block.push(i)
    inBlock++
  }
  if (block.length > 0) blocks.push(block)
  return blocks
}

/** Same rows, same token: a retried insert that had in fact landed is not stored twice. */
export function dedupToken(table: string, chunks: readonly Uint8Array[]): string {
  const h = createHash('sha256').update(table)
  for (const c of chunks) h.update(c)
  return h.digest('base64url')
}

const emptyUnit = (): FlushUnit => ({ tables: new Map(), segments: [], consumedBytes: 0, messages: 0, rows: 0, bytes: 0, firstAt: 0, times: [], releases: [] })

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
    private readonly onRejectedRow: (table: string, row: Uint8Array, error: string, source: RowSource) => Promise<void>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  add(c: Contribution): void {
    const u = this.current
    if (u.messages === 0 && u.segments.length === 0) u.firstAt = Date.now()
    for (const t of c.tables) {
      if (t.rows === 0) continue
      let p = u.tables.get(t.table)
      if (!p) u.tables.set(t.table, (p = { chunks: [], sources: [], rows: 0, bytes: 0, format: t.format ?? JSON_EACH_ROW, partitions: t.partitions ? new Set() : undefined }))
      p.chunks.push(t.chunk)
      p.sources.push(t.sourceOf ?? NO_SOURCE)
      if (t.partitions) for (const k of t.partitions) p.partitions?.add(k)
      p.rows += t.rows
      p.bytes += t.chunk.byteLength
      u.rows += t.rows
      u.bytes += t.chunk.byteLength
    }
    for (const s of c.segments) u.segments.push(s)
    u.consumedBytes += c.consumedBytes
    u.messages += c.messages
    if (c.times) u.times.push(c.times)
    if (c.release) u.releases.push(c.release)
    this.schedule()
  }

  private schedule(): void {
    if (this.inFlight || this.stopped) return
    const u = this.current
    if (u.segments.length === 0 && u.rows === 0) return
    const full = u.rows >= this.opts.maxRows || u.bytes >= this.opts.maxBytes
    const age = Date.now() - u.firstAt
    const interval = this.opts.intervalMs
    const idle = this.opts.idleMs !== undefined && this.opts.idleMs > 0 && this.opts.idleMs < interval ? this.opts.idleMs : interval
    // keeping up: the rows this insert would gain by waiting are few, and the latency is all it would add
    // behind: wait longer to fill the insert, checking again every interval (once caught up, the next check flushes)
    const wait = age >= idle && idle < interval && this.opts.keepingUp?.() === true ? idle
      : this.opts.catchUpMs !== undefined && this.opts.catchUpMs > interval && age >= interval && this.opts.behind?.() === true ? this.opts.catchUpMs
        : interval
    if (full || age >= wait) {
      this.startFlush()
    } else if (!this.timer) {
      const next = age < idle ? idle - age : age < interval ? interval - age : Math.min(wait - age, interval)
      this.timer = setTimeout(() => { this.timer = undefined; this.schedule() }, next)
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
    await Promise.all([...unit.tables].map(([table, p]) => this.insertShaped(table, p)))
    this.onAcked({ segments: unit.segments, consumedBytes: unit.consumedBytes, messages: unit.messages, times: unit.times })
    for (const release of unit.releases) release()
  }

  /** One insert per table, or one per block of partitions when the flush spans more than the server takes in one insert. */
  private async insertShaped(table: string, p: PendingTable): Promise<void> {
    const limit = this.opts.maxPartitionsPerInsert ?? 0
    if (limit === 0 || p.partitions === undefined || p.partitions.size <= limit) return this.insertTable(table, p.format, p)
    const rows = explode(p, p.format)
    const blocks = blocksByPartition(rows.chunks.map((r) => rowPartition(r, p.format)), limit)
    this.log.info({ table, rows: rows.rows, partitions: p.partitions.size, inserts: blocks.length, limit }, 'flush spans more partitions than one insert may; split by partition')
    for (const block of blocks) await this.insertTable(table, p.format, pick(rows, block))
  }

  /** Inserts until acknowledged; a rejected (or too widely partitioned) insert is bisected down to the rows responsible. */
  private async insertTable(table: string, format: InsertFormat, body: Rows): Promise<void> {
    const { chunks, rows } = body
    const token = this.opts.dedupTokens ? dedupToken(table, chunks) : undefined
    let kind: StoreErrorClass = 'transient'
    try {
      await retrying(async () => {
        const started = process.hrtime.bigint()
        await this.store.insert(table, chunks, token, format)
        this.metrics.insertDuration.observe({ table }, Number(process.hrtime.bigint() - started) / 1e9)
      }, {
        log: this.log, what: 'insert', fields: { table, rows },
        retriable: (err) => (kind = classifyStoreError(err)) === 'transient',
        onFailure: () => {
          this.metrics.insertErrors.inc({ table, retriable: 'true' })
          if (this.failingSince === 0) this.failingSince = Date.now()
        },
      })
    } catch (err) {
      this.metrics.insertErrors.inc({ table, retriable: 'false' })
      await this.isolate(table, format, body, err as Error, kind as Exclude<StoreErrorClass, 'transient'>)
      return
    }
    this.metrics.insertRows.observe(rows)
    this.metrics.eventsInserted.inc({ table }, rows)
    this.failingSince = 0
  }

  private async isolate(table: string, format: InsertFormat, body: Rows, err: Error, kind: Exclude<StoreErrorClass, 'transient'>): Promise<void> {
    const one = explode(body, format)
    if (one.rows <= 1) {
      // one row is one partition: a lone row refused either way is the data's fault. The dead letter is readable whatever the format.
      if (one.rows === 1) await this.onRejectedRow(table, rowAsJson(one.chunks[0], format), err.message, one.sources[0](0))
      return
    }
    this.log.warn({ table, rows: one.rows, err: err.message }, kind === 'split'
      ? 'insert touches too many partitions; splitting it'
      : 'insert rejected as bad data; isolating the rejected rows')
    const mid = one.rows >> 1
    const all = one.chunks.map((_, i) => i)
    await this.insertTable(table, format, pick(one, all.slice(0, mid)))
    await this.insertTable(table, format, pick(one, all.slice(mid)))
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

/** The body as one chunk per row, each with its own source. */
function explode(body: Rows, format: InsertFormat): Rows {
  if (body.chunks.length === body.rows) return body
  const chunks: Uint8Array[] = []
  const sources: ((row: number) => RowSource)[] = []
  for (let c = 0; c < body.chunks.length; c++) {
    const of = body.sources[c] ?? NO_SOURCE
    const lines = splitRows([body.chunks[c]], format)
    for (let i = 0; i < lines.length; i++) {
      chunks.push(lines[i])
      sources.push(() => of(i))
    }
  }
  return { chunks, sources, rows: chunks.length }
}

/** The rows at `indexes` of a body of one row per chunk. */
function pick(one: Rows, indexes: readonly number[]): Rows {
  return { chunks: indexes.map((i) => one.chunks[i]), sources: indexes.map((i) => one.sources[i]), rows: indexes.length }
}
