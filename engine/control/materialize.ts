// Writes the folded control state into ClickHouse (`projects`,
// `environments`, `group_type_mappings`, `sdk_keys`, `admin_keys`: only the
// salted hash of an admin secret, never the secret) so that people can query it with
// SQL and an empty control log can be re-seeded from it (seed.ts). Rows are
// the state after the fold, versioned by log offset; every instance writes
// the same rows and ReplacingMergeTree keeps one. Changes are collected and
// written in small batches, off the fold's path; a failed write is retried.
import type { Logger } from 'pino'
import type { Schema } from '../sink/format/schema'
import type { ClickHouseStore } from '../sink/transport/store'
import { formatDateTime } from '../../workers/clickhouse-types'
import type { ControlState } from './fold'
import type { FoldedChange } from './log'

export class ControlMaterializer {
  private readonly dirtyProjects = new Set<number>()
  private readonly dirtyEnvironments = new Set<number>()
  private readonly dirtyAdminKeys = new Set<number>()
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly state: ControlState,
    private readonly store: ClickHouseStore,
    private readonly schema: Schema,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  onFold = (c: FoldedChange): void => {
    if (!c.outcome.ok) return
    for (const id of c.outcome.touched.projects) this.dirtyProjects.add(id)
    for (const id of c.outcome.touched.environments) this.dirtyEnvironments.add(id)
    const t = c.command.type
    if ((t === 'create_admin_key' || t === 'revoke_admin_key') && c.outcome.key_id !== undefined) this.dirtyAdminKeys.add(c.outcome.key_id)
    // a seed or a snapshot start rewrites everything
    if (t === 'seed' || t === 'checkpoint') for (const id of this.state.adminKeys.keys()) this.dirtyAdminKeys.add(id)
    this.later(this.intervalMs)
  }

  private later(ms: number): void {
    // after stop() the store is being closed: a command folded during shutdown is written by the next start
    if (!this.timer && !this.stopped) this.timer = setTimeout(() => { this.timer = undefined; void this.write() }, ms)
  }

  private time(iso: string): string {
    return formatDateTime(Date.parse(iso) || 0, this.schema.dateTime)
  }

  private rows(): { projects: string; environments: string; groupTypes: string; sdkKeys: string; adminKeys: string } {
    let projects = ''
    let groupTypes = ''
    for (const id of this.dirtyProjects) {
      const p = this.state.projects.get(id)
      if (!p) continue
      projects += JSON.stringify({
        id, name: p.name, settings: JSON.stringify(p.settings), created_at: this.time(p.created_at),
        merged_into: p.merged_into ?? 0, deleted: p.merged_into === null ? 0 : 1, _version: p.version,
      }) + '\n'
      for (const [group_type, group_type_index] of p.group_types) groupTypes += JSON.stringify({ project_id: id, group_type, group_type_index, _version: p.version }) + '\n'
    }
    let environments = ''
    for (const id of this.dirtyEnvironments) {
      const e = this.state.environments.get(id)
      if (!e) continue
      environments += JSON.stringify({
        id, project_id: e.project_id, name: e.name, api_token: e.api_token, settings: JSON.stringify(e.settings),
        created_at: this.time(e.created_at), deleted: e.deleted ? 1 : 0, _version: e.version,
      }) + '\n'
    }
    // the keys of every changed environment: one pass over the keys per write, not per command
    let sdkKeys = ''
    if (this.dirtyEnvironments.size > 0) {
      for (const k of this.state.sdkKeys.values()) {
        if (!this.dirtyEnvironments.has(k.environment_id)) continue
        sdkKeys += JSON.stringify({ id: k.id, environment_id: k.environment_id, name: k.name, api_token: k.token, created_at: this.time(k.created_at), revoked: k.revoked ? 1 : 0, _version: k.version }) + '\n'
      }
    }
    let adminKeys = ''
    for (const id of this.dirtyAdminKeys) {
      const k = this.state.adminKeys.get(id)
      if (!k) continue
      adminKeys += JSON.stringify({
        id, name: k.name, scopes: JSON.stringify(k.scopes), lookup: k.lookup, salt: k.salt, hash: k.hash, created_at: this.time(k.created_at), revoked: k.revoked ? 1 : 0, _version: k.version,
      }) + '\n'
    }
    return { projects, environments, groupTypes, sdkKeys, adminKeys }
  }

  async write(): Promise<void> {
    if (this.writing) return this.writing
    if (this.dirtyProjects.size === 0 && this.dirtyEnvironments.size === 0 && this.dirtyAdminKeys.size === 0) return
    const rows = this.rows()
    const projects = [...this.dirtyProjects]
    const environments = [...this.dirtyEnvironments]
    const adminKeys = [...this.dirtyAdminKeys]
    this.dirtyProjects.clear()
    this.dirtyEnvironments.clear()
    this.dirtyAdminKeys.clear()
    const t = this.schema.tables
    this.writing = (async () => {
      try {
        if (rows.projects) await this.store.insert(t.projects, [Buffer.from(rows.projects)])
        if (rows.groupTypes) await this.store.insert(t.groupTypes, [Buffer.from(rows.groupTypes)])
        if (rows.environments) await this.store.insert(t.environments, [Buffer.from(rows.environments)])
        if (rows.sdkKeys) await this.store.insert(t.sdkKeys, [Buffer.from(rows.sdkKeys)])
        if (rows.adminKeys) await this.store.insert(t.adminKeys, [Buffer.from(rows.adminKeys)])
      } catch (err) {
        for (const id of projects) this.dirtyProjects.add(id)
        for (const id of environments) this.dirtyEnvironments.add(id)
        for (const id of adminKeys) this.dirtyAdminKeys.add(id)
        this.log.warn({ err: (err as Error).message }, 'could not write the control state to ClickHouse; will retry')
        this.later(1_000)
      } finally {
        this.writing = undefined
      }
    })()
    return this.writing
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.write()
  }
}
