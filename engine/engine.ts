// Wiring only: starts the parts in dependency order and stops them in reverse.
// Each stage below is one function; what a stage starts, it registers with
// the Lifecycle, whose stop() runs the registered steps last-first.
//
//   Kafka (or the embedded mock) ─ ClickHouse (server or chDB) + schema
//   ─ control log (fold, snapshots, materializer)
//   ─ worker pool ─ ingestion ─ batcher ─ consumer + committer, group-update consumer
//   ─ admin API, capture port ─ consuming once the control state is complete
import type { Logger } from 'pino'
import type { Config } from '../config/schema'
import { ControlMaterializer } from './control/materialize'
import { ControlLog } from './control/log'
import { GraceExpiry } from './control/grace'
import { recoverFromClickHouse, reseedIfEmpty } from './control/seed'
import { Ingestion } from './dispatch/ingest'
import { observeAcknowledged } from './dispatch/lag'
import { OutcomeRecorder } from './dispatch/outcomes'
import { WorkerPool } from './dispatch/pool'
import { startMockKafkaCluster, type MockKafkaCluster } from './embedded/mock-kafka'
import { adminRoutes } from './http/admin'
import { CAPTURE_PRODUCER, startCaptureServer } from './http/capture'
import { randomToken } from './http/auth'
import { startAdminServer, type RunningServer } from './http/server'
import { liveness, readiness, type HealthSources } from './health'
import { connectProducer, controlTopicSpec, ensureTopic, topicPartitions, type AckingProducer } from './kafka'
import { SluiceError } from './errors'
import { createMetrics, type Metrics } from './metrics'
import { InsertBatcher } from './sink/writers/batcher'
import { JSON_EACH_ROW } from './sink/format/row-format'
import { eventColumns } from '../workers/clickhouse-types'
import type { RowEncoding } from '../workers/protocol'
import { DefinitionsWriter } from './sink/writers/definitions'
import { GroupWriter } from './sink/writers/groups'
import { GROUP_UPDATE_PRODUCER, GroupUpdatePublisher } from './dispatch/group-updates'
import { GroupUpdateConsumer } from './source/group-consumer'
import { PersonStore } from './sink/writers/persons'
import { PersonReader } from './sink/read/person-read'
import { WarningsWriter } from './sink/writers/warnings'
import { HeatmapsWriter } from './sink/writers/heatmaps'
import { TaxonomyReader } from './sink/read/taxonomy-read'
import { DataReader } from './sink/read/data-read'
import { StatusSampler } from './status/sampler'
import { openChdb } from './sink/transport/chdb'
import { connectClickHouseServer } from './sink/transport/clickhouse'
import { createSchema, type Schema } from './sink/format/schema'
import type { ClickHouseStore } from './sink/transport/store'
import { ClusterProbe, CLUSTER_SETTINGS } from './sink/transport/cluster-health'
import { IngestionConsumer } from './source/consumer'
import { Committer } from './source/committer'
import { OffsetTracker } from './source/offsets'
import { PartitionLagMonitor } from './source/partition-lag'

export interface Engine {
  readonly adminUrl: string
  readonly captureUrl: string
  readonly adminToken: string
  readonly adminTokenGenerated: boolean
  readonly brokers: string
  readonly embeddedKafka: boolean
  readonly clickhouse: { kind: 'server' | 'chdb'; version: string; where: string }
  readonly metrics: Metrics
  readonly schema: Schema
  /** resolves when the engine stopped by itself (SLUICE_STOP_AFTER_EVENTS) */
  readonly finished: Promise<void>
  stop(): Promise<void>
  /** the shutdown step running now, if any (main.ts names it when the deadline passes) */
  stoppingStep(): string | undefined
}

/** a step slower than this is logged with its name: an unclean exit (the deadline passed) then says where the time went */
const SLOW_STOP_STEP_MS = 1_000

/** Shutdown steps, run last-registered first; a failing step is logged and the next one runs. */
class Lifecycle {
  private readonly steps: { name: string; run: () => Promise<void> }[] = []
  stopping = false
  current: string | undefined
  constructor(private readonly log: Logger) {}

  onStop(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run })
  }

  readonly stop = async (): Promise<void> => {
    for (const { name, run } of this.steps.splice(0).reverse()) {
      const started = Date.now()
      this.current = name
      try { await run() } catch (err) { this.log.warn({ step: name, err: (err as Error).message }, 'error while stopping') }
      const ms = Date.now() - started
      if (ms >= SLOW_STOP_STEP_MS) this.log.info({ step: name, ms }, 'slow shutdown step')
    }
    this.current = undefined
  }
}

