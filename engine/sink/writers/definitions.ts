// Turns the workers' taxonomy observations into rows of `event_definitions`,
// `property_definitions` and `event_properties`, de-duplicated across
// workers and batches (lru-cache), so that steady traffic writes almost
// nothing: a property definition or link is written once, an event
// definition at most once an hour (its last_seen).
import { lruOf } from './lru'
import type { Observations } from '../../../workers/protocol'
import { formatDateTime } from '../../../workers/clickhouse-types'
import type { TableRows } from './batcher'
import { jsonText } from '../../../workers/well-formed'
import type { Schema } from '../format/schema'

const HOUR = 3_600_000
/** typed rows: version falls as first_seen rises, so the earliest detected type wins */
const VERSION_BASE = 10_000_000_000_000

export class DefinitionsWriter {
  /** event key → hour bucket last written; first_seen of this instance */
  private readonly events = lruOf<string, { hour: number; firstSeen: string }>(200_000)
  private readonly written = lruOf<string, true>(500_000)

  constructor(private readonly schema: Schema) {}

  rows(observations: readonly Observations[], nowMs: number): TableRows[] {
    const now = formatDateTime(nowMs, this.schema.dateTime)
    const hour = Math.floor(nowMs / HOUR)
    let events = ''
    let eventRows = 0
    let props = ''
    let propRows = 0
    let links = ''
    let linkRows = 0
    for (const o of observations) {
      for (const [project_id, name] of o.eventDefinitions) {
        const k = `${project_id}\u0000${name}`
        const seen = this.events.get(k)
        if (seen && seen.hour >= hour) continue
        const firstSeen = seen?.firstSeen ?? now
        this.events.set(k, { hour, firstSeen })
        events += jsonText({ project_id, name, first_seen: firstSeen, last_seen: now }) + '\n'
        eventRows++
      }
      for (const [project_id, name, type, group_type_index, property_type] of o.propertyDefinitions) {
        const k = `p\u0000${project_id}\u0000${type}\u0000${group_type_index}\u0000${property_type}\u0000${name}`
        if (this.written.get(k)) continue
        this.written.set(k, true)
        props += jsonText({
          project_id, name, type, group_type_index, property_type: property_type ?? '', is_numerical: property_type === 'Numeric' ? 1 : 0,
          first_seen: now, _version: property_type === null ? 0 : VERSION_BASE - nowMs,
        }) + '\n'
        propRows++
      }
      for (const [project_id, event, property] of o.eventProperties) {
        const k = `l\u0000${project_id}\u0000${event}\u0000${property}`
        if (this.written.get(k)) continue
        this.written.set(k, true)
        links += jsonText({ project_id, event, property }) + '\n'
        linkRows++
      }
    }
    const t = this.schema.tables
    const out: TableRows[] = []
    if (eventRows) out.push({ table: t.eventDefinitions, chunk: Buffer.from(events), rows: eventRows })
    if (propRows) out.push({ table: t.propertyDefinitions, chunk: Buffer.from(props), rows: propRows })
    if (linkRows) out.push({ table: t.eventProperties, chunk: Buffer.from(links), rows: linkRows })
    return out
  }

  /** After a failed insert the rows are retried by the batcher, so nothing needs forgetting; after a crash the caches are empty anyway. */
}
