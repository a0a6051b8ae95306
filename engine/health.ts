// What /healthz and /readyz answer (engine/http/server.ts serves them).
//
// Liveness (/healthz): is this process still doing its job, or should it be
// restarted? Only the consume loops count: the ingestion loop iterates every
// ~100 ms even while partitions are paused for backpressure; the group-update
// loop (engine/source/group-consumer.ts) every ~100 ms, or is writing a batch
// that is retried until ClickHouse acknowledges it. So ClickHouse or Kafka
// being away never makes an instance "dead" (a restart would not bring them back).
//
// Readiness (/readyz): can this instance do useful work now?
//   consumer     partitions assigned, or waiting for an assignment (more
//                instances than partitions is a normal state); fails only
//                once shutdown began
//   group_consumer  the group-update consumer is connected (started once the
//                control state is complete); partitions of SLUICE_GROUPS_TOPIC
//                assigned, or waiting for an assignment, as for `consumer`;
//                fails once shutdown began
//   clickhouse   `SELECT 1` answers within CLICKHOUSE_PROBE_MS, and the
//                batcher's inserts are not failing
//   clickhouse_cluster  (SLUICE_CLICKHOUSE_CLUSTER only) every shard has a
//                replica that answers; unreachable replicas are named
//                (engine/sink/cluster-health.ts)
//   control_log  this instance folded everything the control log held at
//                some moment in the last CONTROL_FRESH_MS (the high watermark
//                is re-read every 5 s by engine/control/log.ts); fails with
//                the operator's instructions while the retained log holds no
//                snapshot to start from
//
// Both answer JSON: {ok, status, failing: [names], checks: {name: {ok, detail}}}.
import type { ControlLog } from './control/log'
import type { HealthCheck } from './http/server'
import type { InsertBatcher } from './sink/writers/batcher'
import type { ClickHouseStore } from './sink/transport/store'
import type { IngestionConsumer } from './source/consumer'
import type { GroupUpdateConsumer } from './source/group-consumer'

export const LOOP_STALE_MS = 30_000
export const CLICKHOUSE_PROBE_MS = 2_000
export const CONTROL_FRESH_MS = 30_000

export interface HealthSources {
  consumer: Pick<IngestionConsumer, 'lastLoopAt' | 'assigned'>
  groups: Pick<GroupUpdateConsumer, 'lastLoopAt' | 'writingSince' | 'assigned' | 'connected'>
  control: Pick<ControlLog, 'ready' | 'caughtUpAt' | 'state' | 'problem'>
  store: Pick<ClickHouseStore, 'query'>
  batcher: Pick<InsertBatcher, 'failingSince'>
  /** cluster mode: probes every shard and replica */
  cluster?: { check(): Promise<{ ok: boolean; detail: string }> }
  /** true once shutdown began */
  stopping: () => boolean
}

function verdict(checks: HealthCheck['checks']): HealthCheck {
  const failing = Object.keys(checks).filter((k) => !checks[k].ok)
  return { ok: failing.length === 0, status: failing.length === 0 ? 'ok' : 'unavailable', failing, checks }
}

function loopCheck(lastLoopAt: number, now: number): { ok: boolean; detail: string } {
  const age = now - lastLoopAt
  const ok = age < LOOP_STALE_MS
  return { ok, detail: ok ? `last iteration ${age} ms ago` : `no iteration for ${age} ms (limit ${LOOP_STALE_MS} ms)` }
}

/** The group-update loop: alive when iterating, or while it writes a batch (retried until ClickHouse acknowledges: readiness reports ClickHouse). */
function groupLoopCheck(g: HealthSources['groups'], now: number): { ok: boolean; detail: string } {
  if (g.writingSince !== 0) return { ok: true, detail: `writing a batch of group updates for ${now - g.writingSince} ms (retried until ClickHouse acknowledges it)` }
  return loopCheck(g.lastLoopAt, now)
}

export function liveness(s: HealthSources, now = Date.now()): HealthCheck {
  const age = now - s.consumer.lastLoopAt
  if (s.stopping()) {
    return verdict({
      consume_loop: { ok: true, detail: `stopping; last iteration ${age} ms ago` },
      group_update_loop: { ok: true, detail: `stopping; last iteration ${now - s.groups.lastLoopAt} ms ago` },
    })
  }
  // an instance refusing to serve stays alive: it starts by itself once a snapshot is written (readiness says why it waits)
  if (s.control.problem) {
    const waiting = { ok: true, detail: 'not started: waiting for a complete control state' }
    return verdict({ consume_loop: waiting, group_update_loop: waiting })
  }
  return verdict({ consume_loop: loopCheck(s.consumer.lastLoopAt, now), group_update_loop: groupLoopCheck(s.groups, now) })
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

async function clickhouseCheck(s: HealthSources): Promise<{ ok: boolean; detail?: string }> {
  try {
    await withTimeout(s.store.query('SELECT 1 AS ok'), CLICKHOUSE_PROBE_MS, 'SELECT 1')
  } catch (err) {
    return { ok: false, detail: `unreachable: ${(err as Error).message}` }
  }
  const since = s.batcher.failingSince
  if (since !== 0) return { ok: false, detail: `reachable, but inserts failing since ${new Date(since).toISOString()}` }
  return { ok: true }
}

function controlCheck(s: HealthSources, now: number): { ok: boolean; detail: string } {
  const offset = s.control.state.offset
  const problem = s.control.problem
  if (problem) return { ok: false, detail: problem }
  if (!s.control.ready) return { ok: false, detail: 'not caught up since start' }
  const age = now - s.control.caughtUpAt
  const ok = age < CONTROL_FRESH_MS
  return { ok, detail: `folded offset ${offset}; last caught up ${age} ms ago${ok ? '' : ` (limit ${CONTROL_FRESH_MS} ms)`}` }
}

function groupConsumerCheck(s: HealthSources): { ok: boolean; detail: string } {
  if (s.stopping()) return { ok: false, detail: 'shutting down' }
  if (!s.groups.connected) return { ok: false, detail: 'not connected: starts once the control state is complete' }
  const assigned = s.groups.assigned
  return { ok: true, detail: assigned.length > 0 ? `update-topic partitions ${assigned.join(',')}` : 'waiting for assignment' }
}

export async function readiness(s: HealthSources): Promise<HealthCheck> {
  const clickhouse = await clickhouseCheck(s)
  const now = Date.now()
  const assigned = s.consumer.assigned
  return verdict({
    consumer: s.stopping()
      ? { ok: false, detail: 'shutting down' }
      : { ok: true, detail: assigned.length > 0 ? `partitions ${assigned.join(',')}` : 'waiting for assignment' },
    group_consumer: groupConsumerCheck(s),
    clickhouse,
    ...(s.cluster ? { clickhouse_cluster: await s.cluster.check() } : {}),
    control_log: controlCheck(s, now),
  })
}
