// Micro-benchmark of what persons add to the main thread, one thread:
// decoding a worker's answer with its person intents (against the same answer
// without persons), and PersonStore.apply (engine/sink/writers/persons.ts:
// intents applied in order, person columns appended to every row, person rows
// built) with a warm person cache, and cold (a fresh store meeting every user
// for the first time; ClickHouse's lookup round trip included). The end-to-end bench shows that the main
// thread saturates with persons on; this one shows which part costs what,
// per event, without the noise of a shared machine's other processes.
//
//   npm run bench:persons -- [--messages 30000] [--batch 2000] [--users 1000] [--seconds 5] [--only apply|cold|warm]
//   node --cpu-prof --cpu-prof-dir=prof dist/bench/persons.bench.js   (then: node dist/bench/profile.js prof)
//
// A private clickhouse-server holds the schema (PersonStore reads a miss
// from it); the first pass over the messages fills the cache, the measured
// passes find every person there (the steady state of a running engine).
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { foldAll } from '../engine/control/fold'
import { buildSnapshot } from '../engine/control/snapshot'
import { createSchema } from '../engine/sink/format/schema'
import { connectClickHouseServer } from '../engine/sink/transport/clickhouse'
import { PersonStore } from '../engine/sink/writers/persons'
import { BufferPool } from '../engine/dispatch/buffer-pool'
import { startClickHouseServer } from '../test/harness/clickhouse-server'
import { eventColumns } from '../workers/clickhouse-types'
import { processBatch } from '../workers/index'
import { decodeTaskOutput, encodeTaskOutput, type RowEncoding } from '../workers/protocol'
import { IntentReader, readIntents } from '../workers/intent-codec'
import { messageGenerator } from './generate'
import { benchTasks } from './tasks'
import { benchCommands, BENCH_TOKENS } from './projects'

/** µs per event of `run` over the items, round-robin for `seconds`, after one warm-up pass */
async function measure<T>(items: T[], events: (x: T) => number, seconds: number, run: (x: T) => unknown): Promise<number> {
  for (const x of items) await run(x)
  let n = 0
  let i = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    const x = items[i++ % items.length]
    await run(x)
    n += events(x)
  }
  return ((performance.now() - start) * 1000) / n
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    messages: { type: 'string', default: '30000' },
    batch: { type: 'string', default: '2000' },
    users: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    only: { type: 'string' },
  } })
  const seconds = Number(values.seconds)
  const { state } = foldAll(benchCommands())
  const snapshot = buildSnapshot(state, 1)
  const next = messageGenerator({ tokens: [...BENCH_TOKENS], users: Number(values.users) })
  const messages = Array.from({ length: Number(values.messages) }, next)
  const all = benchTasks(messages, Number(values.batch), snapshot, true)

  const ch = await startClickHouseServer()
  const store = await connectClickHouseServer({ url: ch.url })
  try {
    const schema = await createSchema(store, 'persons_bench')
    const on: RowEncoding = { dateTime: schema.dateTime, format: 'RowBinary', persons: true }
    const off: RowEncoding = { dateTime: schema.dateTime, format: 'RowBinary' }
    const answersOn = all.map((t) => { const { header, rows } = processBatch(t, on); return encodeTaskOutput(header, rows) })
    const answersOff = all.map((t) => { const { header, rows } = processBatch(t, off); return encodeTaskOutput(header, rows) })
    const count = (a: ArrayBuffer) => decodeTaskOutput(a).header.eventRows
    const rowsOf = new Map(answersOn.map((a) => [a, count(a)]))
    const rowsOff = new Map(answersOff.map((a) => [a, count(a)]))

    const persons = new PersonStore(store, schema, { cacheSize: 200_000, overridesPollMs: 0 }, pino({ level: 'silent' }))
    const format = { kind: 'RowBinary', columns: eventColumns(schema.dateTime, true) } as const
    const parts = answersOn.map((a) => decodeTaskOutput(a))
    let sink = 0
    // --only apply: the person stage alone (for a profile of it)
    const decoding = values.only === undefined
    const decodeOff = decoding ? await measure(answersOff, (a) => rowsOff.get(a)!, seconds, (a) => { sink += decodeTaskOutput(a).header.eventRows }) : NaN
    const decodeOn = decoding ? await measure(answersOn, (a) => rowsOf.get(a)!, seconds, (a) => { for (const r = new IntentReader(decodeTaskOutput(a).header.intents); r.next();) sink++ }) : NaN
    // cold: a fresh store meets every user for the first time (ClickHouse has none of them: each batch's read finds nothing)
    const coldRuns: number[] = []
    // the rows' memory reused, as the engine does once a flush is acknowledged (engine/dispatch/ingest.ts)
    const rowBuffers = new BufferPool<ArrayBuffer>(2, (bytes) => new ArrayBuffer(bytes))
    const events = parts.reduce((n, p) => n + p.header.eventRows, 0)
    for (let r = 0; r < (values.only === 'warm' ? 0 : 3); r++) {
      const fresh = new PersonStore(store, schema, { cacheSize: 200_000, overridesPollMs: 0 }, pino({ level: 'silent' }))
      const start = performance.now()
      for (const p of parts) {
        const applied = await fresh.apply(fresh.turn(), [p], format, Date.now(), rowBuffers)
        sink += applied.rows.length + applied.tables.length
        rowBuffers.give(applied.memory)
      }
      coldRuns.push(((performance.now() - start) * 1000) / events)
    }
    const cold = coldRuns.sort((a, b) => a - b)[coldRuns.length >> 1] ?? NaN
    const newPersons = new Set(parts.flatMap((p) => readIntents(p.header.intents).map((i) => `${i.team}:${i.distinctId}`))).size
    const apply = values.only === 'cold' ? NaN : await measure(parts, (p) => p.header.eventRows, seconds, async (p) => {
      const applied = await persons.apply(persons.turn(), [p], format, Date.now(), rowBuffers)
      sink += applied.rows.length + applied.tables.length
      rowBuffers.give(applied.memory)
    })
    process.stdout.write(`persons bench: ${messages.length} messages, ${values.users} users per environment, tasks of ${values.batch}, ${seconds} s each, one thread, warm cache (${sink > 0 ? 'ok' : '?'})\n\n`)
    process.stdout.write([
      '| main thread, per event | µs |',
      '|---|---:|',
      `| decode a worker's answer, persons off | ${decodeOff.toFixed(2)} |`,
      `| decode a worker's answer, persons on (intents) | ${decodeOn.toFixed(2)} |`,
      `| PersonStore.apply (warm) | ${apply.toFixed(2)} |`,
      `| PersonStore.apply (cold: ${newPersons} users first seen in ${events} events, median of 3 passes) | ${cold.toFixed(2)} |`,
      `| persons' share of the main thread, per event | ${(decodeOn - decodeOff + apply).toFixed(2)} |`,
    ].join('\n') + '\n')
  } finally {
    await store.close()
    await ch.destroy()
  }
}

main().catch((err: Error) => {
  process.stderr.write(`persons bench failed: ${err.stack ?? err.message}\n`)
  process.exit(1)
})
