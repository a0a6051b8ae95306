// The two reference pipelines of the end-to-end benchmark, each run as its own
// process (forked by bench/end-to-end.bench.ts, which reads its CPU time and
// memory from /proc), to show what Sluice's processing costs against:
//
//  raw     pass-through, no processing: message bytes inserted as they are
//          into a table with one String column. One Kafka consumer per
//          listed partition; the benchmark starts one process per partition
//          (like 4 × `kcat | clickhouse-client`). Rows travel as RowBinary
//          (a varint length, then the bytes: nothing to escape) to a server,
//          as escaped TabSeparated to chDB (which takes text formats only).
//          Batching like Sluice's defaults: an insert per 50,000 rows or
//          500 ms, the next batch filling while one insert is in flight.
//  parse   the straightforward consumer: one consumer for all partitions,
//          single-threaded; JSON.parse of each message and of its `data`, a
//          row object per event, inserted with @clickhouse/client's
//          insert() (JSONEachRow) in batches of up to 10,000 messages or
//          500 ms, one at a time: consume, parse, insert, commit, repeat.
//
// Both read from offset 0 of an assigned partition (no group join), commit
// after ClickHouse acknowledged, and report progress over the IPC channel:
//   → parent  {type:'ready'} {type:'progress', consumed, inserted} {type:'error', message}
//   ← parent  {type:'stop'}  (exit 0 after in-flight inserts finish)
//
//   node dist/bench/reference-pipeline.js '<JSON ReferenceOptions>'
import { Readable } from 'node:stream'
import Kafka from 'node-rdkafka'
import { createClient, type ClickHouseClient } from '@clickhouse/client'

export type ReferenceKind = 'raw' | 'parse'

export interface ReferenceOptions {
  kind: ReferenceKind
  brokers: string
  topic: string
  group: string
  partitions: number[]
  clickhouse: { kind: 'server'; url: string } | { kind: 'chdb'; dir: string }
  /** database.table */
  table: string
}

export type ReferenceMessage =
  | { type: 'ready' }
  | { type: 'progress'; consumed: number; inserted: number }
  | { type: 'error'; message: string }

/** DDL of each reference's table (18.16 and current ClickHouse). */
export function referenceTableSql(kind: ReferenceKind, table: string): string {
  return kind === 'raw'
    ? `CREATE TABLE IF NOT EXISTS ${table} (raw String) ENGINE = MergeTree ORDER BY tuple()`
    : `CREATE TABLE IF NOT EXISTS ${table} (
  uuid UUID, event String, properties String, timestamp DateTime, token String, distinct_id String, created_at DateTime
) ENGINE = MergeTree PARTITION BY toYYYYMM(timestamp) ORDER BY (token, toDate(timestamp), event, cityHash64(distinct_id))`
}

interface Sink {
  command(sql: string): Promise<void>
  /** raw rows as bytes in the sink's format */
  insertRaw(table: string, rows: Buffer): Promise<void>
  /** row objects, JSONEachRow */
  insertObjects(table: string, rows: Record<string, unknown>[]): Promise<void>
  readonly rawFormat: 'RowBinary' | 'TabSeparated'
}