interface Storage {
  brokers: string; mock: MockKafkaCluster | undefined; store: ClickHouseStore; schema: Schema; producer: AckingProducer
  /** group updates' own producer: linger 0 (engine/dispatch/group-updates.ts says why) */
  groupProducer: AckingProducer
  /** cluster mode (SLUICE_CLICKHOUSE_CLUSTER): every shard and replica probed for /readyz and /metrics */
  cluster: ClusterProbe | undefined
}

async function startStorage(config: Config, metrics: Metrics, life: Lifecycle, log: Logger): Promise<Storage> {
  let mock: MockKafkaCluster | undefined
  let brokers = config.kafkaBrokers
  if (!brokers) {
    mock = await startMockKafkaCluster()
    brokers = mock.bootstrapServers
    life.onStop('embedded Kafka', () => mock!.stop())
    log.info({ brokers }, 'embedded mock Kafka cluster started (in memory: dev/demo only)')
  }
  const store: ClickHouseStore = config.clickhouseUrl
    ? await connectClickHouseServer({
      url: config.clickhouseUrl, user: config.clickhouseUser, password: config.clickhousePassword, settings: config.clickhouseCluster ? CLUSTER_SETTINGS : undefined,
    })
    : await openChdb(config.dataDir)
  life.onStop('ClickHouse client', () => store.close())
  const schema = await createSchema(store, config.clickhouseDatabase, config.clickhouseCluster)
  log.info({ clickhouse: store.kind, version: store.version, dateTime: schema.dateTime, database: schema.database }, 'ClickHouse schema ready')
  const cluster = startClusterProbe(config, store, schema, metrics, life, log)
  await ensureTopics(config, brokers, mock !== undefined, log)
  const producer = await connectProducer(brokers, 'sluice-producer')
  life.onStop('producer', () => producer.disconnect())
  const groupProducer = await connectProducer(brokers, 'sluice-group-updates', GROUP_UPDATE_PRODUCER)
  life.onStop('group-update producer', () => groupProducer.disconnect())
  return { brokers, mock, store, schema, producer, groupProducer, cluster }
}

function startClusterProbe(config: Config, store: ClickHouseStore, schema: Schema, metrics: Metrics, life: Lifecycle, log: Logger): ClusterProbe | undefined {
  if (!schema.cluster) return undefined
  const url = new URL(config.clickhouseUrl!)
  const probe = new ClusterProbe(store, schema.cluster.hosts, schema.database, 'events', metrics, {
    user: config.clickhouseUser ?? (decodeURIComponent(url.username) || 'default'), password: config.clickhousePassword ?? decodeURIComponent(url.password),
  })
  if (schema.cluster.migrated.length > 0) log.warn({ statements: schema.cluster.migrated }, 'ClickHouse cluster schema migrated from an older release')
  log.info({ cluster: schema.cluster.name, hosts: schema.cluster.hosts.map((h) => `${h.shard}/${h.replica} ${h.host}:${h.port}`) }, 'ClickHouse cluster mode')
  probe.start()
  life.onStop('cluster probe', async () => probe.stop())
  return probe
}

async function ensureTopics(config: Config, brokers: string, embedded: boolean, log: Logger): Promise<void> {
  // the embedded mock cluster cannot create topics with settings (and keeps everything in memory anyway);
  // the control topic and the data topics at once: a broker without CreateTopics (the mock) makes each wait
  const [control] = await Promise.all([
    ensureTopic(brokers, config.controlTopic, embedded ? { partitions: 'auto' } : controlTopicSpec(config.controlReplicationFactor, config.controlMinInsyncReplicas)),
    ensureDataTopics(config, brokers, embedded, log),
  ])
  if (control.created) log.info({ topic: config.controlTopic }, 'control topic created: one partition, retention.ms=-1, retention.bytes=-1')
  else if (control.error) log.warn({ topic: config.controlTopic, err: control.error }, 'the broker could not create the control topic with its settings; it was auto-created with the broker\'s defaults: set retention.ms=-1 and retention.bytes=-1 on it (README, "Running in production")')
}

