// The one metrics catalogue (Prometheus naming: sluice_ prefix, base units,
// _total counters). Labels are closed sets (reasons, tables, statuses) or
// bounded by the deployment (a topic's partitions), never ids.
//
// Worker threads never touch prom-client (workers stay pure: STYLE item 6).
// What they measure travels back in each task's answer (workers/protocol.ts
// TaskHeader: tallies by reason, warnings, the worker's own processing time)
// and the main thread adds it here, so /metrics is one registry with nothing
// to merge. prom-client's AggregatorRegistry is no help with worker_threads:
// it merges registries of `cluster` workers over the cluster IPC channel,
// which worker threads do not have; a registry per thread would also cost a
// message round trip per scrape and lose a dead worker's counts.
//
// Dashboards and alerts in deploy/ query these names; test/unit/deploy/dashboard.test.ts
// fails when they ask for a name this file does not define.
import client from 'prom-client'
import { CountedHistogram } from './counted-histogram'
import { threadCpuSeconds, type ThreadKind } from './status/thread-cpu'

/** Seconds, from well under a flush interval to a day behind. */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 21600, 86400]

export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'sluice_' })
  const r = [registry]
  /** the worker threads' OS ids, as their answers report them (engine/dispatch/pool.ts) */
  const workerThreadIds = new Set<number>()
  return {
    registry,
    workerThreadIds,
    threadCpu: new client.Gauge({
      name: 'sluice_thread_cpu_seconds',
      help: 'CPU seconds used by the process\'s live threads, by kind: main, workers, kafka (librdkafka), runtime (garbage collector, compiler, libuv pool); Linux only',
      labelNames: ['threads'] as const,
      registers: r,
      collect() {
        const cpu = threadCpuSeconds(workerThreadIds)
        if (cpu === undefined) return
        for (const k of Object.keys(cpu) as ThreadKind[]) this.set({ threads: k }, cpu[k])
      },
    }),
    messagesConsumed: new client.Counter({ name: 'sluice_messages_consumed_total', help: 'Kafka messages taken from the input topic', registers: r }),
    consumedBytes: new client.Counter({ name: 'sluice_consumed_bytes_total', help: 'Bytes of consumed message values', registers: r }),
    eventsInserted: new client.Counter({ name: 'sluice_events_inserted_total', help: 'Rows acknowledged by ClickHouse, by table', labelNames: ['table'] as const, registers: r }),
    eventsDropped: new client.Counter({ name: 'sluice_events_dropped_total', help: 'Messages dropped on purpose, by reason', labelNames: ['reason'] as const, registers: r }),
    deadLetters: new client.Counter({ name: 'sluice_dead_letters_total', help: 'Messages sent to the dead-letter topic, by reason', labelNames: ['reason'] as const, registers: r }),
    warnings: new client.Counter({ name: 'sluice_ingestion_warnings_total', help: 'Ingestion warnings raised, by type', labelNames: ['type'] as const, registers: r }),
    warningsSuppressed: new client.Counter({ name: 'sluice_ingestion_warnings_suppressed_total', help: 'Ingestion warnings not written because of the rate limit, by type', labelNames: ['type'] as const, registers: r }),
    groupUpdatesProduced: new client.Counter({ name: 'sluice_group_updates_produced_total', help: 'Group updates ($groupidentify) produced to SLUICE_GROUPS_TOPIC and acknowledged by Kafka', registers: r }),
    groupUpdatesApplied: new client.Counter({ name: 'sluice_group_updates_applied_total', help: 'Group updates this instance applied as the owner of their partition (rows acknowledged by ClickHouse)', registers: r }),
    groupUpdatesSkipped: new client.Counter({ name: 'sluice_group_updates_skipped_total', help: 'Messages on SLUICE_GROUPS_TOPIC that are not group updates (another producer, a corrupt value): skipped and committed', registers: r }),
    groupPartitions: new client.Gauge({ name: 'sluice_group_partitions', help: 'SLUICE_GROUPS_TOPIC partitions this instance owns (it alone writes their groups)', registers: r }),
    groupUpdatesLag: new client.Gauge({ name: 'sluice_group_updates_lag_messages', help: 'SLUICE_GROUPS_TOPIC messages not yet applied and committed by their owner, per update-topic partition this instance owns (high watermark - committed offset)', labelNames: ['partition'] as const, registers: r }),
    groupTypeClaims: new client.Counter({ name: 'sluice_group_type_claims_total', help: 'Group type claims appended to the control log', registers: r }),
    batchMessages: new client.Histogram({ name: 'sluice_batch_messages', help: 'Messages per worker task', buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000], registers: r }),
    taskDuration: new client.Histogram({ name: 'sluice_task_duration_seconds', help: 'Worker task time, dispatch to answer', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    workerTaskDuration: new client.Histogram({ name: 'sluice_worker_task_seconds', help: 'Time a worker thread spent processing one task, measured inside the worker (no queueing or transfer)', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    workerThreads: new client.Gauge({ name: 'sluice_worker_threads', help: 'Worker threads in the processing pool', registers: r }),
    workerThreadsReplaced: new client.Counter({ name: 'sluice_worker_threads_replaced_total', help: 'Worker threads that died (exited or crashed) and were replaced by the pool; their tasks were retried', registers: r }),
    eventLag: new CountedHistogram('sluice_event_lag_seconds', 'Kafka message timestamp to ClickHouse acknowledgement of the flush that settled the message (every consumed message once)', LAG_BUCKETS, registry),
    processingLag: new CountedHistogram('sluice_processing_lag_seconds', 'Consumption from Kafka to ClickHouse acknowledgement (every consumed message once)', LAG_BUCKETS, registry),
    consumerLag: new client.Gauge({ name: 'sluice_consumer_lag_messages', help: 'Input-topic messages not yet committed by the consumer group, per partition this instance owns (high watermark - committed offset)', labelNames: ['partition'] as const, registers: r }),
    assignedPartitions: new client.Gauge({ name: 'sluice_consumer_assigned_partitions', help: 'Input-topic partitions assigned to this instance', registers: r }),
    insertDuration: new client.Histogram({ name: 'sluice_insert_duration_seconds', help: 'ClickHouse insert time (successful attempts), by table', labelNames: ['table'] as const, buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }),
    insertRows: new client.Histogram({ name: 'sluice_insert_rows', help: 'Rows per insert', buckets: [1, 100, 1000, 5000, 10000, 25000, 50000, 100000], registers: r }),
    insertErrors: new client.Counter({ name: 'sluice_insert_errors_total', help: 'Failed insert attempts (retried unless permanent)', labelNames: ['table', 'retriable'] as const, registers: r }),
    offsetsCommitted: new client.Counter({ name: 'sluice_offsets_committed_messages_total', help: 'Messages whose offsets were committed', registers: r }),
    inflightBytes: new client.Gauge({ name: 'sluice_inflight_bytes', help: 'Consumed message bytes not yet acknowledged by ClickHouse', registers: r }),
    controlOffset: new client.Gauge({ name: 'sluice_control_log_offset', help: 'Last control-log offset folded by this instance', registers: r }),
    controlLag: new client.Gauge({ name: 'sluice_control_log_lag_messages', help: 'Control-log messages not yet folded (high watermark read every few seconds)', registers: r }),
    controlComplete: new client.Gauge({ name: 'sluice_control_log_complete', help: '1 when this instance folded the control log from its start or from a snapshot; 0 while it refuses to serve (no snapshot in the retained log)', registers: r }),
    controlSnapshotsWritten: new client.Counter({ name: 'sluice_control_snapshots_written_total', help: 'Snapshots of the control state this instance appended to the control log', registers: r }),
    controlSnapshotBytes: new client.Gauge({ name: 'sluice_control_snapshot_bytes', help: 'Size of the newest control-state snapshot this instance wrote (image text)', registers: r }),
    controlSnapshotChecks: new client.Counter({ name: 'sluice_control_snapshot_checks_total', help: 'Snapshots read back from the control log, by result of comparing them with this instance\'s own fold: agrees, diverged (should never happen), unknown (older than this instance\'s fold), corrupt', labelNames: ['result'] as const, registers: r }),
    tokenRechecks: new client.Counter({ name: 'sluice_token_rechecks_total', help: 'Batches whose unknown tokens were re-checked after catching up with the control log', registers: r }),
    captureRequests: new client.Counter({ name: 'sluice_capture_requests_total', help: 'Requests answered by the capture endpoint, by HTTP status', labelNames: ['status'] as const, registers: r }),
    bottleneck: new client.Gauge({ name: 'sluice_bottleneck', help: 'The stage that limits throughput now (1) and the others (0): kafka, workers, clickhouse, control_log, or none when keeping up (engine/status/verdict.ts)', labelNames: ['stage'] as const, registers: r }),
    stageUtilisation: new client.Gauge({ name: 'sluice_stage_utilisation_ratio', help: 'Share of the status window each stage was busy: workers (thread busy time / threads), clickhouse (insert time), kafka (consume loop waiting on fetches), memory (in-flight bytes / SLUICE_MAX_INFLIGHT_BYTES)', labelNames: ['stage'] as const, registers: r }),
    // cluster mode (engine/sink/cluster-health.ts); shard and replica numbers as in system.clusters, bounded by the cluster's size
    clickhouseReplicaUp: new client.Gauge({ name: 'sluice_clickhouse_replica_up', help: 'SLUICE_CLICKHOUSE_CLUSTER: 1 when this replica of this shard answered the last probe, 0 when it did not', labelNames: ['shard', 'replica'] as const, registers: r }),
    clickhouseShardRows: new client.Gauge({ name: 'sluice_clickhouse_shard_rows', help: 'SLUICE_CLICKHOUSE_CLUSTER: rows of a sharded table held by each replica of each shard at the last probe (how evenly the sharding key spreads, how far a replica lags)', labelNames: ['table', 'shard', 'replica'] as const, registers: r }),
    adminAuthFailures: new client.Counter({ name: 'sluice_admin_auth_failures_total', help: 'Admin API requests with a missing or wrong bearer token (401)', registers: r }),
    adminAuthRefusals: new client.Counter({ name: 'sluice_admin_auth_refusals_total', help: 'Admin API requests refused with 429 because their address sent too many wrong bearer tokens (SLUICE_ADMIN_AUTH_MAX_FAILURES)', registers: r }),
    adminForbidden: new client.Counter({ name: 'sluice_admin_forbidden_total', help: 'Admin API requests refused with 403: the admin key\'s scopes do not cover them', registers: r }),
    eventsByKey: new client.Counter({ name: 'sluice_events_by_key_total', help: 'Events stored, by the id of the SDK key they came with (GET /api/environments/:id/keys names it; never the token)', labelNames: ['key_id'] as const, registers: r }),
    captureEvents: new client.Counter({ name: 'sluice_capture_events_total', help: 'Events accepted by the capture endpoint (produced to the input topic and acknowledged)', registers: r }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
