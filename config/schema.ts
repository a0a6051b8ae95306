// Every configuration variable Sluice reads: its type, default, documentation
// and check, side by side. `loadConfig` reads them once, validates and freezes;
// `config/CONFIGURATION.md` is generated from this table (npm run docs:config)
// and a test fails when it is stale.
import os from 'node:os'
import { SluiceError } from '../engine/errors'

export type VarType = 'string' | 'integer' | 'url' | 'host' | 'boolean'

export interface VarSpec {
  readonly name: string
  readonly type: VarType
  /** `undefined` means "unset": the meaning of unset is in `unset` */
  readonly default?: string
  readonly unset?: string
  readonly doc: string
  readonly min?: number
  readonly secret?: boolean
}

// cores − 1 leaves a core to the main thread, but at least 2: measured on 2 cores, 2 workers beat 1 by ~13 % (bench/README)
export const DEFAULT_WORKERS = Math.max(2, Math.min(8, os.availableParallelism() - 1))

export const VARIABLES: readonly VarSpec[] = [
  { name: 'SLUICE_KAFKA_BROKERS', type: 'string', unset: 'start the embedded in-memory mock Kafka cluster (dev/demo only: it dies with the process)', doc: 'Kafka bootstrap servers, comma-separated `host:port`.' },
  { name: 'SLUICE_KAFKA_TOPIC', type: 'string', default: 'events_plugin_ingestion', doc: 'Input topic of captured events.' },
  { name: 'SLUICE_KAFKA_GROUP', type: 'string', default: 'sluice-ingestion', doc: 'Consumer group of the ingestion consumer.' },
  { name: 'SLUICE_CONTROL_TOPIC', type: 'string', default: 'sluice_control', doc: 'The control log: projects, environments, tokens. Only partition 0 is used; every instance folds it from the beginning or from its newest retained snapshot. Created when missing (one partition, `retention.ms=-1`, `retention.bytes=-1`, `cleanup.policy=delete`) where the broker supports it.' },
  { name: 'SLUICE_CONTROL_REPLICATION_FACTOR', type: 'integer', unset: "the broker's `default.replication.factor`", min: 1, doc: 'Replication factor the control topic is created with (3 on a production cluster: losing it loses every project and token).' },
  { name: 'SLUICE_CONTROL_MIN_INSYNC_REPLICAS', type: 'integer', unset: "the broker's `min.insync.replicas`", min: 1, doc: '`min.insync.replicas` the control topic is created with (2 with a replication factor of 3).' },
  { name: 'SLUICE_CONTROL_SNAPSHOT_COMMANDS', type: 'integer', default: '1000', min: 1, doc: 'A snapshot of the control state is appended to the control log after this many commands…' },
  { name: 'SLUICE_CONTROL_SNAPSHOT_BYTES', type: 'integer', default: '1048576', min: 1, doc: '…or this many bytes of commands, whichever comes first (and at first start). Keep it well under the topic\'s retention so that a snapshot is always retained.' },
  { name: 'SLUICE_CONTROL_RECOVER', type: 'string', unset: 'never: an instance that finds no snapshot in the retained control log refuses to serve', doc: '`clickhouse`: when the retained control log holds no snapshot, rebuild the state from the copy materialized in ClickHouse and append it as a snapshot (an operator\'s decision: commands not yet materialized are lost). Set it on one instance, once.' },
  { name: 'SLUICE_DLQ_TOPIC', type: 'string', default: 'events_dead_letter_queue', doc: 'Dead-letter topic for messages that cannot be processed.' },
  { name: 'SLUICE_GROUPS_TOPIC', type: 'string', default: 'sluice_group_updates', doc: 'Group updates (`$groupidentify`), keyed `team_id:group_type_index:group_key` and consumed by `SLUICE_KAFKA_GROUP`, so that one instance owns each group and applies its updates in order (README, "Groups"). Created when missing with as many partitions as `SLUICE_KAFKA_TOPIC` where the broker supports it. One per deployment: two consumer groups sharing it would apply each other\'s updates.' },
  { name: 'SLUICE_CLICKHOUSE_URL', type: 'url', unset: 'embedded chDB in `SLUICE_DATA_DIR`', doc: 'ClickHouse HTTP URL, e.g. `http://user:pass@localhost:8123`.', secret: true },
  { name: 'SLUICE_CLICKHOUSE_USER', type: 'string', unset: 'the user in the URL, else `default`', doc: 'ClickHouse user (overrides the URL\'s).' },
  { name: 'SLUICE_CLICKHOUSE_PASSWORD', type: 'string', unset: 'the password in the URL, else empty', doc: 'ClickHouse password (overrides the URL\'s).', secret: true },
  { name: 'SLUICE_CLICKHOUSE_DATABASE', type: 'string', default: 'sluice', doc: 'Database of every Sluice table; created if missing.' },
  { name: 'SLUICE_CLICKHOUSE_CLUSTER', type: 'string', unset: 'a single server: local ReplacingMergeTree tables, as before', doc: 'Name of a cluster in the servers\' `remote_servers` (needs ZooKeeper or ClickHouse Keeper and the `{shard}`/`{replica}` macros on every node). The schema is created `ON CLUSTER`: `events` and `groups` as Replicated tables (`<name>_local`) behind Distributed tables sharded by `cityHash64(distinct_id)` / `cityHash64(group_key)`, every other table replicated to every node; inserts go through the Distributed tables with `insert_distributed_sync=1`; `/readyz` probes every shard and replica. README, "Running on a cluster".' },
  { name: 'SLUICE_DATA_DIR', type: 'string', default: './data', doc: 'Embedded chDB data directory (used only without `SLUICE_CLICKHOUSE_URL`).' },
  { name: 'SLUICE_CAPTURE_PORT', type: 'integer', default: '8000', min: 0, doc: 'Public event intake port (PostHog-SDK compatible: `/e`, `/capture`, `/batch`, `/i/v0/e`, `/track`). 0 picks a free port.' },
  { name: 'SLUICE_CAPTURE_HOST', type: 'host', default: '0.0.0.0', doc: 'Interface the capture port listens on (all interfaces by default: SDKs in browsers and apps send to it).' },
  { name: 'SLUICE_TRUST_PROXY', type: 'boolean', default: 'false', doc: 'Take the client IP (`ip`, then `$ip`) from the first `X-Forwarded-For` entry instead of the connection: turn on only behind a proxy that sets it.' },
  { name: 'SLUICE_ADMIN_PORT', type: 'integer', default: '8001', min: 0, doc: 'Admin API, `/metrics`, `/healthz`, `/readyz`. 0 picks a free port.' },
  { name: 'SLUICE_ADMIN_HOST', type: 'host', default: '127.0.0.1', doc: 'Interface the admin port listens on. Anything but loopback requires `SLUICE_ADMIN_TOKEN`.' },
  { name: 'SLUICE_ADMIN_TOKEN', type: 'string', unset: 'a random token is generated and printed at start-up (allowed only when the admin port listens on loopback)', doc: 'Bearer token the admin API requires (at least 16 characters).', secret: true },
  { name: 'SLUICE_ADMIN_AUTH_MAX_FAILURES', type: 'integer', default: '20', min: 1, doc: 'Wrong bearer tokens one address may send to the admin port within a minute; the next request from it is refused with 429 (`SLUICE_ERR_TOO_MANY_ATTEMPTS`), counted in `sluice_admin_auth_refusals_total`.' },
  { name: 'SLUICE_ADMIN_AUTH_BLOCK_SECONDS', type: 'integer', default: '60', min: 1, doc: 'How long an address that sent too many wrong bearer tokens is refused (every request, even with a right token).' },
  { name: 'SLUICE_WORKERS', type: 'integer', default: String(DEFAULT_WORKERS), min: 1, doc: 'Worker threads of the processing pool.' },
  { name: 'SLUICE_CONSUME_BATCH', type: 'integer', default: '2000', min: 1, doc: 'Most messages taken from Kafka per consume call; one worker task carries one such batch. A call returns fewer once the consumer reaches the end of its partitions (what is ready, not a wait for more): batches are this size only while the consumer is behind.' },
  { name: 'SLUICE_INSERT_MAX_ROWS', type: 'integer', default: '50000', min: 1, doc: 'An insert is sent once it holds this many rows…' },
  { name: 'SLUICE_INSERT_MAX_BYTES', type: 'integer', default: '33554432', min: 1024, doc: '…or this many encoded bytes…' },
  { name: 'SLUICE_MAX_PARTITIONS_PER_INSERT', type: 'integer', unset: 'the server\'s `max_partitions_per_insert_block`, read at start-up (100 on current ClickHouse; none on 18.16)', min: 1, doc: 'Most month partitions one insert into `events` or `ingestion_warnings` may touch; a flush spanning more (a backfill, a device with a bad clock) is split by partition instead of being refused.' },
  { name: 'SLUICE_INSERT_INTERVAL_MS', type: 'integer', default: '500', min: 1, doc: '…or when its oldest row has waited this long.' },
  { name: 'SLUICE_INSERT_IDLE_MS', type: 'integer', default: '250', min: 0, doc: 'While the consumer keeps up with the topic (its last consume call came back short of SLUICE_CONSUME_BATCH: it had read everything its partitions held), an insert waits only this long instead of SLUICE_INSERT_INTERVAL_MS: at that load waiting adds latency and few rows, and the server has room for the extra inserts. 0 or not less than the interval: always the interval.' },
  { name: 'SLUICE_INSERT_CATCH_UP_MS', type: 'integer', default: '3000', min: 0, doc: 'While the consumer is behind (more than 25 SLUICE_CONSUME_BATCHes wait in its partitions, or consumption is paused at SLUICE_MAX_INFLIGHT_BYTES), an insert waits up to this long, instead of SLUICE_INSERT_INTERVAL_MS, for SLUICE_INSERT_MAX_ROWS or _BYTES: a backlog is written in fewer, larger inserts, which cost ClickHouse less per row to write and to merge. 0 or less than the interval: always the interval.' },
  { name: 'SLUICE_MAX_MESSAGE_BYTES', type: 'integer', default: '1048576', min: 1024, doc: 'Largest Kafka message processed; larger ones are dead-lettered (`message_too_large`).' },
  { name: 'SLUICE_MAX_BODY_BYTES', type: 'integer', default: '1048576', min: 1024, doc: 'Largest request body accepted (capture and admin API), also once a capture body is decompressed; larger → 413.' },
  { name: 'SLUICE_MAX_INFLIGHT_BYTES', type: 'integer', default: '268435456', min: 1048576, doc: 'Memory bound for consumed-but-not-inserted message bytes; consumption pauses above it.' },
  { name: 'SLUICE_WARNING_INTERVAL_SECONDS', type: 'integer', default: '3600', min: 0, doc: 'Ingestion warnings of one type (and key) for one environment are written at most once per this many seconds; all are counted in metrics.' },
  { name: 'SLUICE_STATUS_WINDOW_SECONDS', type: 'integer', default: '60', min: 2, doc: 'Window over which `GET /api/status` and `sluice_bottleneck{stage}` measure each stage\'s utilisation and name the one that limits throughput.' },
  { name: 'SLUICE_SHUTDOWN_TIMEOUT_MS', type: 'integer', default: '30000', min: 0, doc: 'Drain deadline on SIGTERM/SIGINT: stop fetching, flush, commit, exit.' },
  { name: 'SLUICE_LOG_LEVEL', type: 'string', default: 'info', doc: 'pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.' },
  { name: 'SLUICE_PERSONS', type: 'string', default: 'on', doc: 'Person processing (`on`/`off`): persons, distinct_id mappings and overrides per environment, and `person_id`, `person_properties`, `person_created_at` on events. `off` writes none of them (the columns keep their defaults).' },
  { name: 'SLUICE_PERSON_CACHE_SIZE', type: 'integer', default: '200000', min: 1000, doc: 'Distinct_id mappings, and persons, each instance keeps in memory (each a separate cache of at most this many entries: two generations, the older dropped whole when the newer holds half, so every entry used since then stays); a miss reads ClickHouse once per batch. Measured by the bench (50,000 users): 20000 instead of 200000 saved 40-50 MiB of RSS and cost a third of the throughput.' },
  { name: 'SLUICE_PERSON_OVERRIDES_POLL_MS', type: 'integer', default: '1000', min: 0, doc: 'How often each instance reads back new rows of `person_distinct_id_overrides` (merges made by other instances) and corrects its person cache. 0: never.' },
  { name: 'SLUICE_TEST_WORKER_EXIT_FILE', type: 'string', unset: 'off', doc: '**Test only; never set in production.** A file path: when the file exists, the first worker thread to remove it exits halfway through its next task, as a crashing thread would (the batch is retried, the pool replaces the thread, `sluice_worker_threads_replaced_total` counts it).' },
  { name: 'SLUICE_STOP_AFTER_EVENTS', type: 'integer', unset: 'run until stopped', min: 1, doc: 'Exit 0 once this many messages\' offsets are committed (benchmarks).' },
]

