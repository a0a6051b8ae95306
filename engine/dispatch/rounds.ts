// The rounds policy: what becomes of the messages a task could not finish.
// A message whose token is unknown waits, once, for the control log to be
// caught up (an instance never calls a token unknown while it may lag); one
// whose group type has no index waits, once, for its claim to be folded.
// Each waits at most once, so MAX_ROUNDS rounds settle every message; what
// is left after them is dead-lettered. Pure (test/unit/rounds.test.ts); the
// driver in engine/dispatch/ingest.ts does the waiting.

export const MAX_ROUNDS = 4

export interface RoundState {
  /** the control log was caught up once for this batch already */
  tokensRechecked: boolean
  /** this batch's claims were folded: the re-run claims nothing again */
  claimsSettled: boolean
}

export interface RoundPlan {
  /** unknown tokens: catch up with the control log, then re-run or drop (see afterRecheck) */
  unresolved: 'none' | 'recheck' | 'drop'
  /** claim the group types, then re-run the waiting messages */
  claim: boolean
}

export function planRound(state: RoundState, found: { unresolved: number; pending: number }): RoundPlan {
  return {
    unresolved: found.unresolved === 0 ? 'none' : state.tokensRechecked ? 'drop' : 'recheck',
    claim: found.pending > 0,
  }
}

/** After catching up: a token is unknown for good unless the control state moved meanwhile. */
export function afterRecheck(versionBefore: number, versionAfter: number): 'rerun' | 'drop' {
  return versionAfter !== versionBefore ? 'rerun' : 'drop'
}

/** The reason given to a message still unsettled after MAX_ROUNDS. */
export const UNSETTLED = 'the message did not settle after its token check and group type claims'
