// Reads the shared taxonomy back for the admin API. Observations are rows
// (see schema.ts), so event definitions aggregate first/last seen per name
// and property definitions read FINAL (the first detected type wins by
// version). A project that absorbed others (move) shows their taxonomy too.
// The search term is the only user text reaching SQL: through quoteString.
import { quoteInteger, quoteString } from '../format/escape'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'

export interface EventDefinition { name: string; first_seen: string; last_seen: string }
export interface PropertyDefinition {
  name: string
  type: number
  group_type_index: number | null
  property_type: 'String' | 'Numeric' | 'Boolean' | 'DateTime' | null
  is_numerical: boolean
}

export interface PropertyFilter { type?: number; groupTypeIndex?: number; search?: string }

const LIMIT = 10_000
const iso = (chTime: string) => new Date(chTime.replace(' ', 'T') + 'Z').toISOString()

export class TaxonomyReader {
  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema) {}

  async eventDefinitions(projectIds: readonly number[], search?: string): Promise<EventDefinition[]> {
    const where = [`project_id IN (${projectIds.map(quoteInteger).join(', ')})`]
    if (search) where.push(`positionCaseInsensitive(name, ${quoteString(search)}) > 0`)
    const rows = await this.store.query<{ name: string; first_seen: string; last_seen: string }>(
      `SELECT name, min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM ${this.schema.tables.eventDefinitions}
       WHERE ${where.join(' AND ')} GROUP BY name ORDER BY name LIMIT ${LIMIT}`)
    return rows.map((r) => ({ name: r.name, first_seen: iso(r.first_seen), last_seen: iso(r.last_seen) }))
  }

  async propertyDefinitions(projectIds: readonly number[], f: PropertyFilter): Promise<PropertyDefinition[]> {
    const where = [`project_id IN (${projectIds.map(quoteInteger).join(', ')})`]
    if (f.type !== undefined) where.push(`type = ${quoteInteger(f.type)}`)
    if (f.groupTypeIndex !== undefined) where.push(`group_type_index = ${quoteInteger(f.groupTypeIndex)}`)
    if (f.search) where.push(`positionCaseInsensitive(name, ${quoteString(f.search)}) > 0`)
    // FINAL per project; across merged projects the first typed row per name wins
    const rows = await this.store.query<{ name: string; type: number; group_type_index: number; property_type: string; _version: string | number }>(
      `SELECT name, type, group_type_index, property_type, _version FROM ${this.schema.tables.propertyDefinitions} FINAL
       WHERE ${where.join(' AND ')} ORDER BY type, group_type_index, name, _version DESC LIMIT ${LIMIT}`)
    const out: PropertyDefinition[] = []
    let last = ''
    for (const r of rows) {
      const key = `${r.type}\u0000${r.group_type_index}\u0000${r.name}`
      if (key === last) continue
      last = key
      const property_type = (r.property_type || null) as PropertyDefinition['property_type']
      out.push({ name: r.name, type: Number(r.type), group_type_index: Number(r.group_type_index) < 0 ? null : Number(r.group_type_index), property_type, is_numerical: property_type === 'Numeric' })
    }
    return out
  }
}
