// The admin API (DESIGN §8) on SLUICE_ADMIN_PORT. Reads come from this
// instance's folded control state; writes are commands appended to the
// control log, answered once this instance has folded them (read your own
// write). Input is validated here, with the field named in a 400; the fold
// decides conflicts (409) so that every instance decides the same.
import type { Outcome } from '../control/commands'
import type { CommandInput, ControlLog } from '../control/log'
import { TOKEN_PATTERN, validName, type AdminKeyState, type ControlState, type EnvironmentState, type ProjectState, type SdkKeyState } from '../control/fold'
import { checkScopes, type Grant } from '../control/scopes'
import { newAdminSecret } from './admin-keys'
import { checkEnvironmentSettings, checkProjectSettings, type SettingsCheck } from '../control/settings'
import { invalidField, SluiceError } from '../errors'
import { randomToken } from './auth'
import { addDataRoutes, type DataRouteDeps } from './data-routes'
import { addPersonRoutes } from './person-routes'
import { OPENAPI } from './openapi'
import { offsetPage, pageRequest, slicePage } from './paginate'
import type { AdminHandler, AdminRequest } from './handler'
import { Router } from './router'
import type { TaxonomyReader } from '../sink/read/taxonomy-read'

export function environmentView(e: EnvironmentState) {
  return { id: e.id, project_id: e.project_id, name: e.name, api_token: e.api_token, settings: e.settings }
}

/** A project with the environments `grant` may read (all of them without one). */
export function projectView(state: ControlState, p: ProjectState, grant?: Grant) {
  return {
    id: p.id,
    name: p.name,
    settings: p.settings,
    environments: p.environment_ids.map((id) => state.environments.get(id))
      .filter((e): e is EnvironmentState => e !== undefined && (grant === undefined || grant.environment(e, 'read'))).map(environmentView),
  }
}

export function sdkKeyView(k: SdkKeyState) {
  return { id: k.id, environment_id: k.environment_id, name: k.name, api_token: k.token, primary: k.primary, created_at: k.created_at, previous_token_revoked_at: k.previous?.revoke_at ?? null }
}

/** Never the secret, its hash or its salt. */
export function adminKeyView(k: AdminKeyState) {
  return { id: k.id, name: k.name, scopes: k.scopes, created_at: k.created_at }
}

export const MAX_GRACE_SECONDS = 30 * 24 * 3600

function idParam(raw: string): number {
  return /^\d{1,15}$/.test(raw) ? Number(raw) : -1
}

function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw invalidField(k, `is not accepted here (accepted: ${allowed.join(', ')})`)
}

function nameField(body: Record<string, unknown>, required: boolean): string | undefined {
  const name = body.name
  if (name === undefined && !required) return undefined
  if (name === undefined) throw invalidField('name', 'is required')
  if (!validName(name)) throw invalidField('name', 'must be a string of 1–200 characters')
  return name
}

/** The given api_token (migrating from PostHog) or a new random one. */
function tokenField(body: Record<string, unknown>): string {
  const token = body.api_token
  if (token === undefined || token === null) return randomToken('phc_')
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw invalidField('api_token', 'must be 8–200 characters of A–Z, a–z, 0–9, _ or -')
  return token
}

function settingsField<T>(body: Record<string, unknown>, check: (v: unknown) => SettingsCheck<T>): Partial<T> | undefined {
  if (body.settings === undefined) return undefined
  const c = check(body.settings)
  if (!c.ok) throw invalidField(c.field, c.problem)
  return c.value
}

function rejectOutcome(o: Extract<Outcome, { ok: false }>): never {
  switch (o.error) {
    case 'not_found': throw new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', o.id ?? '')
    case 'environment_not_found': throw new SluiceError('SLUICE_ERR_ENVIRONMENT_NOT_FOUND', o.id ?? '')
    case 'conflict': throw new SluiceError('SLUICE_ERR_CONFLICT', o.message)
    case 'invalid': throw new SluiceError('SLUICE_ERR_INVALID_FIELD', o.message)
    case 'key_not_found': throw new SluiceError('SLUICE_ERR_KEY_NOT_FOUND', o.message)
  }
}

/** An optional integer query parameter within [min, max]; 400 naming it otherwise. */
function intQuery(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name)
  if (raw === null || raw === '') return undefined
  const n = /^-?\d{1,3}$/.test(raw) ? Number(raw) : NaN
  if (!(n >= min && n <= max)) throw invalidField(name, `must be an integer from ${min} to ${max}`)
  return n
}

