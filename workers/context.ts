// What steps may read besides the event (the resolved control snapshot, the
// task's clock) and where they leave what is not a row of `events`:
// warnings, group type claims, group updates and taxonomy observations. The
// task's header carries these to the main thread.
import type { ResolvedEnvironment } from './environment'
import type { WorkingEvent } from './event'
import type { GroupUpdate, Observations, WarningRecord } from './protocol'
import type { StepResult, WarningType } from './result'
import type { ReportedKey } from './steps/extract-definitions'
import { jsonText } from './well-formed'

export interface StepContext {
  readonly environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>
  /** processing time of this task, ms */
  readonly nowMs: number
  /** true on the re-run after this task's group type claims were folded: claim nothing again */
  readonly claimsSettled: boolean
  readonly warnings: WarningRecord[]
  /** "projectId\0group type" → [projectId, group type] */
  readonly claims: Map<string, [number, string]>
  readonly groupUpdates: GroupUpdate[]
  readonly observations: Observations
  /** de-dup keys of this message's observations, remembered once its row is encoded */
  readonly reportedKeys: ReportedKey[]
}

export type Step = (event: WorkingEvent, ctx: StepContext) => StepResult

/** An ingestion warning for the event's environment; `key` narrows the rate limit (e.g. the group type). */
export function warn(ctx: StepContext, event: WorkingEvent, type: WarningType, details: Record<string, unknown> = {}, key = ''): void {
  ctx.warnings.push([event.teamId, type, jsonText({ event_uuid: event.uuid, ...details }), key])
}

export function newContext(environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>, nowMs: number, claimsSettled: boolean): StepContext {
  return {
    environmentsByToken, nowMs, claimsSettled, warnings: [], claims: new Map(), groupUpdates: [],
    observations: { eventDefinitions: [], propertyDefinitions: [], eventProperties: [] },
    reportedKeys: [],
  }
}
