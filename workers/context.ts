// What steps may read besides the event: the resolved control snapshot and the
// task's clock. Warnings are tallied here (written by the event-semantics work).
import type { ResolvedEnvironment } from './environment'
import type { WarningType } from './result'

export interface StepContext {
  readonly environmentsByToken: ReadonlyMap<string, ResolvedEnvironment>
  /** processing time of this task, ms */
  readonly nowMs: number
  readonly warnings: Partial<Record<WarningType, number>>
}

export type Step = (event: import('./event').WorkingEvent, ctx: StepContext) => import('./result').StepResult

export function warn(ctx: StepContext, type: WarningType): void {
  ctx.warnings[type] = (ctx.warnings[type] ?? 0) + 1
}