function searchQuery(q: URLSearchParams): string | undefined {
  const s = q.get('search')
  if (s === null || s === '') return undefined
  if (s.length > 200) throw invalidField('search', 'must be at most 200 characters')
  return s
}

/** What every route needs: the folded state, lookups that 404, and command appends that map fold outcomes to errors. */
interface AdminContext {
  state: ControlState
  project(raw: string | number): ProjectState
  environment(raw: string | number): EnvironmentState
  /** the project and every project moved under it: their taxonomy is now the project's */
  taxonomyIds(p: ProjectState): number[]
  reader(): TaxonomyReader
  /** appends `cmd` as issued by the request's key (the audit trail names it) */
  apply(req: AdminRequest, cmd: CommandInput): Promise<Extract<Outcome, { ok: true }>>
}

function adminContext(control: ControlLog, taxonomy?: TaxonomyReader): AdminContext {
  const state = control.state
  const project = (raw: string | number) => {
    const p = state.projects.get(typeof raw === 'number' ? raw : idParam(raw))
    if (!p || p.merged_into !== null) throw new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', String(raw).slice(0, 40))
    return p
  }
  const environment = (raw: string | number) => {
    const e = state.environments.get(typeof raw === 'number' ? raw : idParam(raw))
    if (!e || e.deleted) throw new SluiceError('SLUICE_ERR_ENVIRONMENT_NOT_FOUND', String(raw).slice(0, 40))
    return e
  }
  const taxonomyIds = (p: ProjectState) => [p.id, ...[...state.projects.values()].filter((x) => x.merged_into === p.id).map((x) => x.id)]
  const reader = () => {
    if (!taxonomy) throw new SluiceError('SLUICE_ERR_INTERNAL')
    return taxonomy
  }
  const apply = async (req: AdminRequest, cmd: CommandInput) => {
    const o = await control.append({ ...cmd, key_id: req.grant.keyId } as CommandInput)
    if (!o.ok) rejectOutcome(o)
    return o
  }

  return { state, project, environment, taxonomyIds, reader, apply }
}

function projectRoutes(router: Router<AdminHandler>, { state, project, environment, apply }: AdminContext): Router<AdminHandler> {
  return router
    .add('GET', '/api/openapi.json', async () => ({ status: 200, body: OPENAPI }))
    .add('GET', '/api/projects', async (req) => {
      const page = pageRequest(req.query)
      const search = searchQuery(req.query)?.toLowerCase()
      // a slice of the folded state, in id order; limit + 1 rows say whether another page exists
      const rows: ReturnType<typeof projectView>[] = []
      let skipped = 0
      for (const p of state.projects.values()) {
        if (p.merged_into !== null || !req.grant.project(state, p, 'read')) continue
        if (search !== undefined && !p.name.toLowerCase().includes(search) && String(p.id) !== search) continue
        if (skipped < page.offset) { skipped++; continue }
        rows.push(projectView(state, p, req.grant))
        if (rows.length > page.limit) break
      }
      return { status: 200, body: offsetPage(req.url, page, rows) }
    })
    .add('POST', '/api/projects', async (req) => {
      const body = await req.body()
      onlyFields(body, ['name', 'api_token'])
      const o = await apply(req, { type: 'create_project', name: nameField(body, true)!, api_token: tokenField(body) })
      return { status: 201, body: projectView(state, project(o.project_id)) }
    })
    .add('GET', '/api/projects/:id', async (req) => ({ status: 200, body: projectView(state, project(req.params.id), req.grant) }))
    .add('PATCH', '/api/projects/:id', async (req) => {
      const p = project(req.params.id)
      const body = await req.body()
      onlyFields(body, ['name', 'settings'])
      await apply(req, { type: 'update_project', project_id: p.id, name: nameField(body, false), settings: settingsField(body, checkProjectSettings) })
      return { status: 200, body: projectView(state, project(p.id), req.grant) }
    })
    .add('POST', '/api/projects/:id/environments', async (req) => {
      const p = project(req.params.id)
      const body = await req.body()
      onlyFields(body, ['name', 'api_token'])
      const o = await apply(req, { type: 'create_environment', project_id: p.id, name: nameField(body, true)!, api_token: tokenField(body) })
      return { status: 201, body: environmentView(environment(o.environment_id!)) }
    })
    .add('POST', '/api/projects/:id/move', async (req) => {
      const p = project(req.params.id)
      const body = await req.body()
      onlyFields(body, ['parent_project_id'])
      const parent = body.parent_project_id
      if (typeof parent !== 'number' || !Number.isSafeInteger(parent) || parent < 1) throw invalidField('parent_project_id', 'must be a project id')
      // the child's right was checked by the route; the parent receives its environments
      const target = state.projects.get(parent)
      if (target ? !req.grant.project(state, target, 'write') : !req.grant.global('write')) throw new SluiceError('SLUICE_ERR_FORBIDDEN', req.grant.keyId, `write project ${parent}`)
      const o = await apply(req, { type: 'move_project', project_id: p.id, parent_project_id: parent })
      return { status: 200, body: projectView(state, project(o.project_id), req.grant) }
    })
}

