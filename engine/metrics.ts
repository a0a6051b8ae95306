// The one metrics catalogue (Prometheus naming: sluice_ prefix, base units,
// _total counters). Labels are closed sets (reasons, tables), never ids.
import client from 'prom-client'

export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'sluice_' })
  const r = [registry]
  return {
    registry,
    messagesConsumed: new client.Counter({ name: 'sluice_messages_consumed_total', help: 'Kafka messages taken from the input topic', registers: r }),
    consumedBytes: new client.Counter({ name: 'sluice_consumed_bytes_total', help: 'Bytes of consumed message values', registers: r }),
    eventsInserted: new client.Counter({ name: 'sluice_events_inserted_total', help: 'Rows acknowledged by ClickHouse, by table', labelNames: ['table'] as const, registers: r }),
    eventsDropped: new client.Counter({ name: 'sluice_events_dropped_total', help: 'Messages dropped on purpose, by reason', labelNames: ['reason'] as const, registers: r }),
    deadLetters: new client.Counter({ name: 'sluice_dead_letters_total', help: 'Messages sent to the dead-letter topic, by reason', labelNames: ['reason'] as const, registers: r }),
    warnings: new client.Counter({ name: 'sluice_ingestion_warnings_total', help: 'Ingestion warnings raised, by type', labelNames: ['type'] as const, registers: r }),
    warningsSuppressed: new client.Counter({ name: 'sluice_ingestion_warnings_suppressed_total', help: 'Ingestion warnings not written because of the rate limit, by type', labelNames: ['type'] as const, registers: r }),
    groupTypeClaims: new client.Counter({ name: 'sluice_group_type_claims_total', help: 'Group type claims appended to the control log', registers: r }),
    batchMessages: new client.Histogram({ name: 'sluice_batch_messages', help: 'Messages per worker task', buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000], registers: r }),
    taskDuration: new client.Histogram({ name: 'sluice_task_duration_seconds', help: 'Worker task time, dispatch to answer', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    insertDuration: new client.Histogram({ name: 'sluice_insert_duration_seconds', help: 'ClickHouse insert time (successful attempts), by table', labelNames: ['table'] as const, buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }),
    insertRows: new client.Histogram({ name: 'sluice_insert_rows', help: 'Rows per insert', buckets: [1, 100, 1000, 5000, 10000, 25000, 50000, 100000], registers: r }),
    insertErrors: new client.Counter({ name: 'sluice_insert_errors_total', help: 'Failed insert attempts (retried unless permanent)', labelNames: ['table', 'retriable'] as const, registers: r }),
    offsetsCommitted: new client.Counter({ name: 'sluice_offsets_committed_messages_total', help: 'Messages whose offsets were committed', registers: r }),
    inflightBytes: new client.Gauge({ name: 'sluice_inflight_bytes', help: 'Consumed message bytes not yet acknowledged by ClickHouse', registers: r }),
    controlOffset: new client.Gauge({ name: 'sluice_control_log_offset', help: 'Last control-log offset folded by this instance', registers: r }),
    controlLag: new client.Gauge({ name: 'sluice_control_log_lag_messages', help: 'Control-log messages not yet folded at the last check', registers: r }),
    tokenRechecks: new client.Counter({ name: 'sluice_token_rechecks_total', help: 'Batches whose unknown tokens were re-checked after catching up with the control log', registers: r }),
    captureRequests: new client.Counter({ name: 'sluice_capture_requests_total', help: 'Requests answered by the capture endpoint, by HTTP status', labelNames: ['status'] as const, registers: r }),
    captureEvents: new client.Counter({ name: 'sluice_capture_events_total', help: 'Events accepted by the capture endpoint (produced to the input topic and acknowledged)', registers: r }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