async function ensureDataTopics(config: Config, brokers: string, embedded: boolean, log: Logger): Promise<void> {
  // the input and dead-letter topics are the operator's; ask for them so that clusters with auto-creation (the mock) create them now
  await ensureTopic(brokers, config.kafkaTopic, { partitions: 'auto' })
  await ensureTopic(brokers, config.dlqTopic, { partitions: 'auto' })
  // the group-update topic is partitioned like the input topic: as many owners of groups as of events
  const partitions = await topicPartitions(brokers, config.kafkaTopic, false)
  const groups = await ensureTopic(brokers, config.groupsTopic, embedded || partitions === 0 ? { partitions: 'auto' } : { partitions })
  if (groups.created) log.info({ topic: config.groupsTopic, partitions }, 'group-update topic created')
}

async function startControl(config: Config, s: Storage, metrics: Metrics, life: Lifecycle, log: Logger): Promise<ControlLog> {
  const control = new ControlLog(s.brokers, config.controlTopic, s.producer, metrics, log, {
    everyCommands: config.controlSnapshotCommands, everyBytes: config.controlSnapshotBytes,
  })
  const materializer = new ControlMaterializer(control.state, s.store, s.schema, log)
  control.onFold(materializer.onFold)
  life.onStop('control log', () => control.stop())
  life.onStop('control materializer', () => materializer.stop())
  await control.start()
  // Only a topic that never held anything is seeded from ClickHouse; a truncated one waits for a snapshot (DESIGN §2).
  if (control.genesis) await reseedIfEmpty(control, s.store, s.schema, log)
  if (!control.complete && config.controlRecover === 'clickhouse') await recoverFromClickHouse(control, s.store, s.schema, log)
  control.snapshotIfNone()
  const grace = new GraceExpiry(control, log)
  control.onFold(grace.onFold)
  void control.whenComplete().then(() => grace.schedule())
  life.onStop('grace timer', async () => grace.stop())
  return control
}

interface Pipeline {
  pool: WorkerPool; ingestion: Ingestion; consumer: IngestionConsumer; committer: Committer; lagMonitor: PartitionLagMonitor; batcher: InsertBatcher
  groups: GroupUpdateConsumer; groupsLagMonitor: PartitionLagMonitor
}

