// Which right each admin route needs (issue 17), decided from its method and
// pattern alone, so that no route can forget its check: GET reads, anything
// else writes; `/api/environments/:id…` is about that environment,
// `/api/projects/:id…` about that project; list routes are open to every key
// and filter their rows; everything else needs the right on everything.
// engine/http/server.ts checks the need before the handler runs.
import type { ControlState } from '../control/fold'
import type { Access, Grant } from '../control/scopes'
import { SluiceError } from '../errors'

export type Need =
  | { kind: 'any' }
  | { kind: 'listed' }
  | { kind: 'global'; access: Access }
  | { kind: 'environment'; access: Access }
  | { kind: 'project'; access: Access }

/** Routes any valid key may call: the document itself, this instance's status. */
const OPEN = new Set(['/api/openapi.json', '/api/status'])
/** Lists whose rows are filtered by the key's scopes instead of refused. */
const LISTED = new Set(['GET /api/projects', 'GET /api/audit'])

export function routeNeed(method: string, pattern: string): Need {
  const access: Access = method === 'GET' || method === 'HEAD' ? 'read' : 'write'
  if (OPEN.has(pattern) && access === 'read') return { kind: 'any' }
  if (LISTED.has(`${method} ${pattern}`)) return { kind: 'listed' }
  if (pattern.startsWith('/api/environments/:id')) return { kind: 'environment', access }
  if (pattern.startsWith('/api/projects/:id')) return { kind: 'project', access }
  return { kind: 'global', access }
}

const idOf = (raw: string | undefined) => (raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : -1)

/** Throws 403 (SLUICE_ERR_FORBIDDEN) when `grant` does not cover `need` for the route's `:id`. */
export function checkNeed(grant: Grant, need: Need, params: Record<string, string>, state: ControlState): void {
  let allowed: boolean
  let what: string
  switch (need.kind) {
    case 'any':
    case 'listed':
      return
    case 'global':
      allowed = grant.global(need.access)
      what = `${need.access} everything`
      break
    case 'environment': {
      const e = state.environments.get(idOf(params.id))
      // an unknown id: the handler answers 404 to a key that could see it if it existed, 403 to any other
      allowed = e ? grant.environment(e, need.access) : grant.global(need.access)
      what = `${need.access} environment ${String(params.id).slice(0, 20)}`
      break
    }
    case 'project': {
      const p = state.projects.get(idOf(params.id))
      allowed = p ? grant.project(state, p, need.access) : grant.global(need.access)
      what = `${need.access} project ${String(params.id).slice(0, 20)}`
      break
    }
  }
  if (!allowed) throw new SluiceError('SLUICE_ERR_FORBIDDEN', grant.keyId, what)
}