function taxonomyRoutes(router: Router<AdminHandler>, { project, taxonomyIds, reader }: AdminContext): Router<AdminHandler> {
  return router
    .add('GET', '/api/projects/:id/group_types', async (req) => ({
      status: 200,
      // at most five: one page
      body: { results: [...project(req.params.id).group_types].sort((a, b) => a[1] - b[1]).map(([group_type, group_type_index]) => ({ group_type, group_type_index })), next: null },
    }))
    .add('GET', '/api/projects/:id/event_definitions', async (req) => {
      const p = project(req.params.id)
      const page = pageRequest(req.query)
      return { status: 200, body: slicePage(req.url, page, await reader().eventDefinitions(taxonomyIds(p), searchQuery(req.query))) }
    })
    .add('GET', '/api/projects/:id/property_definitions', async (req) => {
      const p = project(req.params.id)
      const page = pageRequest(req.query)
      const filter = { type: intQuery(req.query, 'type', 1, 3), groupTypeIndex: intQuery(req.query, 'group_type_index', 0, 4), search: searchQuery(req.query) }
      return { status: 200, body: slicePage(req.url, page, await reader().propertyDefinitions(taxonomyIds(p), filter)) }
    })
}

function environmentRoutes(router: Router<AdminHandler>, { state, environment, apply }: AdminContext): Router<AdminHandler> {
  return router
    .add('GET', '/api/environments/:id', async (req) => ({ status: 200, body: environmentView(environment(req.params.id)) }))
    .add('PATCH', '/api/environments/:id', async (req) => {
      const e = environment(req.params.id)
      const body = await req.body()
      onlyFields(body, ['name', 'settings'])
      await apply(req, { type: 'update_environment', environment_id: e.id, name: nameField(body, false), settings: settingsField(body, checkEnvironmentSettings) })
      return { status: 200, body: environmentView(environment(e.id)) }
    })
    .add('DELETE', '/api/environments/:id', async (req) => {
      const e = environment(req.params.id)
      await apply(req, { type: 'delete_environment', environment_id: e.id })
      return { status: 204, body: undefined }
    })
    .add('POST', '/api/environments/:id/rotate_token', async (req) => {
      const e = environment(req.params.id)
      const body = await req.body(true)
      onlyFields(body, ['grace_seconds'])
      const grace = body.grace_seconds ?? 0
      if (typeof grace !== 'number' || !Number.isSafeInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) throw invalidField('grace_seconds', `must be an integer from 0 to ${MAX_GRACE_SECONDS}`)
      // the deadline is decided here, once, and travels in the command: every instance revokes at the same log position (engine/control/grace.ts)
      const revoke_at = grace > 0 ? new Date(Date.now() + grace * 1000).toISOString() : undefined
      await apply(req, { type: 'rotate_token', environment_id: e.id, api_token: randomToken('phc_'), revoke_at })
      return { status: 200, body: environmentView(environment(e.id)) }
    })
    .add('GET', '/api/environments/:id/keys', async (req) => {
      const e = environment(req.params.id)
      const keys = [...state.sdkKeys.values()].filter((k) => k.environment_id === e.id && !k.revoked).map(sdkKeyView)
      return { status: 200, body: { results: keys, next: null } }
    })
    .add('POST', '/api/environments/:id/keys', async (req) => {
      const e = environment(req.params.id)
      const body = await req.body()
      onlyFields(body, ['name', 'api_token'])
      const o = await apply(req, { type: 'create_sdk_key', environment_id: e.id, name: nameField(body, true)!, api_token: tokenField(body) })
      return { status: 201, body: sdkKeyView(state.sdkKeys.get(o.key_id!)!) }
    })
    .add('DELETE', '/api/environments/:id/keys/:key_id', async (req) => {
      const e = environment(req.params.id)
      const keyId = idParam(req.params.key_id)
      if (keyId < 1) throw new SluiceError('SLUICE_ERR_KEY_NOT_FOUND', `environment ${e.id} has no key ${req.params.key_id.slice(0, 40)}`)
      await apply(req, { type: 'revoke_sdk_key', environment_id: e.id, sdk_key_id: keyId })
      return { status: 204, body: undefined }
    })
}

