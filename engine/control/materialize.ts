// Writes the folded control state into ClickHouse (`projects`,
// `environments`) so that people can query it with SQL and an empty control
// log can be re-seeded from it. Rows are the state after the fold, versioned
// by log offset; every instance writes the same rows and ReplacingMergeTree
// keeps one. Changes are collected and written in small batches, off the
// fold's path; a failed write is retried on the next tick.
import type { Logger } from 'pino'
import type { Schema } from '../sink/schema'
import type { ClickHouseStore } from '../sink/store'
import { formatDateTime } from '../../workers/encode'
import type { ControlState } from './fold'
import type { FoldedChange } from './log'

export class ControlMaterializer {
  private readonly dirtyProjects = new Set<number>()
  private readonly dirtyEnvironments = new Set<number>()
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined

  constructor(
    private readonly state: ControlState,
    private readonly store: ClickHouseStore,
    private readonly schema: Schema,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  onFold = (c: FoldedChange): void => {
    if (!c.outcome.ok) return
    this.dirtyProjects.add(c.outcome.project_id)
    if (c.outcome.environment_id !== undefined) this.dirtyEnvironments.add(c.outcome.environment_id)
    if (!this.timer) this.timer = setTimeout(() => { this.timer = undefined; void this.write() }, this.intervalMs)
  }

  private time(iso: string): string {
    return formatDateTime(Date.parse(iso) || 0, this.schema.dateTime)
  }

  async write(): Promise<void> {
    if (this.writing) return this.writing
    const projects = [...this.dirtyProjects]
    const environments = [...this.dirtyEnvironments]
    this.dirtyProjects.clear()
    this.dirtyEnvironments.clear()
    if (projects.length === 0 && environments.length === 0) return
    this.writing = (async () => {
      try {
        const p: string[] = []
        for (const id of projects) {
          const s = this.state.projects.get(id)
          if (s) p.push(JSON.stringify({ id, name: s.name, settings: JSON.stringify(s.settings), created_at: this.time(s.created_at), deleted: 0, _version: s.version }) + '\n')
        }
        const e: string[] = []
        for (const id of environments) {
          const s = this.state.environments.get(id)
          if (s) e.push(JSON.stringify({ id, project_id: s.project_id, name: s.name, api_token: s.api_token, settings: JSON.stringify(s.settings), created_at: this.time(s.created_at), deleted: 0, _version: s.version }) + '\n')
        }
        if (p.length > 0) await this.store.insert(this.schema.tables.projects, [Buffer.from(p.join(''))])
        if (e.length > 0) await this.store.insert(this.schema.tables.environments, [Buffer.from(e.join(''))])
      } catch (err) {
        for (const id of projects) this.dirtyProjects.add(id)
        for (const id of environments) this.dirtyEnvironments.add(id)
        this.log.warn({ err: (err as Error).message }, 'could not write the control state to ClickHouse; will retry')
        if (!this.timer) this.timer = setTimeout(() => { this.timer = undefined; void this.write() }, 1_000)
      } finally {
        this.writing = undefined
      }
    })()
    return this.writing
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.write()
  }
}
