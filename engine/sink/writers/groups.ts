// The group writer: applies the updates of the SLUICE_GROUPS_TOPIC partitions
// this instance owns (engine/source/group-consumer.ts) to the groups' rows in
// `groups`, each row holding the group's full properties after a `$group_set`
// (later values win, keys not mentioned keep theirs). One partition has one
// owner, so one instance alone writes a group, in the topic's order: no
// lost updates between instances (issue 19).
//
//   updates (partition order) ─► cache miss? load from ClickHouse (argMax by _version)
//     ─► applyGroupUpdates (pure) ─► insert, retried until acknowledged ─► cache ─► commit (caller)
//
// The cache holds only groups of owned partitions: forget() drops a revoked
// partition's groups, and the next owner loads them from ClickHouse, where
// the previous owner's last write is already acknowledged (the consumer gives
// a partition up only after its batch in flight is written and committed).
//
// Rows are derived from their source: `_version` is the update-topic offset
// of the last update applied (+1, so that rows written before versions
// existed, version 0, lose), `_timestamp` that message's Kafka timestamp. A
// replay after a crash applies the same updates again; a merge is
// idempotent (set semantics), so the rows converge to the same properties.
// A group's `created_at` is the earliest event timestamp seen for it (issue
// 15 rule 9, as PostHog's group store keeps the first event's time), never
// the time Sluice processed the event. Times in one ClickHouse text format
// compare as strings.
import { lruOf } from './lru'
import type { Logger } from 'pino'
import { formatDateTime } from '../../../workers/clickhouse-types'
import type { DateTimeFlavor } from '../../../workers/protocol'
import { quoteInteger, quoteString } from '../format/escape'
import type { DecodedGroupUpdate } from '../format/group-update-message'
import { retrying } from '../../retrying'
import type { Metrics } from '../../metrics'
import { jsonText } from '../../../workers/well-formed'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'

export interface GroupState { properties: Record<string, unknown>; createdAt: string }

/** An update as the owner applies it: decoded, with its place on the update topic. */
export interface SourcedGroupUpdate extends DecodedGroupUpdate {
  partition: number
  offset: number
  /** the update message's Kafka timestamp (ms) */
  producedMs: number
}

export interface AppliedGroups {
  /** the state after the batch, per changed group, with the last update that changed it (first-change order) */
  changed: Map<string, { update: SourcedGroupUpdate; state: GroupState }>
  /** JSONEachRow rows of `groups`, one per changed group */
  chunk: Buffer
}

export const groupKeyOf = (team: number, index: number, key: string): string => `${team}\u0000${index}\u0000${key}`

/**
 * Pure: applies `updates` in the given order (the update topic's, within a
 * partition) onto the states `current` knows; a group it does not know is new.
 */
export function applyGroupUpdates(updates: readonly SourcedGroupUpdate[], current: (k: string) => GroupState | undefined, dateTime: DateTimeFlavor): AppliedGroups {
  const changed = new Map<string, { update: SourcedGroupUpdate; state: GroupState }>()
  for (const u of updates) {
    const k = groupKeyOf(u.team, u.index, u.key)
    const eventTime = formatDateTime(u.timestampMs, dateTime)
    const seen = changed.get(k)
    // copied once per group and batch, then changed in place: a batch of many updates of one group stays linear
    const state = seen?.state ?? copyOf(current(k) ?? { properties: {}, createdAt: eventTime })
    setAll(state.properties, u.set)
    if (eventTime < state.createdAt) state.createdAt = eventTime
    if (seen) seen.update = u
    else changed.set(k, { update: u, state })
  }
  let text = ''
  for (const { update: u, state } of changed.values()) {
    text += jsonText({
      team_id: u.team, group_type_index: u.index, group_key: u.key, group_properties: jsonText(state.properties), created_at: state.createdAt,
      _timestamp: formatDateTime(u.producedMs, dateTime), _version: u.offset + 1,
    }) + '\n'
  }
  return { changed, chunk: Buffer.from(text) }
}

/** Later values win. Own keys only: a `__proto__` key is a property like any other (Object.assign would set the prototype). */
function setAll(target: Record<string, unknown>, set: Record<string, unknown>): void {
  for (const k of Object.keys(set)) {
    if (k === '__proto__') Object.defineProperty(target, k, { value: set[k], writable: true, enumerable: true, configurable: true })
    else target[k] = set[k]
  }
}

const copyOf = (s: GroupState): GroupState => ({ properties: { ...s.properties }, createdAt: s.createdAt })

interface CachedGroup extends GroupState { partition: number }

export class GroupWriter {
  private readonly cache = lruOf<string, CachedGroup>(100_000)

  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema, private readonly metrics: Metrics, private readonly log: Logger) {}

  /** Applies one consumed batch of owned updates; resolves once ClickHouse acknowledged the rows (retried until it does). */
  async write(updates: readonly SourcedGroupUpdate[]): Promise<void> {
    if (updates.length === 0) return
    await this.load(updates)
    const applied = applyGroupUpdates(updates, (k) => this.cache.get(k), this.schema.dateTime)
    await retrying(() => this.store.insert(this.schema.tables.groups, [applied.chunk]), { log: this.log, what: 'inserting group rows', fields: { rows: applied.changed.size } })
    for (const [k, { update, state }] of applied.changed) this.cache.set(k, { ...state, partition: update.partition })
    this.metrics.eventsInserted.inc({ table: this.schema.tables.groups }, applied.changed.size)
    this.metrics.groupUpdatesApplied.inc(updates.length)
  }

  /** The partitions moved to another owner: their groups are that owner's now. */
  forget(partitions: readonly number[]): void {
    const gone = new Set(partitions)
    for (const [k, g] of this.cache.entries()) if (gone.has(g.partition)) this.cache.delete(k)
  }

  /** Groups not cached: their newest row (highest _version; rows from before versions by _timestamp), one query per 500. */
  private async load(updates: readonly SourcedGroupUpdate[]): Promise<void> {
    const missing = new Map<string, SourcedGroupUpdate>()
    for (const u of updates) {
      const k = groupKeyOf(u.team, u.index, u.key)
      if (!missing.has(k) && !this.cache.has(k)) missing.set(k, u)
    }
    const list = [...missing.values()]
    for (let i = 0; i < list.length; i += 500) {
      const tuples = list.slice(i, i + 500).map((u) => `(${quoteInteger(u.team)}, ${quoteInteger(u.index)}, ${quoteString(u.key)})`)
      const sql = `SELECT team_id, group_type_index, group_key, argMax(group_properties, (_version, _timestamp)) AS props, min(created_at) AS created
        FROM ${this.schema.tables.groups} WHERE (team_id, group_type_index, group_key) IN (${tuples.join(', ')})
        GROUP BY team_id, group_type_index, group_key`
      const rows = await retrying(() => this.store.query<{ team_id: string | number; group_type_index: number; group_key: string; props: string; created: string }>(sql), {
        log: this.log, what: 'reading groups from ClickHouse',
      })
      for (const r of rows) {
        let properties: Record<string, unknown> = {}
        try { properties = JSON.parse(r.props) as Record<string, unknown> } catch { /* keep {} */ }
        const k = groupKeyOf(Number(r.team_id), Number(r.group_type_index), r.group_key)
        this.cache.set(k, { properties, createdAt: r.created, partition: missing.get(k)?.partition ?? -1 })
      }
    }
  }
}
