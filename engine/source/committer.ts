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
// It also counts committed messages for SLUICE_STOP_AFTER_EVENTS (benchmarks),
// and signals the stop only once the broker has accepted a commit issued at or
// after the limit: a commit sent during a rebalance is refused, and a process
// that left on the count alone left nothing committed (a bench phase of 7 s ran
// entirely inside the mock cluster's ~10 s rebalance, and stalled).
// The consumer is reached through a two-method port so that this logic is
// tested without a broker (test/unit/engine/source/committer.test.ts).
import type { CommitPoint } from './offsets'

export interface CommitPort {
  /** asynchronous, cumulative: a failed one is repeated by the next; false when nothing was sent (no answer will come) */
  commit(points: readonly CommitPoint[]): boolean
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
  /** asynchronous commits sent, and answered by the broker (its answers come in order) */
  private issued = 0
  private answered = 0
  /** the commit whose acceptance signals the stop (its number), once the limit is reached */
  private stopAt: number | undefined

  constructor(
    private readonly port: CommitPort,
    /** called once when `stopAfterEvents` messages are committed */
    private readonly onStopAfter: () => void = () => undefined,
    private readonly stopAfterEvents: number | undefined = undefined,
  ) {}

  /** Points that moved after `messages` consumed messages were acknowledged. */
  acknowledged(points: readonly CommitPoint[], messages: number): void {
    this.commitAsync(points)
    for (const p of points) this.last.set(p.partition, p)
    this.committedMessages += messages
    if (this.stopAt === undefined && this.stopAfterEvents !== undefined && this.committedMessages >= this.stopAfterEvents) this.stopAt = this.issued
  }

  /** The broker accepted the oldest unanswered commit (commits are cumulative: later points include earlier ones). */
  commitAccepted(): void {
    this.answered++
    if (!this.stopSignalled && this.stopAt !== undefined && this.answered >= this.stopAt) {
      this.stopSignalled = true
      this.onStopAfter()
    }
  }

  private commitAsync(points: readonly CommitPoint[]): void {
    if (this.port.commit(points)) this.issued++
  }

  forget(partitions: readonly number[]): void {
    for (const p of partitions) this.last.delete(p)
  }

  /** A commit was refused: commits the last points again after `delayMs` (one pending at a time; they are cumulative). */
  commitFailed(delayMs = RECOMMIT_MS): void {
    this.answered++
    if (this.finished || this.recommit) return
    this.recommit = setTimeout(() => {
      this.recommit = undefined
      if (!this.finished && this.last.size > 0) this.commitAsync([...this.last.values()])
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
