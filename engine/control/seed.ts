// Re-seeding the control log from ClickHouse. The log is the source of
// truth, but it can be lost (embedded mode restarts with a fresh in-memory
// broker; a deleted topic in production) while ClickHouse still holds the
// materialized state.
// - A truly empty topic (nothing ever written): the state is read back and
//   appended as one `seed` command; the fold applies a seed only to an empty
//   state, so when several instances start at once the first seed wins.
// - A truncated topic with no snapshot left: never automatic (the copy in
//   ClickHouse may lack the newest commands, and ids handed out after it would
//   collide); with SLUICE_CONTROL_RECOVER=clickhouse the operator accepts that
//   and the copy is written as a snapshot that every incomplete instance
//   starts from.
import type { Logger } from 'pino'
import type { Schema } from '../sink/format/schema'
import type { ClickHouseStore } from '../sink/transport/store'
import type { Seed } from './commands'
import type { Scope } from './scopes'
import { emptyState, foldCommand } from './fold'
import type { ControlLog } from './log'

interface ProjectRow { id: string | number; name: string; settings: string; created_at: string; merged_into: string | number }
interface EnvironmentRow { id: string | number; project_id: string | number; name: string; api_token: string; settings: string; created_at: string; deleted: number }
interface GroupTypeRow { project_id: string | number; group_type: string; group_type_index: number }
interface SdkKeyRow { id: string | number; environment_id: string | number; name: string; api_token: string; created_at: string; revoked: number }
interface AdminKeyRow { id: string | number; name: string; scopes: string; lookup: string; salt: string; hash: string; created_at: string; revoked: number }

const isoOf = (chTime: string) => new Date(chTime.replace(' ', 'T') + 'Z').toISOString()

function parseSettings(s: string): Record<string, unknown> {
  try { return JSON.parse(s) as Record<string, unknown> } catch { return {} }
}

function parseScopes(s: string): Scope[] {
  try { return JSON.parse(s) as Scope[] } catch { return [] }
}

export async function readMaterializedState(store: ClickHouseStore, schema: Schema): Promise<Omit<Seed, 'type' | 'request_id' | 'at'>> {
  const t = schema.tables
  const projects = await store.query<ProjectRow>(`SELECT id, name, settings, created_at, merged_into FROM ${t.projects} FINAL ORDER BY id`)
  const environments = await store.query<EnvironmentRow>(`SELECT id, project_id, name, api_token, settings, created_at, deleted FROM ${t.environments} FINAL ORDER BY id`)
  const groupTypes = await store.query<GroupTypeRow>(`SELECT project_id, group_type, group_type_index FROM ${t.groupTypes} FINAL`)
  const sdkKeys = await store.query<SdkKeyRow>(`SELECT id, environment_id, name, api_token, created_at, revoked FROM ${t.sdkKeys} FINAL ORDER BY id`)
  const adminKeys = await store.query<AdminKeyRow>(`SELECT id, name, scopes, lookup, salt, hash, created_at, revoked FROM ${t.adminKeys} FINAL ORDER BY id`)
  return {
    projects: projects.map((p) => ({ id: Number(p.id), name: p.name, settings: parseSettings(p.settings), created_at: isoOf(p.created_at), merged_into: Number(p.merged_into) || null })),
    environments: environments.map((e) => ({
      id: Number(e.id), project_id: Number(e.project_id), name: e.name, api_token: e.api_token,
      settings: parseSettings(e.settings), created_at: isoOf(e.created_at), deleted: Number(e.deleted) === 1,
    })),
    group_types: groupTypes.map((g) => ({ project_id: Number(g.project_id), group_type: g.group_type, group_type_index: Number(g.group_type_index) })),
    sdk_keys: sdkKeys.map((k) => ({ id: Number(k.id), environment_id: Number(k.environment_id), name: k.name, api_token: k.api_token, created_at: isoOf(k.created_at), revoked: Number(k.revoked) === 1 })),
    admin_keys: adminKeys.map((k) => ({
      id: Number(k.id), name: k.name, scopes: parseScopes(k.scopes), lookup: k.lookup, salt: k.salt, hash: k.hash, created_at: isoOf(k.created_at), revoked: Number(k.revoked) === 1,
    })),
  }
}

/** After catching up: if the log held nothing but ClickHouse holds state, seed the log with it. */
export async function reseedIfEmpty(control: ControlLog, store: ClickHouseStore, schema: Schema, log: Logger): Promise<void> {
  if (control.state.projects.size > 0 || control.state.environments.size > 0) return
  const seed = await readMaterializedState(store, schema)
  if (seed.projects.length === 0) return
  const outcome = await control.append({ type: 'seed', ...seed })
  if (outcome.ok) log.warn({ projects: seed.projects.length, environments: seed.environments.length }, 'the control log was empty: re-seeded it from the state materialized in ClickHouse')
  else log.info({ reason: outcome.message }, 'another instance seeded the control log first')
}

/** SLUICE_CONTROL_RECOVER=clickhouse on an incomplete log: the materialized copy becomes the snapshot to start from. */
export async function recoverFromClickHouse(control: ControlLog, store: ClickHouseStore, schema: Schema, log: Logger): Promise<void> {
  const seed = await readMaterializedState(store, schema)
  const offset = await control.publishSnapshotOf(() => {
    const state = emptyState()
    foldCommand(state, { type: 'seed', request_id: 'recover', at: new Date().toISOString(), ...seed }, 0)
    state.outcomes.clear()
    return state
  })
  log.warn({ base_offset: offset, projects: seed.projects.length, environments: seed.environments.length },
    'SLUICE_CONTROL_RECOVER=clickhouse: the control state was rebuilt from the copy materialized in ClickHouse and written as a snapshot; unset the variable now')
}
