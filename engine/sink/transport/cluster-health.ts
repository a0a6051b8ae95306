// Cluster mode's view of every shard and replica (SLUICE_CLICKHOUSE_CLUSTER):
// /readyz names the ones that do not answer, /metrics has one series per
// shard and replica. Probes go through the connected node with remote():
// `SELECT count() FROM remote('host:port', db, events_local)` answers both
// "is it reachable" and "how many rows does it hold" (a count is read from
// part metadata). Verdict: a shard with no reachable replica makes the
// instance unready (its rows cannot be written); a replica down while another
// of its shard answers is named but ready (Distributed inserts go to the
// replica that answers, and the Replicated table catches the other up).
import type { Metrics } from '../../metrics'
import type { ClusterHost } from '../format/cluster-schema'
import { LOCAL_SUFFIX } from '../format/cluster-ddl'
import { quoteString } from '../format/escape'
import type { ClickHouseStore } from './store'

/** Every query of a cluster-mode store: an insert into a Distributed table is acknowledged once the shards hold it, so offsets are committed after the rows are on the shards, not in a local queue. */
export const CLUSTER_SETTINGS = { insert_distributed_sync: 1 } as const

export const PROBE_TIMEOUT_MS = 2_000
export const PROBE_EVERY_MS = 15_000

export interface ReplicaProbe {
  host: ClusterHost
  rows?: number
  /** why it did not answer */
  error?: string
}

export const replicaName = (h: ClusterHost) => `shard ${h.shard} replica ${h.replica} (${h.host}:${h.port})`

/** The readiness verdict of one round of probes (pure; test/unit/cluster-ddl.test.ts). */
export function clusterVerdict(probes: readonly ReplicaProbe[]): { ok: boolean; detail: string } {
  const down = probes.filter((p) => p.error !== undefined)
  const shards = new Set(probes.map((p) => p.host.shard))
  const deadShards = [...shards].filter((s) => probes.every((p) => p.host.shard !== s || p.error !== undefined))
  const up = probes.length - down.length
  const summary = `${shards.size} shard(s), ${up}/${probes.length} replicas answer`
  if (down.length === 0) return { ok: true, detail: summary }
  const named = down.map((p) => `${replicaName(p.host)}: ${p.error}`).join('; ')
  if (deadShards.length > 0) return { ok: false, detail: `shard ${deadShards.join(', ')} unreachable (no replica answers): ${named}` }
  return { ok: true, detail: `${summary}; degraded, unreachable: ${named}` }
}

function firstLine(err: unknown): string {
  const m = (err as Error).message ?? String(err)
  return m.split('\n')[0].slice(0, 200)
}

export class ClusterProbe {
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly store: Pick<ClickHouseStore, 'query'>,
    private readonly hosts: readonly ClusterHost[],
    private readonly database: string,
    /** the sharded table whose rows are counted per replica */
    private readonly table: string,
    private readonly metrics: Pick<Metrics, 'clickhouseReplicaUp' | 'clickhouseShardRows'>,
    private readonly credentials: { user: string; password: string },
  ) {}

  private async probeOne(host: ClusterHost): Promise<ReplicaProbe> {
    const sql = `SELECT count() AS n FROM remote(${quoteString(`${host.host}:${host.port}`)}, ${this.database}, ${this.table}${LOCAL_SUFFIX}, ${quoteString(this.credentials.user)}, ${quoteString(this.credentials.password)})`
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS) })
    try {
      const [{ n }] = await Promise.race([this.store.query<{ n: string | number }>(sql), timeout])
      return { host, rows: Number(n) }
    } catch (err) {
      return { host, error: firstLine(err) }
    } finally {
      clearTimeout(timer)
    }
  }

  /** One round: every replica at once; metrics updated; the readiness verdict. */
  async check(): Promise<{ ok: boolean; detail: string }> {
    const probes = await Promise.all(this.hosts.map((h) => this.probeOne(h)))
    for (const p of probes) {
      const labels = { shard: String(p.host.shard), replica: String(p.host.replica) }
      this.metrics.clickhouseReplicaUp.set(labels, p.error === undefined ? 1 : 0)
      if (p.rows !== undefined) this.metrics.clickhouseShardRows.set({ table: this.table, ...labels }, p.rows)
    }
    return clusterVerdict(probes)
  }

  /** keeps the per-shard metrics fresh between /readyz calls */
  start(): void {
    const tick = () => {
      void this.check().finally(() => {
        if (this.stopped) return
        this.timer = setTimeout(tick, PROBE_EVERY_MS)
        this.timer.unref()
      })
    }
    tick()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}
