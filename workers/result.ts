// Outcomes of the per-message steps, as data (PostHog's pipelines/results.ts).
// The common path allocates nothing: ok() is one frozen constant. Reasons are
// closed unions of literals, reused as metric label values (bounded cardinality).

export type DropReason =
  | 'no_token'
  | 'invalid_token'
  | 'invalid_distinct_id'
  | 'invalid_event_name'
  | 'event_filtered'
  | 'event_too_old'
  | 'group_key_too_long'
  | 'invalid_process_person_profile'
  | 'client_ingestion_warning'
  | 'performance_event'
  | 'heatmap_event'
  | 'heatmap_invalid_viewport_dimensions'

export type DeadLetterReason =
  | 'invalid_json'
  | 'invalid_data'
  | 'invalid_uuid'
  | 'message_too_large'
  | 'processing_error'

export type WarningType =
  | 'ignored_invalid_timestamp'
  | 'event_timestamp_in_future'
  | 'group_type_limit_exceeded'
  | 'group_key_too_long'
  | 'invalid_group_identify'
  | 'skipping_event_invalid_distinct_id'
  | 'event_dropped_too_old'
  | 'client_ingestion_warning'
  | 'invalid_heatmap_data'
  | 'rejecting_heatmap_data_with_invalid_url'
  | 'rejecting_heatmap_data_with_invalid_items'
  | 'cannot_merge_with_illegal_distinct_id'
  | 'cannot_merge_already_identified'
  | 'invalid_process_person_profile'
  | 'invalid_person_properties'

export const DROP_REASONS: readonly DropReason[] = ['no_token', 'invalid_token', 'invalid_distinct_id', 'invalid_event_name', 'event_filtered', 'event_too_old', 'group_key_too_long', 'invalid_process_person_profile', 'client_ingestion_warning', 'performance_event', 'heatmap_event', 'heatmap_invalid_viewport_dimensions']
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = ['invalid_json', 'invalid_data', 'invalid_uuid', 'message_too_large', 'processing_error']

export interface Ok { readonly kind: 'ok' }
export interface Drop { readonly kind: 'drop'; readonly reason: DropReason }
/** The token is not in this worker's snapshot: the main thread decides, once it knows it is caught up with the control log. */
export interface Unresolved { readonly kind: 'unresolved' }
/** A group type has no index yet: the main thread claims it through the control log and runs the event again. */
export interface NeedsClaim { readonly kind: 'needs_claim' }
export interface DeadLetter { readonly kind: 'dead_letter'; readonly reason: DeadLetterReason; readonly error: string }

export type StepResult = Ok | Drop | Unresolved | NeedsClaim | DeadLetter

const OK: Ok = Object.freeze({ kind: 'ok' })
const UNRESOLVED: Unresolved = Object.freeze({ kind: 'unresolved' })
const NEEDS_CLAIM: NeedsClaim = Object.freeze({ kind: 'needs_claim' })
const DROPS = Object.fromEntries(DROP_REASONS.map((r) => [r, Object.freeze({ kind: 'drop', reason: r })])) as Record<DropReason, Drop>

export const ok = (): Ok => OK
export const drop = (reason: DropReason): Drop => DROPS[reason]
export const unresolved = (): Unresolved => UNRESOLVED
export const needsClaim = (): NeedsClaim => NEEDS_CLAIM
export const deadLetter = (reason: DeadLetterReason, error: string): DeadLetter => ({ kind: 'dead_letter', reason, error })