/** Admin keys (only a key with `write` on everything, or SLUICE_ADMIN_TOKEN, manages them: route-access.ts), and the audit trail. */
function accessRoutes(router: Router<AdminHandler>, { state, apply }: AdminContext): Router<AdminHandler> {
  return router
    .add('GET', '/api/admin_keys', async () => ({
      status: 200, body: { results: [...state.adminKeys.values()].filter((k) => !k.revoked).map(adminKeyView), next: null },
    }))
    .add('POST', '/api/admin_keys', async (req) => {
      const body = await req.body()
      onlyFields(body, ['name', 'scopes'])
      const name = nameField(body, true)!
      const scopes = checkScopes(body.scopes)
      if (!scopes.ok) throw invalidField('scopes', scopes.problem)
      const fresh = newAdminSecret()
      const o = await apply(req, { type: 'create_admin_key', name, scopes: scopes.value, lookup: fresh.lookup, salt: fresh.salt, hash: fresh.hash })
      // the one time the secret is shown: only its salted hash is kept
      return { status: 201, body: { ...adminKeyView(state.adminKeys.get(o.key_id!)!), secret: fresh.secret } }
    })
    .add('DELETE', '/api/admin_keys/:id', async (req) => {
      const id = idParam(req.params.id)
      if (id < 1) throw new SluiceError('SLUICE_ERR_KEY_NOT_FOUND', `admin key ${req.params.id.slice(0, 40)} does not exist`)
      await apply(req, { type: 'revoke_admin_key', admin_key_id: id })
      return { status: 204, body: undefined }
    })
    .add('GET', '/api/audit', async (req) => {
      const page = pageRequest(req.query)
      const projectId = idQuery(req.query, 'project_id')
      const environmentId = idQuery(req.query, 'environment_id')
      const since = sinceQuery(req.query)
      const rows = state.audit.filter((a) =>
        (projectId === undefined || a.target.project_id === projectId) &&
        (environmentId === undefined || a.target.environment_id === environmentId) &&
        (since === undefined || (typeof since === 'number' ? a.position >= since : a.time >= since)) &&
        req.grant.target(state, a.target))
      return { status: 200, body: slicePage(req.url, page, rows) }
    })
}

function idQuery(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name)
  if (raw === null || raw === '') return undefined
  const id = idParam(raw)
  if (id < 1) throw invalidField(name, 'must be an id')
  return id
}

/** `since`: a control-log position (digits) or an ISO 8601 time. */
function sinceQuery(q: URLSearchParams): number | string | undefined {
  const raw = q.get('since')
  if (raw === null || raw === '') return undefined
  if (/^\d{1,15}$/.test(raw)) return Number(raw)
  const ms = /^\d{4}-\d\d-\d\d/.test(raw) ? Date.parse(raw) : NaN
  if (!Number.isFinite(ms)) throw invalidField('since', 'must be a control-log position or an ISO 8601 time such as 2026-12-01T10:00:00Z')
  return new Date(ms).toISOString()
}

export function adminRoutes(control: ControlLog, taxonomy?: TaxonomyReader, dataDeps: DataRouteDeps = {}): Router<AdminHandler> {
  const ctx = adminContext(control, taxonomy)
  const router = accessRoutes(environmentRoutes(taxonomyRoutes(projectRoutes(new Router<AdminHandler>(), ctx), ctx), ctx), ctx)
  return addPersonRoutes(addDataRoutes(router, ctx.state, ctx.environment, dataDeps), ctx.environment, dataDeps.persons)
}
