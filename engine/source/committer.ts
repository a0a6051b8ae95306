// The commit path: what the batcher acknowledged becomes offset commits.
//
//   batcher ack ─► OffsetTracker.complete (done prefix per partition)
//              ─► Committer.acknowledged: async commit, remember the last point
//   shutdown   ─► Committer.final: one synchronous commit of every last point
//   revocation ─► Committer.forget: a revoked partition's points never commit
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

export class Committer {
  private readonly last = new Map<number, CommitPoint>()
  private committedMessages = 0
  private stopSignalled = false

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

  /** The last commit before leaving the group. */
  final(): void {
    this.port.commitSync([...this.last.values()])
  }

  get committed(): number {
    return this.committedMessages
  }
}