/** Consumed batches → workers → batcher → ClickHouse → commit: the data path, not yet consuming. */
function buildPipeline(config: Config, s: Storage, control: ControlLog, metrics: Metrics, onStopAfter: () => void, life: Lifecycle, log: Logger): Pipeline {
  // RowBinary to a server: nothing to escape here, nothing to parse there; chDB takes text formats only
  const encoding: RowEncoding = { dateTime: s.schema.dateTime, format: s.store.kind === 'server' ? 'RowBinary' : 'JSONEachRow', persons: config.persons }
  const persons = config.persons
    ? new PersonStore(s.store, s.schema, { cacheSize: config.personCacheSize, overridesPollMs: config.personOverridesPollMs }, log)
    : undefined
  const pool = new WorkerPool(config.workers, encoding, metrics)
  life.onStop('worker pool', () => pool.close())
  const tracker = new OffsetTracker()
  const outcomes = new OutcomeRecorder(s.producer, config.dlqTopic, metrics, log)
  const ingestion = new Ingestion({
    topic: config.kafkaTopic,
    eventsTable: s.schema.tables.events,
    eventsFormat: encoding.format === 'RowBinary' ? { kind: 'RowBinary', columns: eventColumns(s.schema.dateTime, config.persons) } : JSON_EACH_ROW,
    maxMessageBytes: config.maxMessageBytes,
    maxInflightBytes: config.maxInflightBytes,
    maxOutstandingBatches: config.workers * 2,
  }, pool, control, outcomes, tracker, {
    warnings: new WarningsWriter(s.schema, config.warningIntervalMs, metrics),
    definitions: new DefinitionsWriter(s.schema),
    groups: new GroupUpdatePublisher(s.groupProducer, config.groupsTopic, metrics, log),
    persons,
    heatmaps: new HeatmapsWriter(s.schema),
  }, metrics, log)
  if (persons) {
    persons.start()
    life.onStop('persons', async () => persons.stop())
  }
  const consumer = new IngestionConsumer({
    brokers: s.brokers, topic: config.kafkaTopic, group: config.kafkaGroup, batchSize: config.consumeBatch, maxMessageBytes: config.maxMessageBytes, log,
    hasCapacity: ingestion.hasCapacity, waitForSlot: ingestion.waitForSlot, onBatch: ingestion.onBatch,
  })
  const committer = new Committer(consumer, onStopAfter, config.stopAfterEvents)
  // refusals come once a second while a rebalance lasts (~10 s on the mock cluster): one line a minute
  let refusalLoggedAt = 0
  consumer.onCommitFailed((err) => {
    if (Date.now() - refusalLoggedAt > 60_000) {
      refusalLoggedAt = Date.now()
      log.warn({ err: err.message }, 'offset commit refused (a rebalance?); committing the last offsets again every second until accepted')
    }
    committer.commitFailed()
  })
  consumer.onCommitAccepted(() => committer.commitAccepted())
  const lagMonitor = new PartitionLagMonitor({ brokers: s.brokers, topic: config.kafkaTopic, group: config.kafkaGroup, assigned: () => consumer.assigned },
    { lag: metrics.consumerLag, partitions: metrics.assignedPartitions }, log)
  consumer.onRevoked((partitions) => {
    tracker.revoke(partitions)
    committer.forget(partitions)
    lagMonitor.forget(partitions)
  })
  const batcher = new InsertBatcher(s.store, {
    maxRows: config.insertMaxRows, maxBytes: config.insertMaxBytes, intervalMs: config.insertIntervalMs, idleMs: config.insertIdleMs, keepingUp: () => consumer.keepingUp, dedupTokens: s.schema.dedupTokens,
    catchUpMs: config.insertCatchUpMs, behind: () => consumer.behind,
    maxPartitionsPerInsert: config.maxPartitionsPerInsert ?? s.schema.maxPartitionsPerInsert,
  }, (flush) => {
    observeAcknowledged(metrics, flush.times, Date.now())
    metrics.offsetsCommitted.inc(flush.messages)
    committer.acknowledged(ingestion.acknowledged(flush), flush.messages)
  }, (table, row, error, source) => outcomes.deadLetters([{
    value: row, key: null, reason: 'insert_rejected', step: 'insert', error, source: { ...source, table },
  }]), metrics, log)
  ingestion.attach(batcher)
  // the owner side of re-keyed group updates (issue 19): same consumer group, the update topic only
  const groups = new GroupUpdateConsumer({ brokers: s.brokers, topic: config.groupsTopic, group: config.kafkaGroup, batchSize: 1000, log },
    new GroupWriter(s.store, s.schema, metrics, log), metrics)
  // the same lag measure for the update topic: updates produced, not yet applied and committed by their owner
  const groupsLagMonitor = new PartitionLagMonitor({ brokers: s.brokers, topic: config.groupsTopic, group: config.kafkaGroup, assigned: () => groups.assigned },
    { lag: metrics.groupUpdatesLag, partitions: metrics.groupPartitions }, log)
  groups.onRevoked((partitions) => groupsLagMonitor.forget(partitions))
  return { pool, ingestion, consumer, committer, lagMonitor, batcher, groups, groupsLagMonitor }
}

interface Servers { admin: RunningServer; capture: RunningServer; adminToken: string }

async function startServers(config: Config, s: Storage, control: ControlLog, p: Pipeline, metrics: Metrics, life: Lifecycle, log: Logger): Promise<Servers> {
  const adminToken = config.adminToken ?? randomToken('sla_')
  const status = new StatusSampler({
    metrics, consumer: p.consumer, batcher: p.batcher, eventsTable: s.schema.tables.events, threads: config.workers,
    probeClickHouse: async () => { await s.store.query('SELECT 1 AS ok') },
    maxInflightBytes: config.maxInflightBytes, maxRowsPerInsert: config.insertMaxRows, windowSeconds: config.statusWindowSeconds,
  })
  let captureUrl = ''
  const health: HealthSources = { consumer: p.consumer, groups: p.groups, control, store: s.store, batcher: p.batcher, cluster: s.cluster, stopping: () => life.stopping }
  const admin = await startAdminServer({
    host: config.adminHost, port: config.adminPort, token: adminToken, maxBodyBytes: config.maxBodyBytes,
    routes: adminRoutes(control, new TaxonomyReader(s.store, s.schema), {
      data: new DataReader(s.store, s.schema, config.persons), persons: new PersonReader(s.store, s.schema), metrics, status: () => status.report(), captureUrl: () => captureUrl,
    }),
    registry: metrics.registry,
    notReady: () => {
      const problem = control.problem
      if (problem) return new SluiceError('SLUICE_ERR_CONTROL_LOG_INCOMPLETE', problem)
      return control.ready ? undefined : new SluiceError('SLUICE_ERR_NOT_READY')
    },
    caughtUpSince: (since) => control.caughtUpSince(since),
    state: control.state,
    authMaxFailures: config.adminAuthMaxFailures,
    authBlockMs: config.adminAuthBlockMs,
    metrics,
    liveness: () => liveness(health),
    readiness: () => readiness(health),
    log,
  })
  life.onStop('admin server', () => admin.close())
  // Capture port (PostHog SDKs → input topic) with its own producer, so that
  // intake traffic never queues behind or ahead of control-log commands.
  const captureProducer = await connectProducer(s.brokers, 'sluice-capture', CAPTURE_PRODUCER)
  life.onStop('capture producer', () => captureProducer.disconnect())
  const capture = await startCaptureServer({
    host: config.captureHost, port: config.capturePort, maxBodyBytes: config.maxBodyBytes, maxMessageBytes: config.maxMessageBytes,
    trustProxy: config.trustProxy, topic: config.kafkaTopic, producer: captureProducer, metrics, log,
  })
  life.onStop('capture server', () => capture.close())
  captureUrl = capture.url
  status.start()
  life.onStop('status', async () => status.stop())
  return { admin, capture, adminToken }
}

