// Reads persons back for the admin API (DESIGN §8): by distinct_id or by
// person id, scoped by `team_id`. The newest row of each person and mapping
// wins (argMax by version: the same answer as FINAL, on 18.16 too). Values
// reach SQL only through engine/sink/escape.ts.
import { quoteInteger, quoteString } from '../format/escape'
import { quoteUuid } from '../writers/persons'
import type { Schema } from '../format/schema'
import type { ClickHouseStore } from '../transport/store'

export interface PersonView {
  id: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
  created_at: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export class PersonReader {
  constructor(private readonly store: ClickHouseStore, private readonly schema: Schema) {}

  async byDistinctId(team: number, distinctId: string): Promise<PersonView | undefined> {
    const rows = await this.store.query<{ pid: string }>(
      `SELECT toString(argMax(person_id, version)) AS pid FROM ${this.schema.persons.distinctIds}
       WHERE team_id = ${quoteInteger(team)} AND distinct_id = ${quoteString(distinctId)} GROUP BY distinct_id`)
    return rows.length === 0 ? undefined : this.byId(team, rows[0].pid)
  }

  async byId(team: number, personId: string): Promise<PersonView | undefined> {
    const id = personId.toLowerCase()
    if (!UUID.test(id)) return undefined
    const t = quoteInteger(team)
    const rows = await this.store.query<{ props: string; identified: number; created: string; deleted: number }>(
      `SELECT argMax(properties, version) AS props, argMax(is_identified, version) AS identified,
         toString(argMax(created_at, version)) AS created, argMax(is_deleted, version) AS deleted
       FROM ${this.schema.persons.person} WHERE team_id = ${t} AND id = ${quoteUuid(id)} GROUP BY id`)
    if (rows.length === 0 || Number(rows[0].deleted) === 1) return undefined
    const ids = await this.store.query<{ distinct_id: string }>(
      `SELECT distinct_id FROM ${this.schema.persons.distinctIds} WHERE team_id = ${t}
       GROUP BY distinct_id HAVING argMax(person_id, version) = ${quoteUuid(id)} ORDER BY distinct_id LIMIT 10000`)
    let properties: Record<string, unknown> = {}
    try { properties = JSON.parse(rows[0].props) as Record<string, unknown> } catch { /* keep {} */ }
    return {
      id,
      distinct_ids: ids.map((r) => r.distinct_id),
      properties,
      is_identified: Number(rows[0].identified) === 1,
      created_at: new Date(rows[0].created.replace(' ', 'T') + 'Z').toISOString(),
    }
  }
}
