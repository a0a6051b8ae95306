// When to snapshot the control log, and whether a snapshot read back agrees
// with this instance's own fold. Pure decisions; engine/control/log.ts does
// the producing and the logging.
//
//   … cmd cmd [checkpoint X] cmd [snapshot 1/3] cmd [snapshot 2/3] [snapshot 3/3] cmd …
//                   │                    └── state right after X, hash H ──┘
//                   └── every instance records its own hash (and image) at X
//
// A checkpoint is due once `everyCommands` commands or `everyBytes` bytes of
// commands were folded since the last one (snapshot chunks do not count:
// snapshots must not cause snapshots), and at least as many bytes of commands
// as the last snapshot took on the log: a large state is not rewritten after
// every few commands, so snapshots never take more of the log than the
// commands they summarize. Several instances may find it due at once and
// each append a checkpoint: harmless, they only cost space.
import type { ControlState } from './fold'
import { encodeImage, firstDifference, stateImage, type StateImage } from './state-image'

export interface SnapshotPolicy {
  everyCommands: number
  everyBytes: number
}

/** Own images kept for comparison with snapshots still being written. */
export const KEPT_IMAGES = 3

export interface RecordedCheckpoint { offset: number; image: StateImage; text: string; hash: string }

export type Verdict =
  | { kind: 'agrees' }
  | { kind: 'diverged'; difference: string }
  /** no own record of that offset (it predates this instance's fold) */
  | { kind: 'unknown' }

export class Checkpoints {
  private commandsSince = 0
  private bytesSince = 0
  private readonly recorded: RecordedCheckpoint[] = []
  /** base offset of the newest snapshot read back complete, -1 before the first */
  newestSnapshot = -1
  /** what the newest snapshot read back took on the log */
  private lastSnapshotBytes = 0

  constructor(private readonly policy: SnapshotPolicy) {}

  /** A state-changing command of `bytes` was folded. */
  counted(bytes: number): void {
    this.commandsSince++
    this.bytesSince += bytes
  }

  /** commands were folded since the last checkpoint */
  get anySince(): boolean {
    return this.commandsSince > 0
  }

  get due(): boolean {
    return (this.commandsSince >= this.policy.everyCommands || this.bytesSince >= this.policy.everyBytes) && this.bytesSince >= this.lastSnapshotBytes
  }

  /** A complete snapshot of `payloadBytes` was read back. */
  snapshotSize(payloadBytes: number): void {
    this.lastSnapshotBytes = payloadBytes
  }

  /** A checkpoint was folded at `offset`: records this instance's state there. */
  record(offset: number, state: ControlState): RecordedCheckpoint {
    this.commandsSince = 0
    this.bytesSince = 0
    const image = stateImage(state)
    const r = { offset, image, ...encodeImage(image) }
    this.recorded.push(r)
    if (this.recorded.length > KEPT_IMAGES) this.recorded.shift()
    return r
  }

  /** Adopts a snapshot's state as this instance's own record at its base (a start from that snapshot). */
  adopt(offset: number, image: StateImage, text: string, hash: string): void {
    this.recorded.push({ offset, image, text, hash })
    if (this.recorded.length > KEPT_IMAGES) this.recorded.shift()
    this.newestSnapshot = Math.max(this.newestSnapshot, offset)
  }

  recordAt(offset: number): RecordedCheckpoint | undefined {
    return this.recorded.find((r) => r.offset === offset)
  }

  /** Compares a complete snapshot with this instance's own state at its base. */
  verify(baseOffset: number, hash: string, image: StateImage): Verdict {
    this.newestSnapshot = Math.max(this.newestSnapshot, baseOffset)
    const mine = this.recordAt(baseOffset)
    if (!mine) return { kind: 'unknown' }
    if (mine.hash === hash) return { kind: 'agrees' }
    return { kind: 'diverged', difference: firstDifference(mine.image, image) ?? 'the state texts differ' }
  }
}