export interface Config {
  readonly kafkaBrokers: string | undefined
  readonly kafkaTopic: string
  readonly kafkaGroup: string
  readonly controlTopic: string
  readonly controlReplicationFactor: number | undefined
  readonly controlMinInsyncReplicas: number | undefined
  readonly controlSnapshotCommands: number
  readonly controlSnapshotBytes: number
  readonly controlRecover: 'clickhouse' | undefined
  readonly dlqTopic: string
  readonly groupsTopic: string
  readonly clickhouseUrl: string | undefined
  readonly clickhouseUser: string | undefined
  readonly clickhousePassword: string | undefined
  readonly clickhouseDatabase: string
  /** SLUICE_CLICKHOUSE_CLUSTER: undefined = one server */
  readonly clickhouseCluster: string | undefined
  readonly dataDir: string
  readonly capturePort: number
  readonly captureHost: string
  readonly trustProxy: boolean
  readonly adminPort: number
  /** wrong bearer tokens per address per minute before 429 */
  readonly adminAuthMaxFailures: number
  readonly adminAuthBlockMs: number
  readonly adminHost: string
  /** undefined: generated at start-up (loopback only) */
  readonly adminToken: string | undefined
  readonly workers: number
  readonly consumeBatch: number
  readonly insertMaxRows: number
  readonly insertMaxBytes: number
  readonly insertIntervalMs: number
  readonly insertIdleMs: number
  readonly insertCatchUpMs: number
  /** undefined: the server's limit */
  readonly maxPartitionsPerInsert: number | undefined
  readonly maxMessageBytes: number
  readonly maxBodyBytes: number
  readonly maxInflightBytes: number
  readonly shutdownTimeoutMs: number
  readonly statusWindowSeconds: number
  readonly warningIntervalMs: number
  readonly logLevel: string
  readonly stopAfterEvents: number | undefined
  readonly persons: boolean
  readonly personCacheSize: number
  readonly personOverridesPollMs: number
}