/** Starts consuming once the control state is complete (a partial one would call live tokens unknown); registers the drain. */
async function startConsuming(config: Config, control: ControlLog, p: Pipeline, metrics: Metrics, life: Lifecycle, log: Logger): Promise<void> {
  await p.lagMonitor.start()
  life.onStop('lag monitor', () => p.lagMonitor.stop())
  await p.groupsLagMonitor.start()
  life.onStop('group-update lag monitor', () => p.groupsLagMonitor.stop())
  metrics.workerThreads.set(p.pool.threads)
  let consuming = false
  if (!control.complete) log.warn('ingestion waits until the control state is complete')
  const started = control.whenComplete().then(async () => {
    if (life.stopping) return
    await p.consumer.start()
    await p.groups.start()
    consuming = true
    log.info({ topic: config.kafkaTopic, group: config.kafkaGroup, workers: p.pool.threads }, 'ingestion consumer started')
  })
  if (control.complete) await started
  else started.catch((err: Error) => log.error({ err: err.message }, 'the ingestion consumer could not start'))
  // Shutdown order (steps run last-registered first): stop fetching, finish
  // batches in flight, flush, final commit; leave the group; then the group
  // updates: after the drain every update of the drained batches is on the
  // update topic, and the batch being written finishes.
  life.onStop('group-update consumer leave', async () => { if (consuming) await p.groups.close(config.shutdownTimeoutMs / 2) })
  life.onStop('ingestion consumer leave', async () => { if (consuming) await p.consumer.close() })
  life.onStop('ingestion drain', async () => {
    if (!consuming) return
    await p.consumer.stopFetching()
    await p.ingestion.whenIdle()
    await p.batcher.drain()
    p.batcher.stop()
    p.committer.final()
  })
  // a last snapshot while everything still runs (engine/control/log.ts says why)
  life.onStop('control snapshot', () => control.snapshotBeforeLeaving())
  // runs first: readiness says "shutting down" while the steps above drain
  life.onStop('readiness', async () => { life.stopping = true })
}

export async function startEngine(config: Config, log: Logger): Promise<Engine> {
  const metrics = createMetrics()
  const life = new Lifecycle(log)
  try {
    const storage = await startStorage(config, metrics, life, log)
    const control = await startControl(config, storage, metrics, life, log)
    let stopRequested: (() => void) | undefined
    const finished = new Promise<void>((resolve) => { stopRequested = resolve })
    const pipeline = buildPipeline(config, storage, control, metrics, () => stopRequested?.(), life, log)
    const servers = await startServers(config, storage, control, pipeline, metrics, life, log)
    await startConsuming(config, control, pipeline, metrics, life, log)
    return {
      adminUrl: servers.admin.url,
      captureUrl: servers.capture.url,
      adminToken: servers.adminToken,
      adminTokenGenerated: config.adminToken === undefined,
      brokers: storage.brokers,
      embeddedKafka: storage.mock !== undefined,
      clickhouse: { kind: storage.store.kind, version: storage.store.version, where: config.clickhouseUrl ? new URL(config.clickhouseUrl).host : config.dataDir },
      metrics,
      schema: storage.schema,
      finished,
      stop: life.stop,
      stoppingStep: () => life.current,
    }
  } catch (err) {
    await life.stop()
    throw err
  }
}
