// Reads an environment's data back for the admin API and the console ("data
// at a glance"): its newest events, its groups, its ingestion warnings and
// per-minute counts. Every query is scoped by `team_id` first (the sorting
// key of events, groups and warnings). User text reaches SQL only through
// engine/sink/format/escape.ts (ClickHouse 18.16 has no query parameters).
//
// Events are paged newest first by an opaque cursor holding the last row's
// (timestamp, uuid): offsets would shift while events arrive, and a bare
// timestamp would skip rows sharing it (18.16 stores whole seconds).
import { SluiceError } from '../../errors'
import { formatDateTime } from '../../../workers/clickhouse-types'
import { quoteDateTime, quoteInteger, quoteString } from '../format/escape'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'

export interface StoredEvent {
  uuid: string
  event: string
  distinct_id: string
  /**
   * The event's resolved person (README "Persons"): the override of its
   * distinct_id if there is one, else `events.person_id`; null with
   * SLUICE_PERSONS=off or for an event stored without a person.
   */
  person_id: string | null
  timestamp: string
  received_at: string
  properties: unknown
}

export interface EventFilter { limit: number; event?: string; distinctId?: string; beforeMs?: number; cursor?: string }

export interface GroupRow { group_type_index: number; group_key: string; group_properties: unknown; created_at: string }
export interface GroupDetail extends GroupRow {
  events_last_30_days: number
  distinct_ids: { distinct_id: string; events: number; last_seen: string }[]
}

export interface WarningRow { type: string; source: string; details: unknown; timestamp: string }

export interface EnvironmentStats {
  events_per_minute: { minute: string; events: number }[]
  events_last_hour: number
  last_event_at: string | null
  last_received_at: string | null
  warnings_last_24h_by_type: Record<string, number>
}

/** ClickHouse's `YYYY-MM-DD hh:mm:ss[.ffffff]` (UTC) → ISO 8601. */
export function isoTime(ch: string): string {
  return new Date(ch.replace(' ', 'T') + 'Z').toISOString()
}

