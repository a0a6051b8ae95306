// Load on the capture port with autocannon, while ingestion runs: the mock
// Kafka cluster (a child process), a private clickhouse-server and Sluice as
// its own process (as an operator runs it). For each scenario it reports the
// accepted events/s, latency percentiles, and whether ingestion committed
// every accepted event afterwards (and how long that took).
//
//   npm run bench:capture -- [--duration 15] [--connections 64] [--batch 50]
//
// Scenarios: one event per request (posthog-js style, JSON); batches of N as
// posthog-node sends them ({api_key, batch, sent_at}), plain and gzipped.
// Event bodies come from bench/generate.ts (~1 KB, realistic properties) and
// are built before the run so that autocannon spends no time on them.
// On a 2-core machine autocannon, the engine, its worker and ClickHouse share
// the cores: the figures are for the whole box, not for the endpoint alone.
import zlib from 'node:zlib'
import { parseArgs } from 'node:util'
import { startMockKafkaCluster } from '../engine/embedded/mock-kafka'
import { startClickHouseServer } from '../test/harness/clickhouse-server'
import { baseEnv, startEngineProcess, type EngineProcess } from '../test/harness/engine-process'
import { messageGenerator } from './generate'

interface Histogram { average: number; p50: number; p97_5: number; p99: number }
interface AutocannonResult { requests: Histogram; latency: Histogram; duration: number; '2xx': number; non2xx: number; errors: number; timeouts: number }
interface AutocannonRequest { method: string; path: string; headers?: Record<string, string>; setupRequest?: (req: Record<string, unknown>) => Record<string, unknown> }
// autocannon ships no types
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: {
  url: string; connections: number; duration: number; pipelining?: number; requests: AutocannonRequest[]
}) => Promise<AutocannonResult>

interface Scenario { name: string; eventsPerRequest: number; path: string; headers: Record<string, string>; bodies: (string | Buffer)[] }

function events(token: string, seed: number): () => Record<string, unknown> {
  const next = messageGenerator({ tokens: [token], seed })
  return () => JSON.parse(JSON.parse(next()).data) as Record<string, unknown>
}

function scenarios(token: string, batch: number): Scenario[] {
  const nextEvent = events(token, 7)
  const singles = Array.from({ length: 2000 }, () => JSON.stringify({ ...nextEvent(), api_key: token }))
  const batches = Array.from({ length: 200 }, () => JSON.stringify({ api_key: token, batch: Array.from({ length: batch }, nextEvent), sent_at: new Date().toISOString() }))
  return [
    { name: 'single event, JSON (/e/)', eventsPerRequest: 1, path: '/e/', headers: { 'content-type': 'application/json' }, bodies: singles },
    { name: `batch of ${batch}, JSON (/batch/)`, eventsPerRequest: batch, path: '/batch/', headers: { 'content-type': 'application/json' }, bodies: batches },
    { name: `batch of ${batch}, gzip (/batch/)`, eventsPerRequest: batch, path: '/batch/', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, bodies: batches.map((b) => zlib.gzipSync(b)) },
  ]
}

async function run(engine: EngineProcess, s: Scenario, connections: number, duration: number): Promise<AutocannonResult> {
  let i = 0
  return autocannon({
    url: engine.captureUrl,
    connections,
    duration,
    requests: [{ method: 'POST', path: s.path, headers: s.headers, setupRequest: (req) => ({ ...req, body: s.bodies[i++ % s.bodies.length] }) }],
  })
}

/**
 * Waits until ingestion committed `target` messages, or made no progress for
 * 5 s (the mock cluster keeps only the newest 5 MiB per partition: a backlog
 * beyond that is lost to the consumer, ../shared/INFRA.md).
 */
async function drained(engine: EngineProcess, target: number): Promise<{ seconds: number; committed: number }> {
  const start = Date.now()
  let last = -1
  let lastChange = start
  for (;;) {
    const committed = await engine.metric('sluice_offsets_committed_messages_total')
    if (committed >= target) return { seconds: (Date.now() - start) / 1000, committed }
    if (committed !== last) { last = committed; lastChange = Date.now() }
    if (Date.now() - lastChange > 5_000) return { seconds: (lastChange - start) / 1000, committed }
    await new Promise((r) => setTimeout(r, 250))
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    duration: { type: 'string', default: '15' }, connections: { type: 'string', default: '64' }, batch: { type: 'string', default: '50' },
    only: { type: 'string' },
  } })
  const duration = Number(values.duration)
  const connections = Number(values.connections)
  const batch = Number(values.batch)

  const kafka = await startMockKafkaCluster()
  const ch = await startClickHouseServer()
  let engine: EngineProcess | undefined
  try {
    engine = await startEngineProcess(baseEnv({
      SLUICE_KAFKA_BROKERS: kafka.bootstrapServers,
      SLUICE_CLICKHOUSE_URL: ch.url,
      SLUICE_CLICKHOUSE_DATABASE: 'sluice_bench_capture',
      SLUICE_INSERT_INTERVAL_MS: '500',
    }))
    const created = await engine.api('POST', '/api/projects', { name: 'Capture bench' })
    const token: string = created.body.environments[0].api_token
    const all = scenarios(token, batch).filter((_, i) => !values.only || values.only.split(',').includes(['single', 'batch', 'gzip'][i]))
    process.stdout.write(`capture bench: ${connections} connections, ${duration} s per scenario, ClickHouse ${ch.url}, Kafka ${kafka.bootstrapServers}\n`)

    await run(engine, { ...all[0], name: 'warm-up' }, connections, 3)
    await drained(engine, await engine.metric('sluice_capture_events_total'))
    const rows: string[][] = []
    for (const s of all) {
      // every scenario starts with ingestion caught up, so committed counts only this scenario's events
      const accepted0 = await engine.metric('sluice_capture_events_total')
      const committed0 = await engine.metric('sluice_offsets_committed_messages_total')
      const r = await run(engine, s, connections, duration)
      const accepted = (await engine.metric('sluice_capture_events_total')) - accepted0
      const committedDuring = (await engine.metric('sluice_offsets_committed_messages_total')) - committed0
      const drain = await drained(engine, committed0 + accepted)
      const lost = committed0 + accepted - drain.committed
      rows.push([
        s.name,
        (r['2xx'] / r.duration).toFixed(0),
        (accepted / r.duration).toFixed(0),
        r.latency.p50.toFixed(1), r.latency.p97_5.toFixed(1), r.latency.p99.toFixed(1),
        String(r.non2xx + r.errors + r.timeouts),
        (committedDuring / r.duration).toFixed(0),
        lost <= 0 ? `all, +${drain.seconds.toFixed(1)} s` : `${lost} of ${accepted} lost to the mock's 5 MiB/partition retention`,
      ])
      process.stdout.write(`  done: ${s.name}\n`)
    }
    const header = ['scenario', 'requests/s', 'events/s accepted', 'p50 ms', 'p97.5 ms', 'p99 ms', 'errors', 'events/s ingested meanwhile', 'ingested after the run']
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
    const line = (cells: string[]) => '| ' + cells.map((x, c) => (c === 0 || c === 8 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join(' | ') + ' |'
    process.stdout.write(['', line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line), ''].join('\n') + '\n')
  } finally {
    await engine?.stop('SIGTERM')
    await ch.destroy()
    await kafka.stop()
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
