// Micro-benchmark of the worker hot path, one thread, no Kafka, no ClickHouse:
// what one worker task costs per event (workers/index.ts processBatch: decode,
// parse, the steps of DESIGN §4, row encoding; plus encodeTaskOutput, the
// answer's msgpack header and row bytes), against the floor any parsing
// consumer pays: UTF-8 decode and JSON.parse of the message and of its `data`.
//
//   npm run bench:parse -- [--messages 20000] [--batch 2000] [--seconds 5]
//                          [--flavor DateTime|DateTime64] [--format RowBinary|JSONEachRow]
//                          [--json PATH] [--only floor|worker|task] [--persons]
//   --persons: the worker with person processing on (its intents in the answer), as the engine runs by default
//   node --cpu-prof --cpu-prof-dir=prof dist/bench/parse.bench.js --only worker   (then: node dist/bench/profile.js prof)
//
// Messages come from bench/generate.ts for bench/projects.ts's environments,
// whose group types are already claimed: the steady state of a running
// engine, where the worker's taxonomy de-duplication hides what it reported
// before (the first pass, which reports everything, is the warm-up).
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { foldAll } from '../engine/control/fold'
import { buildSnapshot } from '../engine/control/snapshot'
import { RowWriter } from '../workers/row-writer'
import { processBatch, threadDefinitions } from '../workers/index'
import { IntentWriter } from '../workers/intent-codec'
import { encodeTaskOutput, META_END, META_STRIDE, type DateTimeFlavor, type RowEncoding, type RowFormat, type TaskInput } from '../workers/protocol'
import { messageGenerator } from './generate'
import { benchTasks as tasks } from './tasks'
import { benchCommands, BENCH_TOKENS } from './projects'

interface Scenario { name: string; run: (task: TaskInput) => number }
export interface ScenarioResult { name: string; eventsPerSecond: number; megabytesPerSecond: number; microsecondsPerEvent: number }

/** Runs `scenario` over the tasks round-robin for `seconds` (after one warm-up pass); events per second. */
function measure(scenario: Scenario, all: TaskInput[], seconds: number, bytesPerEvent: number): ScenarioResult {
  for (const t of all) scenario.run(t)
  let events = 0
  const start = performance.now()
  let i = 0
  while (performance.now() - start < seconds * 1000) {
    events += scenario.run(all[i++ % all.length])
  }
  const elapsed = (performance.now() - start) / 1000
  const eventsPerSecond = events / elapsed
  return { name: scenario.name, eventsPerSecond, megabytesPerSecond: (eventsPerSecond * bytesPerEvent) / 1e6, microsecondsPerEvent: 1e6 / eventsPerSecond }
}

function main(): void {
  const { values } = parseArgs({ options: {
    messages: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    flavor: { type: 'string', default: 'DateTime' },
    format: { type: 'string', default: 'RowBinary' },
    json: { type: 'string' },
    only: { type: 'string' },
    persons: { type: 'boolean', default: false },
  } })
  const flavor = values.flavor as DateTimeFlavor
  if (flavor !== 'DateTime' && flavor !== 'DateTime64') throw new Error('--flavor must be DateTime (ClickHouse 18.16) or DateTime64')
  const format = values.format as RowFormat
  if (format !== 'RowBinary' && format !== 'JSONEachRow') throw new Error('--format must be RowBinary (a ClickHouse server) or JSONEachRow (chDB)')
  const enc: RowEncoding = { dateTime: flavor, format, persons: values.persons! }
  const { state, outcomes } = foldAll(benchCommands())
  const failed = outcomes.find((o) => !o.ok)
  if (failed) throw new Error(`bench projects did not fold: ${JSON.stringify(failed)}`)
  const snapshot = buildSnapshot(state, 1)
  const next = messageGenerator({ tokens: [...BENCH_TOKENS] })
  const messages = Array.from({ length: Number(values.messages) }, next)
  const bytesPerEvent = messages.reduce((n, m) => n + Buffer.byteLength(m), 0) / messages.length
  const all = tasks(messages, Number(values.batch), snapshot)
  const seconds = Number(values.seconds)

  const scratch = new RowWriter(4 << 20)
  const intentScratch = new IntentWriter(1 << 20) // the thread's reused writers, as runTask has them
  // the result must be used, or the optimizer may drop the work
  let sink = 0
  const scenarios: Scenario[] = [
    {
      name: 'floor: UTF-8 decode + JSON.parse of the message and its data',
      run(task) {
        const buf = Buffer.from(task.values)
        const count = task.meta.length / META_STRIDE
        let start = 0
        for (let i = 0; i < count; i++) {
          const end = task.meta[i * META_STRIDE + META_END]
          const outer = JSON.parse(buf.toString('utf8', start, end))
          sink += JSON.parse(outer.data).event.length
          start = end
        }
        return count
      },
    },
    {
      name: 'worker: processBatch (parse, steps, row encoding)',
      run(task) {
        const { header, rows } = processBatch(task, enc)
        sink += rows.pos
        return header.messages
      },
    },
    {
      name: 'task: processBatch + encodeTaskOutput',
      run(task) {
        // as workers/index.ts runTask: one reused writer, the answer copied out at its size
        const { header, rows } = processBatch(task, enc, scratch, threadDefinitions, intentScratch)
        sink += encodeTaskOutput(header, rows).byteLength
        return header.messages
      },
    },
  ]
  // a check that the worker really ingests these messages: every one becomes a row
  const probe = processBatch(all[0], enc).header
  if (probe.eventRows !== probe.messages) throw new Error(`only ${probe.eventRows} of ${probe.messages} messages became rows: ${JSON.stringify({ drops: probe.drops, deadLetters: probe.deadLetters.slice(0, 3), unresolved: probe.unresolved.length, pending: probe.pendingClaims.indexes.length })}`)

  process.stdout.write(`parse bench: ${messages.length} messages (${bytesPerEvent.toFixed(0)} bytes on average) in tasks of ${values.batch}, ${seconds} s per scenario, ${flavor}, ${format}, persons ${enc.persons ? 'on' : 'off'}, one thread\n\n`)
  const chosen = values.only ? scenarios.filter((s) => s.name.startsWith(values.only + ':') || s.name.startsWith(values.only + ' ')) : scenarios
  if (chosen.length === 0) throw new Error('--only must be floor, worker or task')
  const results = chosen.map((s) => measure(s, all, seconds, bytesPerEvent))
  const floor = results[0].eventsPerSecond
  const header = ['scenario', 'events/s', 'MB/s', 'µs/event', `× ${chosen[0] === scenarios[0] ? 'floor' : 'first'}`]
  const rows = results.map((r) => [r.name, Math.round(r.eventsPerSecond).toLocaleString('en-US'), r.megabytesPerSecond.toFixed(1), r.microsecondsPerEvent.toFixed(2), (r.eventsPerSecond / floor).toFixed(2)])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
  const line = (cells: string[]) => '| ' + cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join(' | ') + ' |'
  process.stdout.write([line(header), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n') + '\n')
  if (sink === -1) process.stdout.write('\n')
  if (values.json) {
    const file = path.resolve(values.json)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, JSON.stringify({ when: new Date().toISOString(), node: process.version, messages: messages.length, batch: Number(values.batch), flavor, format, bytesPerEvent, results }, null, 2) + '\n')
  }
}

main()
