// The admin API (DESIGN §8) on SLUICE_ADMIN_PORT. Reads come from this
// instance's folded control state; writes are commands appended to the
// control log, answered once this instance has folded them.
import type { ControlLog } from '../control/log'
import type { Outcome } from '../control/commands'
import { TOKEN_PATTERN, validName, type ControlState, type EnvironmentState, type ProjectState } from '../control/fold'
import { invalidField, SluiceError } from '../errors'
import { randomToken } from './auth'
import { Router } from './router'

export interface AdminRequest {
  params: Record<string, string>
  body: () => Promise<Record<string, unknown>>
}

export interface AdminResponse { status: number; body: unknown }

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse>

export function environmentView(e: EnvironmentState) {
  return { id: e.id, project_id: e.project_id, name: e.name, api_token: e.api_token, settings: e.settings }
}

export function projectView(state: ControlState, p: ProjectState) {
  return {
    id: p.id,
    name: p.name,
    settings: p.settings,
    environments: p.environment_ids.map((id) => state.environments.get(id)).filter((e): e is EnvironmentState => e !== undefined).map(environmentView),
  }
}

function idParam(raw: string, what: 'project'): number {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(id)) throw new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', raw.slice(0, 40))
  void what
  return id
}

function nameField(body: Record<string, unknown>): string {
  const name = body.name
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

function rejectOutcome(o: Outcome): never {
  if (o.ok) throw new Error('unreachable')
  if (o.error === 'not_found') throw new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', o.message)
  if (o.error === 'conflict') throw new SluiceError('SLUICE_ERR_CONFLICT', o.message)
  throw new SluiceError('SLUICE_ERR_INVALID_FIELD', o.message)
}

export function adminRoutes(control: ControlLog): Router<AdminHandler> {
  const state = control.state
  const project = (id: number) => {
    const p = state.projects.get(id)
    if (!p) throw new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', id)
    return p
  }
  return new Router<AdminHandler>()
    .add('GET', '/api/projects', async () => ({
      status: 200,
      body: { results: [...state.projects.values()].map((p) => projectView(state, p)) },
    }))
    .add('POST', '/api/projects', async (req) => {
      const body = await req.body()
      const name = nameField(body)
      const api_token = tokenField(body)
      const o = await control.append({ type: 'create_project', name, api_token })
      if (!o.ok) rejectOutcome(o)
      return { status: 201, body: projectView(state, project(o.project_id)) }
    })
    .add('GET', '/api/projects/:id', async (req) => ({ status: 200, body: projectView(state, project(idParam(req.params.id, 'project'))) }))
    .add('POST', '/api/projects/:id/environments', async (req) => {
      const id = idParam(req.params.id, 'project')
      project(id)
      const body = await req.body()
      const name = nameField(body)
      const api_token = tokenField(body)
      const o = await control.append({ type: 'create_environment', project_id: id, name, api_token })
      if (!o.ok) rejectOutcome(o)
      return { status: 201, body: environmentView(state.environments.get(o.environment_id!)!) }
    })
}
