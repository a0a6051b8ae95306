// Wiring only: starts the parts in dependency order and stops them in reverse.
//
//   Kafka (or the embedded mock) ─ ClickHouse (server or chDB) + schema
//   ─ control log (fold, snapshot, materializer) ─ admin API
//   ─ worker pool ─ batcher ─ ingestion consumer
import type { Logger } from 'pino'
import type { Config } from '../config/schema'
import { ControlMaterializer } from './control/materialize'
import { ControlLog } from './control/log'
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
import { connectProducer, controlTopicSpec, ensureTopic, type AckingProducer } from './kafka'
import { SluiceError } from './errors'
import { createMetrics, type Metrics } from './metrics'
import { InsertBatcher } from './sink/batcher'
import { JSON_EACH_ROW } from './sink/row-format'
import { eventColumns } from '../workers/encode'
import type { RowEncoding } from '../workers/protocol'
import { DefinitionsWriter } from './sink/definitions'
import { GroupMerger } from './sink/groups'
import { WarningsWriter } from './sink/warnings'
import { TaxonomyReader } from './sink/taxonomy-read'
import { DataReader } from './sink/data-read'
import { StatusSampler } from './status/sampler'
import { openChdb } from './sink/chdb'
import { connectClickHouseServer } from './sink/clickhouse'
import { createSchema, type Schema } from './sink/schema'
import { ClusterProbe, CLUSTER_SETTINGS } from './sink/cluster-health'
import type { ClickHouseStore } from './sink/store'
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
}