function parseJson(text: string): unknown {
  try { return JSON.parse(text) } catch { return text }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function encodeCursor(timestamp: string, uuid: string): string {
  return Buffer.from(`${timestamp}|${uuid}`).toString('base64url')
}

/** [ClickHouse timestamp text, uuid]; 400 naming `cursor` when it is not one of ours. */
export function decodeCursor(cursor: string): [string, string] {
  const [ts, uuid] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  if (uuid === undefined || !UUID.test(uuid) || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?$/.test(ts)) {
    const err = new SluiceError('SLUICE_ERR_INVALID_FIELD', 'cursor is not a cursor this API returned')
    ;(err as SluiceError & { field: string }).field = 'cursor'
    throw err
  }
  return [ts, uuid]
}

/** 18.16's DateTime is a UInt32 of seconds: a time past 2105 would wrap around, so bounds are clamped to a range both flavors hold. */
const LATEST_MS = Date.UTC(2100, 0, 1)
const timeBound = (ms: number, flavor: Schema['dateTime']) => quoteDateTime(formatDateTime(Math.max(0, Math.min(LATEST_MS, ms)), flavor), flavor)

const NO_PERSON = '00000000-0000-0000-0000-000000000000'

export class DataReader {
  /** persons: SLUICE_PERSONS=on (events carry person_id; overrides are read) */
  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema, private readonly persons = false) {}

  /**
   * distinct_id → its person from person_distinct_id_overrides (newest
   * version), for one page's distinct_ids: one small query, plain SQL that
   * 18.16, current servers, chDB and a cluster's Distributed tables all run.
   */
  private async overrides(teamId: number, distinctIds: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    if (distinctIds.length === 0) return found
    const rows = await this.store.query<{ distinct_id: string; pid: string }>(
      `SELECT distinct_id, toString(argMax(person_id, version)) AS pid FROM ${this.schema.persons.overrides}
       WHERE team_id = ${quoteInteger(teamId)} AND distinct_id IN (${distinctIds.map(quoteString).join(', ')})
       GROUP BY distinct_id`)
    for (const r of rows) if (r.pid !== NO_PERSON) found.set(r.distinct_id, r.pid)
    return found
  }

  /** The newest events, limit + 1 of them (the extra one says another page exists), and the next cursor. */
  async events(teamId: number, f: EventFilter): Promise<{ rows: StoredEvent[]; cursor: string | null }> {
    const flavor = this.schema.dateTime
    const where = [`team_id = ${quoteInteger(teamId)}`]
    if (f.event !== undefined) where.push(`event = ${quoteString(f.event)}`)
    if (f.distinctId !== undefined) where.push(`distinct_id = ${quoteString(f.distinctId)}`)
    if (f.beforeMs !== undefined) where.push(`timestamp < ${timeBound(f.beforeMs, flavor)}`)
    if (f.cursor !== undefined) {
      const [ts, uuid] = decodeCursor(f.cursor)
      const t = quoteDateTime(ts, flavor)
      where.push(`(timestamp < ${t} OR (timestamp = ${t} AND toString(uuid) < ${quoteString(uuid)}))`)
    }
    // a redelivered event may still be stored twice before ReplacingMergeTree merges: one per uuid
    const person = this.persons ? ', toString(person_id) AS pid' : ''
    const rows = await this.store.query<{ id: string; event: string; distinct_id: string; properties: string; ts: string; received: string; pid?: string }>(
      `SELECT toString(uuid) AS id, event, distinct_id, properties, toString(timestamp) AS ts, toString(_timestamp) AS received${person}
       FROM ${this.schema.tables.events} WHERE ${where.join(' AND ')}
       ORDER BY timestamp DESC, id DESC LIMIT 1 BY id LIMIT ${quoteInteger(f.limit + 1)}`)
    const page = rows.slice(0, f.limit)
    const moved = this.persons ? await this.overrides(teamId, [...new Set(page.map((r) => r.distinct_id))]) : undefined
    const personOf = (r: { distinct_id: string; pid?: string }): string | null => {
      if (moved === undefined) return null
      const pid = moved.get(r.distinct_id) ?? r.pid
      return pid === undefined || pid === NO_PERSON ? null : pid
    }
    const out = page.map((r) => ({
      uuid: r.id, event: r.event, distinct_id: r.distinct_id, person_id: personOf(r), timestamp: isoTime(r.ts), received_at: isoTime(r.received), properties: parseJson(r.properties),
    }))
    const last = rows[f.limit - 1]
    return { rows: out, cursor: rows.length > f.limit && last ? encodeCursor(last.ts, last.id) : null }
  }

  /** Groups by type and key, limit + 1 from offset; `search` matches the key or the properties' text. */
  async groups(teamId: number, f: { groupTypeIndex?: number; search?: string; limit: number; offset: number }): Promise<GroupRow[]> {
    const where = [`team_id = ${quoteInteger(teamId)}`]
    if (f.groupTypeIndex !== undefined) where.push(`group_type_index = ${quoteInteger(f.groupTypeIndex)}`)
    if (f.search !== undefined) where.push(`(positionCaseInsensitive(group_key, ${quoteString(f.search)}) > 0 OR positionCaseInsensitive(group_properties, ${quoteString(f.search)}) > 0)`)
    const rows = await this.store.query<{ group_type_index: number; group_key: string; props: string; created: string }>(
      `SELECT group_type_index, group_key, argMax(group_properties, (_version, _timestamp)) AS props, toString(min(created_at)) AS created
       FROM ${this.schema.tables.groups} WHERE ${where.join(' AND ')}
       GROUP BY group_type_index, group_key ORDER BY group_type_index, group_key
       LIMIT ${quoteInteger(f.limit + 1)} OFFSET ${quoteInteger(f.offset)}`)
    return rows.map((r) => ({ group_type_index: Number(r.group_type_index), group_key: r.group_key, group_properties: parseJson(r.props), created_at: isoTime(r.created) }))
  }

  /** One group with its event count over 30 days and the distinct_ids seen with it (most events first), or undefined. */
  async group(teamId: number, groupTypeIndex: number, key: string): Promise<GroupDetail | undefined> {
    const [g] = await this.store.query<{ props: string; created: string }>(
      `SELECT argMax(group_properties, (_version, _timestamp)) AS props, toString(min(created_at)) AS created FROM ${this.schema.tables.groups}
       WHERE team_id = ${quoteInteger(teamId)} AND group_type_index = ${quoteInteger(groupTypeIndex)} AND group_key = ${quoteString(key)}
       GROUP BY group_key`)
    const column = `\`$group_${quoteInteger(groupTypeIndex)}\``
    const scope = `team_id = ${quoteInteger(teamId)} AND ${column} = ${quoteString(key)} AND timestamp >= now() - INTERVAL 30 DAY`
    const people = await this.store.query<{ distinct_id: string; n: string | number; last: string }>(
      `SELECT distinct_id, count() AS n, toString(max(timestamp)) AS last FROM ${this.schema.tables.events} WHERE ${scope}
       GROUP BY distinct_id ORDER BY n DESC, distinct_id LIMIT 100`)
    const [{ n }] = await this.store.query<{ n: string | number }>(`SELECT count() AS n FROM ${this.schema.tables.events} WHERE ${scope}`)
    if (!g && Number(n) === 0) return undefined
    return {
      group_type_index: groupTypeIndex,
      group_key: key,
      group_properties: g ? parseJson(g.props) : {},
      created_at: g ? isoTime(g.created) : (people.length > 0 ? isoTime(people[people.length - 1].last) : new Date().toISOString()),
      events_last_30_days: Number(n),
      distinct_ids: people.map((p) => ({ distinct_id: p.distinct_id, events: Number(p.n), last_seen: isoTime(p.last) })),
    }
  }

  /** Warnings newest first, limit + 1 from offset. */
  async warnings(teamId: number, f: { type?: string; sinceMs?: number; limit: number; offset: number }): Promise<WarningRow[]> {
    const flavor = this.schema.dateTime
    const where = [`team_id = ${quoteInteger(teamId)}`]
    if (f.type !== undefined) where.push(`type = ${quoteString(f.type)}`)
    if (f.sinceMs !== undefined) where.push(`timestamp >= ${timeBound(f.sinceMs, flavor)}`)
    const rows = await this.store.query<{ type: string; source: string; details: string; ts: string }>(
      `SELECT type, source, details, toString(timestamp) AS ts FROM ${this.schema.tables.warnings} WHERE ${where.join(' AND ')}
       ORDER BY timestamp DESC LIMIT ${quoteInteger(f.limit + 1)} OFFSET ${quoteInteger(f.offset)}`)
    return rows.map((r) => ({ type: r.type, source: r.source, details: parseJson(r.details), timestamp: isoTime(r.ts) }))
  }

  /** Events per minute of arrival (Kafka timestamp) over the last hour, the last event, warnings of the last day. */
  async stats(teamId: number, nowMs = Date.now()): Promise<EnvironmentStats> {
    const team = `team_id = ${quoteInteger(teamId)}`
    const flavor = this.schema.dateTime
    const hourAgo = Math.floor(nowMs / 60_000) * 60_000 - 59 * 60_000
    const perMinute = await this.store.query<{ minute: string; n: string | number }>(
      `SELECT toString(toStartOfMinute(_timestamp)) AS minute, count() AS n FROM ${this.schema.tables.events}
       WHERE ${team} AND _timestamp >= ${quoteDateTime(formatDateTime(hourAgo, flavor), flavor)} GROUP BY minute ORDER BY minute`)
    const counts = new Map(perMinute.map((r) => [Date.parse(isoTime(r.minute)), Number(r.n)]))
    const events_per_minute: EnvironmentStats['events_per_minute'] = []
    for (let m = hourAgo; m <= nowMs; m += 60_000) events_per_minute.push({ minute: new Date(m).toISOString(), events: counts.get(m) ?? 0 })
    const [last] = await this.store.query<{ n: string | number; ts: string; received: string }>(
      `SELECT count() AS n, toString(max(timestamp)) AS ts, toString(max(_timestamp)) AS received FROM ${this.schema.tables.events} WHERE ${team}`)
    const warnings = await this.store.query<{ type: string; n: string | number }>(
      `SELECT type, count() AS n FROM ${this.schema.tables.warnings}
       WHERE ${team} AND timestamp >= ${quoteDateTime(formatDateTime(nowMs - 86_400_000, flavor), flavor)} GROUP BY type ORDER BY type`)
    const any = last !== undefined && Number(last.n) > 0
    return {
      events_per_minute,
      events_last_hour: events_per_minute.reduce((s, x) => s + x.events, 0),
      last_event_at: any ? isoTime(last.ts) : null,
      last_received_at: any ? isoTime(last.received) : null,
      warnings_last_24h_by_type: Object.fromEntries(warnings.map((w) => [w.type, Number(w.n)])),
    }
  }
}
