// The piscina pool running workers/index.ts. Each task is one packed batch:
// its values are shared memory or in the transfer list, so they are never
// cloned (engine/dispatch/pack.ts).
import path from 'node:path'
import Piscina from 'piscina'
import { decodeTaskOutput, type RowEncoding, type SnapshotRef, type TaskInput, type TaskOutput } from '../../workers/protocol'
import type { Metrics } from '../metrics'
import type { PackedBatch } from './pack'

export const WORKER_FILE = path.join(__dirname, '..', '..', 'workers', 'index.js')

/** each worker thread's young generation, MiB (piscina resourceLimits; V8's default is up to 48) */
export const WORKER_YOUNG_GENERATION_MB = 16

export class WorkerPool {
  private readonly pool: Piscina
  private closing = false

  /** the workers' OS thread ids (sluice_thread_cpu_seconds) */
  private readonly threadIds: Set<number> | undefined

  constructor(threads: number, encoding: RowEncoding, metrics?: Metrics) {
    this.threadIds = metrics?.workerThreadIds
    // a worker's young generation capped: little of what a task allocates survives it, so a smaller one costs
    // little more collection, and each thread's default (up to 48 MiB) is resident memory
    this.pool = new Piscina({
      filename: WORKER_FILE, minThreads: threads, maxThreads: threads, workerData: encoding, idleTimeout: 60_000,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    })
    // min = max threads, so no thread retires while the pool runs: a destroyed one died, and Piscina starts another
    this.pool.on('workerDestroy', () => { if (!this.closing) metrics?.workerThreadsReplaced.inc() })
    // a thread that dies between tasks is reported here; one that dies in a task fails that task (engine/dispatch/ingest.ts retries it)
    this.pool.on('error', () => undefined)
  }

  async run(batch: PackedBatch, topic: string, snapshot: SnapshotRef, claimsSettled = false): Promise<TaskOutput> {
    const task: TaskInput = { values: batch.values, meta: batch.meta, topic, snapshot, nowMs: Date.now(), claimsSettled }
    // shared memory is passed as it is; a copied subset and the metadata are transferred
    const transferList = batch.values instanceof ArrayBuffer ? [batch.values, batch.meta.buffer as ArrayBuffer] : [batch.meta.buffer as ArrayBuffer]
    const out = decodeTaskOutput((await this.pool.run(task, { transferList })) as ArrayBuffer)
    const tid = out.header.threadId
    if (tid !== undefined && this.threadIds !== undefined && !this.threadIds.has(tid) && this.threadIds.size < 1024) this.threadIds.add(tid)
    return out
  }

  get threads(): number {
    return this.pool.threads.length
  }

  async close(): Promise<void> {
    this.closing = true
    await this.pool.close()
  }
}
