// The two native references of the end-to-end benchmark's backlog mode: what
// a ClickHouse user would run instead of Sluice, with no processing at all.
// Both insert the capture envelope as it is (DESIGN §4: uuid, distinct_id, ip,
// site_url, now, sent_at, token and `data`, all JSON strings) into a table
// with one String column per envelope field, MergeTree ORDER BY tuple(): the
// raw pass-through's one-String-column table (bench/reference-pipeline.ts),
// split into the columns JSONEachRow fills directly.
//
//  kcat          one shell-style pipeline per partition, Debian's kcat and
//                clickhouse-client, defaults otherwise:
//                  kcat -C -b B -t T -p N -o beginning -e -q -f '%s\n' |
//                    clickhouse-client --port P --query 'INSERT INTO … FORMAT JSONEachRow'
//                kcat exits at the end of its partition (-e), so this only
//                drains a backlog. Note where the work happens:
//                clickhouse-client parses JSONEachRow itself and sends the
//                server native column blocks, so the parsing is billed to
//                the pipeline's processes, not to the ClickHouse server.
//  kafka-engine  ClickHouse's Kafka table engine (18.16: kafka_broker_list,
//                kafka_topic_list, kafka_group_name, kafka_format,
//                kafka_num_consumers) and a materialized view into the
//                MergeTree table; all its work is ClickHouse's CPU. The
//                server needs KAFKA_ENGINE_CONFIG: 18.16 leaves librdkafka's
//                auto.offset.reset at `largest`, so a new group would skip
//                the backlog ("offset reset … to END: no previously committed
//                offset available" in librdkafka's debug log).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { quoteInteger, quoteString } from '../engine/sink/format/escape'

export const ENVELOPE_COLUMNS = ['uuid', 'distinct_id', 'ip', 'site_url', 'now', 'sent_at', 'token', 'data'] as const

const columns = ENVELOPE_COLUMNS.map((c) => `${c} String`).join(', ')

/** DDL of the native references' table (18.16 and current ClickHouse). */
export function nativeTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (${columns}) ENGINE = MergeTree ORDER BY tuple()`
}

/**
 * config.d for the benchmark's ClickHouse server: the `<kafka>` section is
 * librdkafka configuration for every Kafka table (dots written as
 * underscores). fetch.wait.max.ms as every other consumer of the benchmark
 * (the mock broker answers an empty fetch only when it expires).
 */
export const KAFKA_ENGINE_CONFIG =
  '<yandex><kafka><auto_offset_reset>smallest</auto_offset_reset><fetch_wait_max_ms>50</fetch_wait_max_ms></kafka></yandex>'

export interface KafkaEngineTables {
  /** the Kafka table (a queue: reading it consumes) */
  queue: string
  view: string
  target: string
}

/** Statements that start the Kafka engine consuming into `target`: it reads only once a view is attached. */
export function kafkaEngineSql(t: KafkaEngineTables, o: { brokers: string; topic: string; group: string; consumers: number }): string[] {
  return [
    nativeTableSql(t.target),
    `CREATE TABLE IF NOT EXISTS ${t.queue} (${columns}) ENGINE = Kafka SETTINGS ` +
      `kafka_broker_list = ${quoteString(o.brokers)}, kafka_topic_list = ${quoteString(o.topic)}, kafka_group_name = ${quoteString(o.group)}, ` +
      `kafka_format = 'JSONEachRow', kafka_row_delimiter = '\\n', kafka_num_consumers = ${quoteInteger(o.consumers)}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${t.view} TO ${t.target} AS SELECT * FROM ${t.queue}`,
  ]
}

/** Drops the view first (no more reads), then the queue: its consumers close and leave the group. */
export function kafkaEngineDropSql(t: KafkaEngineTables): string[] {
  return [`DROP TABLE IF EXISTS ${t.view}`, `DROP TABLE IF EXISTS ${t.queue}`]
}

const TOOLS = [
  { binary: '/usr/bin/kcat', pkg: 'kcat' },
  { binary: '/usr/bin/clickhouse-client', pkg: 'clickhouse-client' },
]

/** Installs Debian's kcat and clickhouse-client when absent (as test/run.sh installs clickhouse-server). */
export function ensureNativeTools(log: (line: string) => void): void {
  const missing = TOOLS.filter((t) => !fs.existsSync(t.binary))
  if (missing.length === 0) return
  const pkgs = missing.map((t) => t.pkg)
  log(`installing Debian's ${pkgs.join(' and ')} (apt-get)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' })
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: 'ignore' })
  } catch (err) {
    throw new Error(`could not install ${pkgs.join(', ')} with apt-get (root needed): ${(err as Error).message}`)
  }
  for (const t of missing) if (!fs.existsSync(t.binary)) throw new Error(`${t.binary} still missing after apt-get install ${t.pkg}`)
}

export interface KcatPipeline {
  readonly partition: number
  /** kcat's and clickhouse-client's */
  pids(): number[]
  /** resolves when both exited: undefined when both succeeded, else why not */
  readonly exited: Promise<string | undefined>
  kill(): void
}

/** `kcat … -p N … | clickhouse-client … INSERT`: kcat's stdout is clickhouse-client's stdin (a pipe, no copy through this process). */
export function startKcatPipeline(o: { brokers: string; topic: string; partition: number; tcpPort: number; table: string }): KcatPipeline {
  const client = spawn('clickhouse-client', ['--host', '127.0.0.1', '--port', String(o.tcpPort), '--query', `INSERT INTO ${o.table} FORMAT JSONEachRow`],
    { stdio: ['pipe', 'ignore', 'pipe'] })
  const kcat = spawn('kcat', ['-C', '-b', o.brokers, '-t', o.topic, '-p', String(o.partition), '-o', 'beginning', '-e', '-q', '-f', '%s\n',
    '-X', 'fetch.wait.max.ms=50'], { stdio: ['ignore', client.stdin!, 'pipe'] })
  // kcat holds the pipe's write end now; ours must close, or clickhouse-client never sees the end of its input
  client.stdin!.destroy()
  const exit = (name: string, child: ChildProcess) => {
    let stderr = ''
    child.stderr!.on('data', (d) => { stderr += d })
    return new Promise<string | undefined>((resolve) => {
      child.once('error', (err) => resolve(`${name}: ${err.message}`))
      child.once('exit', (code, signal) => resolve(code === 0 ? undefined : `${name} (partition ${o.partition}) exited with ${code ?? signal}: ${stderr.slice(-2000)}`))
    })
  }
  const exited = Promise.all([exit('kcat', kcat), exit('clickhouse-client', client)]).then(([a, b]) => a ?? b)
  const kill = () => {
    for (const c of [kcat, client]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }
  process.once('exit', kill)
  void exited.then(() => process.removeListener('exit', kill))
  return {
    partition: o.partition,
    pids: () => [kcat.pid, client.pid].filter((p): p is number => p !== undefined),
    exited,
    kill,
  }
}
