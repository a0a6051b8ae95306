// The commit path: what the batcher acknowledged becomes offset commits.
//
//   batcher ack ─► OffsetTracker.complete (done prefix per partition)
//              ─► Committer.acknowledged: async commit, remember the last point
//   shutdown   ─► Committer.final: one synchronous commit of every last point
//   revocation ─► Committer.forget: a revoked partition's points never commit
//   refused    ─► Committer.commitFailed: the last points again, RECOMMIT_MS later
//                 (a commit refused during a rebalance is otherwise repeated
//                 only by the next acknowledged batch, never on an idle topic)
//
// It also counts committed messages for SLUICE_STOP_AFTER_EVENTS (benchmarks).
// The consumer is reached through a two-method port so that this logic is
// tested without a broker (test/unit/engine/source/committer.test.ts).
import type { CommitPoint } from './offsets'

export interface CommitPort {
  /** asynchronous, cumulative: a failed one is repeated by the next */
  commit(points: readonly CommitPoint[]): void
  /** synchronous: on the broker before the group is left */
  commitSync(points: readonly CommitPoint[]): void
}

/** Wait before re-committing after a refused commit: a rebalance usually settles within a few heartbeats. */
export const RECOMMIT_MS = 1_000

export class Committer {
  private readonly last = new Map<number, CommitPoint>()
  private committedMessages = 0
  private stopSignalled = false
  private recommit: NodeJS.Timeout | undefined
  private finished = false

  constructor(
    private readonly port: CommitPort,
    /** called once when `stopAfterEvents` messages are committed */
    private readonly onStopAfter: () => void = () => undefined,
    private readonly stopAfterEvents: number | undefined = undefined,
  ) {}

  /** Points that moved after `messages` consumed messages were acknowledged. */
  acknowledged(points: readonly CommitPoint[], messages: number): void {
    this.port.commit(points)
    for (const p of points) this.last.set(p.partition, p)
    this.committedMessages += messages
    if (!this.stopSignalled && this.stopAfterEvents !== undefined && this.committedMessages >= this.stopAfterEvents) {
      this.stopSignalled = true
      this.onStopAfter()
    }
  }

  forget(partitions: readonly number[]): void {
    for (const p of partitions) this.last.delete(p)
  }

  /** A commit was refused: commits the last points again after `delayMs` (one pending at a time; they are cumulative). */
  commitFailed(delayMs = RECOMMIT_MS): void {
    if (this.finished || this.recommit) return
    this.recommit = setTimeout(() => {
      this.recommit = undefined
      if (!this.finished && this.last.size > 0) this.port.commit([...this.last.values()])
    }, delayMs)
    this.recommit.unref()
  }

  /** The last commit before leaving the group. */
  final(): void {
    this.finished = true
    clearTimeout(this.recommit)
    this.port.commitSync([...this.last.values()])
  }

  get committed(): number {
    return this.committedMessages
  }
}
