// What steps may read besides the event (the resolved control snapshot, the
// task's clock) and where they leave what is not a row of `events`:
// warnings, group type claims, group updates and taxonomy observations. The
// task's header carries these to the main thread.
import type { ResolvedEnvironment } from './environment'
import type { WorkingEvent } from './event'
import type { GroupUpdate, HeatmapRecord, Observations, PersonIntent, WarningRecord } from './protocol'
import type { StepResult, WarningType } from './result'
import type { DefinitionsMemory, ReportedKey } from './definitions-memory'
import { jsonText } from './well-formed'

export interface StepContext {
  /** what this thread already reported of the taxonomy (outlives the task) */
  readonly definitions: DefinitionsMemory
  readonly environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>
  /** processing time of this task, ms */
  readonly nowMs: number
  /** true on the re-run after this task's group type claims were folded: claim nothing again */
  readonly claimsSettled: boolean
  readonly warnings: WarningRecord[]
  /** "projectId\0group type" → [projectId, group type] */
  readonly claims: Map<string, [number, string]>
  readonly groupUpdates: GroupUpdate[]
  /** one per stored event when persons are on (steps/extract-person.ts) */
  readonly personIntents: PersonIntent[]
  /** rows of `heatmaps` (extract-heatmaps.ts) */
  readonly heatmaps: HeatmapRecord[]
  readonly observations: Observations
  /** de-dup keys of this message's observations, remembered once its row is encoded */
  readonly reportedKeys: ReportedKey[]
  /** marks where this message's side outputs begin … */
  checkpoint(): void
  /** … and removes them again: the message failed and leaves nothing behind */
  rollback(): void
}

export type Step = (event: WorkingEvent, ctx: StepContext) => StepResult

/**
 * An ingestion warning for the event's environment; `key` narrows the rate
 * limit (e.g. the group type). `details` open with `eventUuid`, the key
 * PostHog's warnings use (nodejs/src/ingestion/common/ingestion-warnings.ts),
 * so tools that read PostHog's warnings read these.
 */
export function warn(ctx: StepContext, event: WorkingEvent, type: WarningType, details: Record<string, unknown> = {}, key = ''): void {
  ctx.warnings.push([event.teamId, type, jsonText({ eventUuid: event.uuid, ...details }), key])
}

/** The task's context: side outputs, and the marks that undo one message's share of them. */
class TaskContext implements StepContext {
  readonly warnings: WarningRecord[] = []
  readonly claims = new Map<string, [number, string]>()
  readonly groupUpdates: GroupUpdate[] = []
  readonly personIntents: PersonIntent[] = []
  readonly heatmaps: HeatmapRecord[] = []
  readonly observations: Observations = { eventDefinitions: [], propertyDefinitions: [], eventProperties: [] }
  readonly reportedKeys: ReportedKey[] = []
  // lengths at the last checkpoint (numbers, not an array: one message each, on the hot path)
  private warningsMark = 0
  private groupUpdatesMark = 0
  private personIntentsMark = 0
  private heatmapsMark = 0
  private eventDefinitionsMark = 0
  private propertyDefinitionsMark = 0
  private eventPropertiesMark = 0

  constructor(
    readonly environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>,
    readonly nowMs: number,
    readonly claimsSettled: boolean,
    readonly definitions: DefinitionsMemory,
  ) {}

  checkpoint(): void {
    this.warningsMark = this.warnings.length
    this.groupUpdatesMark = this.groupUpdates.length
    this.personIntentsMark = this.personIntents.length
    this.heatmapsMark = this.heatmaps.length
    this.eventDefinitionsMark = this.observations.eventDefinitions.length
    this.propertyDefinitionsMark = this.observations.propertyDefinitions.length
    this.eventPropertiesMark = this.observations.eventProperties.length
  }

  rollback(): void {
    this.warnings.length = this.warningsMark
    this.groupUpdates.length = this.groupUpdatesMark
    this.personIntents.length = this.personIntentsMark
    this.heatmaps.length = this.heatmapsMark
    this.observations.eventDefinitions.length = this.eventDefinitionsMark
    this.observations.propertyDefinitions.length = this.propertyDefinitionsMark
    this.observations.eventProperties.length = this.eventPropertiesMark
    this.reportedKeys.length = 0
  }
}

export function newContext(environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>, nowMs: number, claimsSettled: boolean, definitions: DefinitionsMemory): StepContext {
  return new TaskContext(environmentsByToken, nowMs, claimsSettled, definitions)
}