/** An invalid variable: the start stops with a message naming it (catalogue code SLUICE_ERR_CONFIG). */
export class ConfigError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CONFIG', message)
  }
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

function readVar(spec: VarSpec, env: NodeJS.ProcessEnv): string | number | undefined {
  const raw = env[spec.name]
  const value = raw === undefined || raw === '' ? spec.default : raw
  if (value === undefined) return undefined
  switch (spec.type) {
    case 'integer': {
      if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${spec.name} must be a non-negative integer, got ${JSON.stringify(value)}`)
      const n = Number(value)
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${spec.name} is too large`)
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${spec.name} must be at least ${spec.min}, got ${n}`)
      return n
    }
    case 'url': {
      let url: URL
      try { url = new URL(value) } catch { throw new ConfigError(`${spec.name} must be a URL such as http://localhost:8123`) }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${spec.name} must be an http:// or https:// URL`)
      return value
    }
    case 'boolean': {
      const b = value.trim().toLowerCase()
      if (b === 'true' || b === '1' || b === 'yes') return 1
      if (b === 'false' || b === '0' || b === 'no') return 0
      throw new ConfigError(`${spec.name} must be true or false, got ${JSON.stringify(value)}`)
    }
    case 'host':
    case 'string':
      return value
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** Reads, validates and freezes the configuration. Throws ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const v: Record<string, string | number | undefined> = {}
  for (const spec of VARIABLES) v[spec.name] = readVar(spec, env)
  const str = (k: string) => v[k] as string
  const int = (k: string) => v[k] as number

  const logLevel = str('SLUICE_LOG_LEVEL')
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`SLUICE_LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}`)
  const database = str('SLUICE_CLICKHOUSE_DATABASE')
  if (!IDENTIFIER.test(database)) throw new ConfigError('SLUICE_CLICKHOUSE_DATABASE must be a plain identifier (letters, digits, underscore)')
  const adminToken = v.SLUICE_ADMIN_TOKEN as string | undefined
  const adminHost = str('SLUICE_ADMIN_HOST')
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('SLUICE_ADMIN_TOKEN must be at least 16 characters')
  if (adminToken === undefined && !isLoopback(adminHost)) {
    throw new ConfigError(`SLUICE_ADMIN_TOKEN is required when the admin port listens beyond loopback (SLUICE_ADMIN_HOST=${adminHost})`)
  }
  for (const k of ['SLUICE_KAFKA_TOPIC', 'SLUICE_CONTROL_TOPIC', 'SLUICE_DLQ_TOPIC', 'SLUICE_GROUPS_TOPIC']) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(str(k))) throw new ConfigError(`${k} must be a valid Kafka topic name`)
  }
  for (const k of ['SLUICE_KAFKA_TOPIC', 'SLUICE_CONTROL_TOPIC', 'SLUICE_DLQ_TOPIC']) {
    if (str(k) === str('SLUICE_GROUPS_TOPIC')) throw new ConfigError(`SLUICE_GROUPS_TOPIC must differ from ${k}`)
  }

  const clickhouseCluster = v.SLUICE_CLICKHOUSE_CLUSTER as string | undefined
  if (clickhouseCluster !== undefined && !IDENTIFIER.test(clickhouseCluster)) throw new ConfigError('SLUICE_CLICKHOUSE_CLUSTER must be a plain identifier (letters, digits, underscore)')
  if (clickhouseCluster !== undefined && v.SLUICE_CLICKHOUSE_URL === undefined) throw new ConfigError('SLUICE_CLICKHOUSE_CLUSTER needs SLUICE_CLICKHOUSE_URL (embedded chDB is one server)')
  const controlRecover = v.SLUICE_CONTROL_RECOVER as string | undefined
  if (controlRecover !== undefined && controlRecover !== 'clickhouse') throw new ConfigError(`SLUICE_CONTROL_RECOVER must be clickhouse or unset, got ${JSON.stringify(controlRecover)}`)

  const persons = str('SLUICE_PERSONS').trim().toLowerCase()
  if (persons !== 'on' && persons !== 'off') throw new ConfigError(`SLUICE_PERSONS must be on or off, got ${JSON.stringify(persons)}`)

  return Object.freeze({
    persons: persons === 'on',
    personCacheSize: int('SLUICE_PERSON_CACHE_SIZE'),
    personOverridesPollMs: int('SLUICE_PERSON_OVERRIDES_POLL_MS'),
    kafkaBrokers: v.SLUICE_KAFKA_BROKERS as string | undefined,
    kafkaTopic: str('SLUICE_KAFKA_TOPIC'),
    kafkaGroup: str('SLUICE_KAFKA_GROUP'),
    controlTopic: str('SLUICE_CONTROL_TOPIC'),
    controlReplicationFactor: v.SLUICE_CONTROL_REPLICATION_FACTOR as number | undefined,
    controlMinInsyncReplicas: v.SLUICE_CONTROL_MIN_INSYNC_REPLICAS as number | undefined,
    controlSnapshotCommands: int('SLUICE_CONTROL_SNAPSHOT_COMMANDS'),
    controlSnapshotBytes: int('SLUICE_CONTROL_SNAPSHOT_BYTES'),
    controlRecover,
    dlqTopic: str('SLUICE_DLQ_TOPIC'),
    groupsTopic: str('SLUICE_GROUPS_TOPIC'),
    clickhouseUrl: v.SLUICE_CLICKHOUSE_URL as string | undefined,
    clickhouseUser: v.SLUICE_CLICKHOUSE_USER as string | undefined,
    clickhousePassword: v.SLUICE_CLICKHOUSE_PASSWORD as string | undefined,
    clickhouseDatabase: database,
    clickhouseCluster,
    dataDir: str('SLUICE_DATA_DIR'),
    capturePort: int('SLUICE_CAPTURE_PORT'),
    captureHost: str('SLUICE_CAPTURE_HOST'),
    trustProxy: int('SLUICE_TRUST_PROXY') === 1,
    adminPort: int('SLUICE_ADMIN_PORT'),
    adminAuthMaxFailures: int('SLUICE_ADMIN_AUTH_MAX_FAILURES'),
    adminAuthBlockMs: int('SLUICE_ADMIN_AUTH_BLOCK_SECONDS') * 1000,
    adminHost,
    adminToken,
    workers: int('SLUICE_WORKERS'),
    consumeBatch: int('SLUICE_CONSUME_BATCH'),
    insertMaxRows: int('SLUICE_INSERT_MAX_ROWS'),
    insertMaxBytes: int('SLUICE_INSERT_MAX_BYTES'),
    insertIntervalMs: int('SLUICE_INSERT_INTERVAL_MS'),
    insertIdleMs: int('SLUICE_INSERT_IDLE_MS'),
    insertCatchUpMs: int('SLUICE_INSERT_CATCH_UP_MS'),
    maxPartitionsPerInsert: v.SLUICE_MAX_PARTITIONS_PER_INSERT as number | undefined,
    maxMessageBytes: int('SLUICE_MAX_MESSAGE_BYTES'),
    maxBodyBytes: int('SLUICE_MAX_BODY_BYTES'),
    maxInflightBytes: int('SLUICE_MAX_INFLIGHT_BYTES'),
    shutdownTimeoutMs: int('SLUICE_SHUTDOWN_TIMEOUT_MS'),
    statusWindowSeconds: int('SLUICE_STATUS_WINDOW_SECONDS'),
    warningIntervalMs: int('SLUICE_WARNING_INTERVAL_SECONDS') * 1000,
    logLevel,
    stopAfterEvents: v.SLUICE_STOP_AFTER_EVENTS as number | undefined,
  })
}

/** The documentation table, generated from VARIABLES. */
export function renderConfigDocs(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- generated from config/schema.ts by `npm run docs:config`; a test fails when it is stale -->',
    '',
    'Sluice is configured by environment variables only, read once at start-up.',
    'An invalid value stops the start with a message naming the variable.',
    '',
    '| variable | meaning | default |',
    '|---|---|---|',
  ]
  for (const s of VARIABLES) {
    const def = s.name === 'SLUICE_WORKERS' ? 'cores − 1 (at least 2, at most 8)' : s.default !== undefined ? `\`${s.default}\`` : `unset → ${s.unset}`
    lines.push(`| \`${s.name}\` | ${s.doc} | ${def} |`)
  }
  return lines.join('\n') + '\n'
}
