// The piscina pool running workers/index.ts. Each task is one packed batch:
// its values are shared memory or in the transfer list, so they are never
// cloned (engine/dispatch/pack.ts).
import path from 'node:path'
import Piscina from 'piscina'
import { decodeTaskOutput } from '../../workers/encode'
import type { RowEncoding, SnapshotRef, TaskInput, TaskOutput } from '../../workers/protocol'
import type { PackedBatch } from './pack'

export const WORKER_FILE = path.join(__dirname, '..', '..', 'workers', 'index.js')

export class WorkerPool {
  private readonly pool: Piscina

  constructor(threads: number, encoding: RowEncoding) {
    this.pool = new Piscina({ filename: WORKER_FILE, minThreads: threads, maxThreads: threads, workerData: encoding, idleTimeout: 60_000 })
  }

  async run(batch: PackedBatch, topic: string, snapshot: SnapshotRef, claimsSettled = false): Promise<TaskOutput> {
    const task: TaskInput = { values: batch.values, meta: batch.meta, topic, snapshot, nowMs: Date.now(), claimsSettled }
    // shared memory is passed as it is; a copied subset and the metadata are transferred
    const transferList = batch.values instanceof ArrayBuffer ? [batch.values, batch.meta.buffer as ArrayBuffer] : [batch.meta.buffer as ArrayBuffer]
    const out = (await this.pool.run(task, { transferList })) as ArrayBuffer
    return decodeTaskOutput(out)
  }

  get threads(): number {
    return this.pool.threads.length
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}
