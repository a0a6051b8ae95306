// The read side of the admin API (DESIGN §8 "data at a glance"): an
// environment's newest events, groups, ingestion warnings and stats, and the
// instance's status with its bottleneck verdict. Scoped like every admin
// route (the bearer token); lists page as engine/http/paginate.ts does.
import type { ControlState, EnvironmentState } from '../control/fold'
import { invalidField, SluiceError } from '../errors'
import type { Metrics } from '../metrics'
import type { DataReader } from '../sink/read/data-read'
import type { StatusReport } from '../status/sampler'
import type { AdminHandler } from './handler'
import { countParam, offsetPage, pageRequest, withParams, type PageLimits } from './paginate'
import type { Router } from './router'

export interface DataRouteDeps {
  data?: DataReader
  /** persons (engine/http/person-routes.ts) */
  persons?: import('../sink/read/person-read').PersonReader
  metrics?: Metrics
  status?: () => StatusReport
  /** what the console needs to show SDK snippets: the capture port's URL as this instance sees it */
  captureUrl?: () => string
}

const EVENT_LIMITS: PageLimits = { defaultLimit: 100, maxLimit: 1000 }

function textParam(q: URLSearchParams, name: string, max = 400): string | undefined {
  const s = q.get(name)
  if (s === null || s === '') return undefined
  if (s.length > max) throw invalidField(name, `must be at most ${max} characters`)
  return s
}

function timeParam(q: URLSearchParams, name: string): number | undefined {
  const s = q.get(name)
  if (s === null || s === '') return undefined
  const ms = /^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(s) : NaN
  if (!Number.isFinite(ms)) throw invalidField(name, 'must be an ISO 8601 time such as 2026-12-01T10:00:00Z')
  return ms
}

async function byLabel(m: { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>> }[] }> }, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const v of (await m.get()).values) if (v.value > 0) out[String(v.labels[label])] = v.value
  return out
}

/** An environment's stats, and this instance's drops and dead letters by reason. */
async function environmentStats(data: NonNullable<DataRouteDeps['data']>, environmentId: number, m: DataRouteDeps['metrics']) {
  return {
    ...await data.stats(environmentId),
    // drops and dead letters are counted by reason, not by environment (an invalid token has none)
    instance: {
      note: 'counted by this instance for all environments since it started',
      dropped_by_reason: m ? await byLabel(m.eventsDropped, 'reason') : {},
      dead_letters_by_reason: m ? await byLabel(m.deadLetters, 'reason') : {},
    },
  }
}

export function addDataRoutes(router: Router<AdminHandler>, state: ControlState, environment: (raw: string) => EnvironmentState, deps: DataRouteDeps): Router<AdminHandler> {
  const data = () => {
    if (!deps.data) throw new SluiceError('SLUICE_ERR_INTERNAL')
    return deps.data
  }
  const groupTypeName = (e: EnvironmentState, index: number): string | null => {
    for (const [type, i] of state.projects.get(e.project_id)?.group_types ?? []) if (i === index) return type
    return null
  }
  return router
    .add('GET', '/api/environments/:id/events', async (req) => {
      const e = environment(req.params.id)
      const limit = countParam(req.query, 'limit', 1, EVENT_LIMITS.maxLimit) ?? EVENT_LIMITS.defaultLimit
      const { rows, cursor } = await data().events(e.id, {
        limit,
        event: textParam(req.query, 'event'),
        distinctId: textParam(req.query, 'distinct_id'),
        beforeMs: timeParam(req.query, 'before'),
        cursor: textParam(req.query, 'cursor', 200),
      })
      return { status: 200, body: { results: rows, next: cursor ? withParams(req.url, { limit: String(limit), cursor }) : null } }
    })
    .add('GET', '/api/environments/:id/groups', async (req) => {
      const e = environment(req.params.id)
      const page = pageRequest(req.query)
      const rows = await data().groups(e.id, { ...page, groupTypeIndex: countParam(req.query, 'group_type_index', 0, 4), search: textParam(req.query, 'search', 200) })
      return { status: 200, body: offsetPage(req.url, page, rows.map((g) => ({ ...g, group_type: groupTypeName(e, g.group_type_index) }))) }
    })
    .add('GET', '/api/environments/:id/groups/:group_type_index/:group_key', async (req) => {
      const e = environment(req.params.id)
      const index = /^[0-4]$/.test(req.params.group_type_index) ? Number(req.params.group_type_index) : -1
      if (index < 0) throw invalidField('group_type_index', 'must be an integer from 0 to 4')
      if (req.params.group_key.length > 400) throw invalidField('group_key', 'must be at most 400 characters')
      const g = await data().group(e.id, index, req.params.group_key)
      if (!g) throw new SluiceError('SLUICE_ERR_GROUP_NOT_FOUND', index, req.params.group_key.slice(0, 80), e.id)
      return { status: 200, body: { ...g, group_type: groupTypeName(e, index) } }
    })
    .add('GET', '/api/environments/:id/ingestion_warnings', async (req) => {
      const e = environment(req.params.id)
      const page = pageRequest(req.query)
      const rows = await data().warnings(e.id, { ...page, type: textParam(req.query, 'type', 200), sinceMs: timeParam(req.query, 'since') })
      return { status: 200, body: offsetPage(req.url, page, rows) }
    })
    .add('GET', '/api/environments/:id/stats', async (req) => ({ status: 200, body: await environmentStats(data(), environment(req.params.id).id, deps.metrics) }))
    .add('GET', '/api/status', async () => {
      if (!deps.status) throw new SluiceError('SLUICE_ERR_INTERNAL')
      return { status: 200, body: { ...deps.status(), capture_url: deps.captureUrl?.() ?? null } }
    })
}