async function openSink(o: ReferenceOptions['clickhouse']): Promise<Sink> {
  if (o.kind === 'server') {
    const client: ClickHouseClient = createClient({ url: o.url, compression: { request: false, response: false }, request_timeout: 120_000 })
    return {
      rawFormat: 'RowBinary',
      command: async (sql) => { await client.command({ query: sql }) },
      async insertRaw(table, rows) {
        const res = await client.exec({ query: `INSERT INTO ${table} FORMAT RowBinary`, values: Readable.from([rows]) })
        for await (const _ of res.stream) { /* drain */ }
      },
      async insertObjects(table, rows) {
        await client.insert({ table, values: rows, format: 'JSONEachRow' })
      },
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const chdb = require('chdb') as import('../engine/sink/transport/chdb').ChdbModule
  const session = new chdb.Session(o.dir)
  return {
    rawFormat: 'TabSeparated',
    command: async (sql) => { await session.queryAsync(sql) },
    async insertRaw(table, rows) {
      await session.insert({ table, values: rows, format: 'TabSeparated' })
    },
    async insertObjects(table, rows) {
      // what @clickhouse/client's insert() does with objects: one JSON.stringify per row
      let body = ''
      for (const r of rows) body += JSON.stringify(r) + '\n'
      await session.insert({ table, values: Buffer.from(body), format: 'JSONEachRow' })
    },
  }
}

function consumer(o: ReferenceOptions, partitions: number[]): Promise<Kafka.KafkaConsumer> {
  const c = new Kafka.KafkaConsumer({
    'bootstrap.servers': o.brokers,
    'group.id': o.group,
    'client.id': `sluice-bench-${o.kind}`,
    'enable.auto.commit': false,
    // the same tuning as Sluice's consumer: librdkafka ≥ 2.2 otherwise idles 1 s whenever its queue fills
    'fetch.queue.backoff.ms': 10,
    'queued.max.messages.kbytes': 65_536,
    // as Sluice's: the mock broker answers a waiting fetch only when this expires, not when data arrives
    'fetch.wait.max.ms': 50,
    // consume(n) otherwise waits for n messages (or a 100 ms gap): with EOF it returns what is there once caught up
    'enable.partition.eof': true,
  }, { 'auto.offset.reset': 'earliest' })
  return new Promise((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => {
    if (err) return reject(err)
    c.setDefaultConsumeTimeout(100)
    c.assign(partitions.map((partition) => ({ topic: o.topic, partition, offset: 0 })))
    resolve(c)
  }))
}

const take = (c: Kafka.KafkaConsumer, n: number) => new Promise<Kafka.Message[]>((resolve, reject) => c.consume(n, (err, m) => (err ? reject(err) : resolve(m))))

let running = true
let consumed = 0
let inserted = 0

/** RowBinary String: unsigned LEB128 length, then the bytes. */
function rowBinary(values: Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes + values.length * 5)
  let pos = 0
  for (const v of values) {
    let n = v.length
    do {
      let b = n & 0x7f
      n >>>= 7
      if (n !== 0) b |= 0x80
      out[pos++] = b
    } while (n !== 0)
    pos += v.copy(out, pos)
  }
  return out.subarray(0, pos)
}

/** TabSeparated String: escape backslash, tab and newline; one row per line. */
function tabSeparated(values: Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes * 2 + values.length)
  let pos = 0
  for (const v of values) {
    for (let i = 0; i < v.length; i++) {
      const b = v[i]
      if (b === 0x5c) { out[pos++] = 0x5c; out[pos++] = 0x5c } else if (b === 0x09) { out[pos++] = 0x5c; out[pos++] = 0x74 } else if (b === 0x0a) { out[pos++] = 0x5c; out[pos++] = 0x6e } else out[pos++] = b
    }
    out[pos++] = 0x0a
  }
  return out.subarray(0, pos)
}

const MAX_ROWS = 50_000
const MAX_AGE_MS = 500

/** One partition's raw lane: consume, accumulate, insert (one in flight), commit after the ack. */
async function rawLane(o: ReferenceOptions, sink: Sink, c: Kafka.KafkaConsumer, partition: number): Promise<void> {
  let values: Buffer[] = []
  let bytes = 0
  let firstAt = 0
  let lastOffset = -1
  let inFlight: Promise<void> | undefined
  const flush = () => {
    const batch = values
    const encoded = sink.rawFormat === 'RowBinary' ? rowBinary(batch, bytes) : tabSeparated(batch, bytes)
    const commitTo = lastOffset + 1
    values = []
    bytes = 0
    inFlight = sink.insertRaw(o.table, encoded).then(() => {
      inserted += batch.length
      c.commit([{ topic: o.topic, partition, offset: commitTo }])
      inFlight = undefined
    })
  }
  try {
    while (running || values.length > 0 || inFlight) {
      if (running) {
        const messages = await take(c, 2000)
        for (const m of messages) {
          if (values.length === 0) firstAt = Date.now()
          values.push(m.value!)
          bytes += m.value!.length
          lastOffset = m.offset
        }
        consumed += messages.length
      } else if (inFlight) {
        await inFlight
      }
      if (values.length > 0 && !inFlight && (values.length >= MAX_ROWS || Date.now() - firstAt >= MAX_AGE_MS || !running)) flush()
      // backpressure: a full batch waits for the insert in flight
      if (inFlight && values.length >= MAX_ROWS) await inFlight
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()))
  }
}

