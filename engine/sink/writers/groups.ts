// `$groupidentify` → the group's row in `groups` holding its full properties
// after `$group_set` (later values win, keys not mentioned keep theirs). The
// current properties come from an in-memory cache, loaded from ClickHouse on
// a miss (one query per batch). Merges are serialized within this instance
// so that two batches never merge onto the same stale copy.
// A group's `created_at` is the earliest event timestamp seen for it (issue
// 15 rule 9, as PostHog's group store keeps the first event's time:
// nodejs/src/worker/ingestion/groups/ and its `created_at` of the upsert),
// never the time Sluice processed the event: replayed or late events must
// not move it. Times in one ClickHouse text format compare as strings.
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { GroupUpdate } from '../../../workers/protocol'
import { formatDateTime } from '../../../workers/clickhouse-types'
import type { TableRows } from './batcher'
import { quoteInteger, quoteString } from '../format/escape'
import { retrying } from '../../retrying'
import { jsonText } from '../../../workers/well-formed'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'

interface GroupState { properties: Record<string, unknown>; createdAt: string }

const keyOf = (team: number, index: number, key: string) => `${team}\u0000${index}\u0000${key}`

export class GroupMerger {
  private readonly cache = new LRUCache<string, GroupState>({ max: 100_000 })
  private chain: Promise<unknown> = Promise.resolve()

  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema, private readonly log: Logger) {}

  rows(updates: readonly GroupUpdate[], nowMs: number): Promise<TableRows[]> {
    if (updates.length === 0) return Promise.resolve([])
    const next = this.chain.then(() => this.merge(updates, nowMs))
    this.chain = next.catch(() => undefined)
    return next
  }

  private async load(missing: GroupUpdate[]): Promise<void> {
    for (let i = 0; i < missing.length; i += 500) {
      const tuples = missing.slice(i, i + 500).map(([team, index, key]) => `(${quoteInteger(team)}, ${quoteInteger(index)}, ${quoteString(key)})`)
      const sql = `SELECT team_id, group_type_index, group_key, group_properties, created_at FROM ${this.schema.tables.groups} FINAL
        WHERE (team_id, group_type_index, group_key) IN (${tuples.join(', ')})`
      const rows = await retrying(() => this.store.query<{ team_id: string | number; group_type_index: number; group_key: string; group_properties: string; created_at: string }>(sql), {
        log: this.log, what: 'reading groups from ClickHouse',
      })
      for (const r of rows) {
        let properties: Record<string, unknown> = {}
        try { properties = JSON.parse(r.group_properties) as Record<string, unknown> } catch { /* keep {} */ }
        this.cache.set(keyOf(Number(r.team_id), Number(r.group_type_index), r.group_key), { properties, createdAt: r.created_at })
      }
    }
  }

  private async merge(updates: readonly GroupUpdate[], nowMs: number): Promise<TableRows[]> {
    const seen = new Set<string>()
    const missing: GroupUpdate[] = []
    for (const u of updates) {
      const [team, index, key] = u
      const k = keyOf(team, index, key)
      if (!seen.has(k) && !this.cache.has(k)) missing.push(u)
      seen.add(k)
    }
    if (missing.length > 0) await this.load(missing)
    const now = formatDateTime(nowMs, this.schema.dateTime)
    const changed = new Map<string, [GroupUpdate, GroupState]>()
    // in timestamp order, so that the later $group_set wins within a batch
    const timestampOf = ([, , , , timestampMs]: GroupUpdate) => timestampMs
    for (const u of [...updates].sort((a, b) => timestampOf(a) - timestampOf(b))) {
      const [team, index, key, groupSet, timestampMs] = u
      const k = keyOf(team, index, key)
      // a group's created_at is the earliest event time seen for it (issue 15 rule 9)
      const eventTime = formatDateTime(timestampMs, this.schema.dateTime)
      const current = this.cache.get(k) ?? { properties: {}, createdAt: eventTime }
      let set: Record<string, unknown> = {}
      try { set = JSON.parse(groupSet) as Record<string, unknown> } catch { /* workers send objects only */ }
      const createdAt = eventTime < current.createdAt ? eventTime : current.createdAt
      const next: GroupState = { properties: { ...current.properties, ...set }, createdAt }
      this.cache.set(k, next)
      changed.set(k, [u, next])
    }
    let text = ''
    for (const [[team_id, group_type_index, group_key], state] of changed.values()) {
      text += jsonText({ team_id, group_type_index, group_key, group_properties: jsonText(state.properties), created_at: state.createdAt, _timestamp: now }) + '\n'
    }
    return [{ table: this.schema.tables.groups, chunk: Buffer.from(text), rows: changed.size }]
  }
}