export async function startEngine(config: Config, log: Logger): Promise<Engine> {
  const metrics = createMetrics()
  const cleanups: (() => Promise<void>)[] = []
  const stopAll = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try { await c() } catch (err) { log.warn({ err: (err as Error).message }, 'error while stopping') }
    }
  }
  try {
    let mock: MockKafkaCluster | undefined
    let brokers = config.kafkaBrokers
    if (!brokers) {
      mock = await startMockKafkaCluster()
      brokers = mock.bootstrapServers
      cleanups.push(() => mock!.stop())
      log.info({ brokers }, 'embedded mock Kafka cluster started (in memory: dev/demo only)')
    }

    const store: ClickHouseStore = config.clickhouseUrl
      ? await connectClickHouseServer({ url: config.clickhouseUrl, user: config.clickhouseUser, password: config.clickhousePassword,
        settings: config.clickhouseCluster ? CLUSTER_SETTINGS : undefined })
      : await openChdb(config.dataDir)
    cleanups.push(() => store.close())
    const schema = await createSchema(store, config.clickhouseDatabase, config.clickhouseCluster)
    log.info({ clickhouse: store.kind, version: store.version, dateTime: schema.dateTime, database: schema.database }, 'ClickHouse schema ready')
    // cluster mode (SLUICE_CLICKHOUSE_CLUSTER): every shard and replica probed for /readyz and /metrics
    let clusterProbe: ClusterProbe | undefined
    if (schema.cluster) {
      const url = new URL(config.clickhouseUrl!)
      clusterProbe = new ClusterProbe(store, schema.cluster.hosts, schema.database, 'events', metrics, {
        user: config.clickhouseUser ?? (decodeURIComponent(url.username) || 'default'), password: config.clickhousePassword ?? decodeURIComponent(url.password),
      })
      if (schema.cluster.migrated.length > 0) log.warn({ statements: schema.cluster.migrated }, 'ClickHouse cluster schema migrated from an older release')
      log.info({ cluster: schema.cluster.name, hosts: schema.cluster.hosts.map((h) => `${h.shard}/${h.replica} ${h.host}:${h.port}`) }, 'ClickHouse cluster mode')
      clusterProbe.start()
      cleanups.push(async () => clusterProbe!.stop())
    }

    const controlTopic = await ensureTopic(brokers, config.controlTopic, controlTopicSpec(config.controlReplicationFactor, config.controlMinInsyncReplicas))
    if (controlTopic.created) log.info({ topic: config.controlTopic }, 'control topic created: one partition, retention.ms=-1, retention.bytes=-1')
    else if (controlTopic.error) log.warn({ topic: config.controlTopic, err: controlTopic.error }, 'the broker could not create the control topic with its settings; it was auto-created with the broker\'s defaults: set retention.ms=-1 and retention.bytes=-1 on it (README, "Running in production")')
    // the input and dead-letter topics are the operator's; ask for them so that clusters with auto-creation (the mock) create them now
    await ensureTopic(brokers, config.kafkaTopic, { partitions: 'auto' })
    await ensureTopic(brokers, config.dlqTopic, { partitions: 'auto' })
    const producer: AckingProducer = await connectProducer(brokers, 'sluice-producer')
    cleanups.push(() => producer.disconnect())

    const control = new ControlLog(brokers, config.controlTopic, producer, metrics, log, {
      everyCommands: config.controlSnapshotCommands, everyBytes: config.controlSnapshotBytes,
    })
    const materializer = new ControlMaterializer(control.state, store, schema, log)
    control.onFold(materializer.onFold)
    cleanups.push(() => control.stop())
    cleanups.push(() => materializer.stop())
    await control.start()
    // Only a topic that never held anything is seeded from ClickHouse; a truncated one waits for a snapshot (DESIGN §2).
    if (control.genesis) await reseedIfEmpty(control, store, schema, log)
    if (!control.complete && config.controlRecover === 'clickhouse') await recoverFromClickHouse(control, store, schema, log)
    control.snapshotIfNone()

    const adminToken = config.adminToken ?? randomToken('sla_')
    // RowBinary to a server: nothing to escape here, nothing to parse there; chDB takes text formats only
    const encoding: RowEncoding = { dateTime: schema.dateTime, format: store.kind === 'server' ? 'RowBinary' : 'JSONEachRow' }
    const pool = new WorkerPool(config.workers, encoding, metrics)
    cleanups.push(() => pool.close())
    const tracker = new OffsetTracker()
    const outcomes = new OutcomeRecorder(producer, config.dlqTopic, metrics, log)
    const ingestion = new Ingestion({
      topic: config.kafkaTopic,
      eventsTable: schema.tables.events,
      eventsFormat: encoding.format === 'RowBinary' ? { kind: 'RowBinary', columns: eventColumns(schema.dateTime) } : JSON_EACH_ROW,
      maxMessageBytes: config.maxMessageBytes,
      maxInflightBytes: config.maxInflightBytes,
      maxOutstandingBatches: config.workers * 2,
    }, pool, control, outcomes, tracker, {
      warnings: new WarningsWriter(schema, config.warningIntervalMs, metrics),
      definitions: new DefinitionsWriter(schema),
      groups: new GroupMerger(store, schema, log),
    }, metrics, log)

    let stopping = false
    let stopRequested: (() => void) | undefined
    const finished = new Promise<void>((resolve) => { stopRequested = resolve })
    const consumer = new IngestionConsumer({
      brokers,
      topic: config.kafkaTopic,
      group: config.kafkaGroup,
      batchSize: config.consumeBatch,
      maxMessageBytes: config.maxMessageBytes,
      log,
      hasCapacity: ingestion.hasCapacity,
      waitForSlot: ingestion.waitForSlot,
      onBatch: ingestion.onBatch,
    })
    const committer = new Committer(consumer, () => stopRequested?.(), config.stopAfterEvents)
    const lagMonitor = new PartitionLagMonitor({ brokers, topic: config.kafkaTopic, group: config.kafkaGroup, assigned: () => consumer.assigned }, metrics, log)
    consumer.onRevoked((partitions) => {
      tracker.revoke(partitions)
      committer.forget(partitions)
      lagMonitor.forget(partitions)
    })
    const batcher = new InsertBatcher(store, {
      maxRows: config.insertMaxRows,
      maxBytes: config.insertMaxBytes,
      intervalMs: config.insertIntervalMs,
      dedupTokens: schema.dedupTokens,
      maxPartitionsPerInsert: config.maxPartitionsPerInsert ?? schema.maxPartitionsPerInsert,
    }, (flush) => {
      observeAcknowledged(metrics, flush.times, Date.now())
      metrics.offsetsCommitted.inc(flush.messages)
      committer.acknowledged(ingestion.acknowledged(flush), flush.messages)
    }, (table, row, error, source) => outcomes.deadLetters([{
      value: row, key: null, reason: 'insert_rejected', step: 'insert', error, source: { ...source, table },
    }]), metrics, log)
    ingestion.attach(batcher)

    const status = new StatusSampler({
      metrics, consumer, batcher, eventsTable: schema.tables.events, threads: config.workers,
      probeClickHouse: async () => { await store.query('SELECT 1 AS ok') },
      maxInflightBytes: config.maxInflightBytes, maxRowsPerInsert: config.insertMaxRows, windowSeconds: config.statusWindowSeconds,
    })
    let captureUrl = ''

    const health: HealthSources = { consumer, control, store, batcher, cluster: clusterProbe, stopping: () => stopping }
    const admin: RunningServer = await startAdminServer({
      host: config.adminHost,
      port: config.adminPort,
      token: adminToken,
      maxBodyBytes: config.maxBodyBytes,
      routes: adminRoutes(control, new TaxonomyReader(store, schema), {
        data: new DataReader(store, schema), metrics, status: () => status.report(), captureUrl: () => captureUrl,
      }),
      registry: metrics.registry,
      notReady: () => {
        const problem = control.problem
        if (problem) return new SluiceError('SLUICE_ERR_CONTROL_LOG_INCOMPLETE', problem)
        return control.ready ? undefined : new SluiceError('SLUICE_ERR_NOT_READY')
      },
      caughtUpSince: (since) => control.caughtUpSince(since),
      liveness: () => liveness(health),
      readiness: () => readiness(health),
      log,
    })
    cleanups.push(() => admin.close())

    // Capture port (PostHog SDKs → input topic) with its own producer, so that
    // intake traffic never queues behind or ahead of control-log commands.
    const captureProducer = await connectProducer(brokers, 'sluice-capture', CAPTURE_PRODUCER)
    cleanups.push(() => captureProducer.disconnect())
    const capture = await startCaptureServer({
      host: config.captureHost,
      port: config.capturePort,
      maxBodyBytes: config.maxBodyBytes,
      maxMessageBytes: config.maxMessageBytes,
      trustProxy: config.trustProxy,
      topic: config.kafkaTopic,
      producer: captureProducer,
      metrics,
      log,
    })
    cleanups.push(() => capture.close())
    captureUrl = capture.url

    await lagMonitor.start()
    cleanups.push(() => lagMonitor.stop())

    status.start()
    cleanups.push(async () => status.stop())
    metrics.workerThreads.set(pool.threads)
    // Ingestion starts only from a complete control state: a partial one would call live tokens unknown.
    let consuming = false
    if (!control.complete) log.warn('ingestion waits until the control state is complete')
    const consumerStarted = control.whenComplete().then(async () => {
      if (stopping) return
      await consumer.start()
      consuming = true
      log.info({ topic: config.kafkaTopic, group: config.kafkaGroup, workers: pool.threads }, 'ingestion consumer started')
    })
    if (control.complete) await consumerStarted
    else consumerStarted.catch((err: Error) => log.error({ err: err.message }, 'the ingestion consumer could not start'))
    // Shutdown order: stop fetching, finish batches in flight, flush, final commit, close.
    cleanups.push(async () => {
      if (!consuming) return
      await consumer.stopFetching()
      await ingestion.whenIdle()
      await batcher.drain()
      batcher.stop()
      committer.final()
      await consumer.close()
    })
    // runs first: readiness says "shutting down" while the steps above drain
    cleanups.push(async () => { stopping = true })

    return {
      adminUrl: admin.url,
      captureUrl: capture.url,
      adminToken,
      adminTokenGenerated: config.adminToken === undefined,
      brokers,
      embeddedKafka: mock !== undefined,
      clickhouse: { kind: store.kind, version: store.version, where: config.clickhouseUrl ? new URL(config.clickhouseUrl).host : config.dataDir },
      metrics,
      schema,
      finished,
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