/** ClickHouse DateTime text from an ISO 8601 string (18.16 parses no ISO). */
function chTime(v: unknown, fallbackMs: number): string {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN
  return new Date(Number.isNaN(ms) ? fallbackMs : ms).toISOString().slice(0, 19).replace('T', ' ')
}

/** The straightforward consumer: consume → parse → insert → commit, one batch at a time. */
async function parseLoop(o: ReferenceOptions, sink: Sink, c: Kafka.KafkaConsumer): Promise<void> {
  try {
    while (running) {
      const batch: Kafka.Message[] = []
      const started = Date.now()
      while (running && batch.length < 10_000 && Date.now() - started < MAX_AGE_MS) {
        const messages = await take(c, 1000)
        for (const m of messages) batch.push(m)
        consumed += messages.length
      }
      if (batch.length === 0) continue
      const now = Date.now()
      const createdAt = chTime(undefined, now)
      const rows: Record<string, unknown>[] = []
      const next = new Map<number, number>()
      for (const m of batch) {
        next.set(m.partition, m.offset + 1)
        try {
          const outer = JSON.parse(m.value!.toString('utf8'))
          const data = JSON.parse(outer.data)
          rows.push({
            uuid: outer.uuid ?? data.uuid,
            event: String(data.event),
            properties: JSON.stringify(data.properties ?? {}),
            timestamp: chTime(data.timestamp ?? outer.now, now),
            token: String(outer.token ?? data.token ?? ''),
            distinct_id: String(outer.distinct_id ?? data.distinct_id ?? ''),
            created_at: createdAt,
          })
        } catch {
          // a reference pipeline skips what it cannot parse
        }
      }
      await sink.insertObjects(o.table, rows)
      inserted += rows.length
      c.commit([...next].map(([partition, offset]) => ({ topic: o.topic, partition, offset })))
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()))
  }
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]) as ReferenceOptions
  const send = (m: ReferenceMessage) => process.send?.(m)
  const sink = await openSink(o.clickhouse)
  if (o.table.includes('.')) await sink.command(`CREATE DATABASE IF NOT EXISTS ${o.table.split('.')[0]}`)
  await sink.command(referenceTableSql(o.kind, o.table))
  process.on('message', (m: { type?: string }) => { if (m?.type === 'stop') running = false })
  let reported = -1
  const progress = setInterval(() => {
    if (consumed + inserted !== reported) {
      reported = consumed + inserted
      send({ type: 'progress', consumed, inserted })
    }
  }, 20)
  const consumers = o.kind === 'raw'
    ? await Promise.all(o.partitions.map((p) => consumer(o, [p])))
    : [await consumer(o, o.partitions)]
  send({ type: 'ready' })
  const lanes = o.kind === 'raw' ? o.partitions.map((p, i) => rawLane(o, sink, consumers[i], p)) : [parseLoop(o, sink, consumers[0])]
  await Promise.all(lanes)
  clearInterval(progress)
  send({ type: 'progress', consumed, inserted })
}

if (require.main === module) {
  main().then(() => process.exit(0), (err) => {
    process.send?.({ type: 'error', message: (err as Error).stack ?? String(err) })
    process.stderr.write(`reference pipeline failed: ${(err as Error).stack ?? err}\n`)
    process.exit(1)
  })
}
