// What an admin key may do (issue 17): a key holds scopes; each scope is
// `read` or `write` (write includes read) on everything, on listed projects
// (every environment of theirs, the projects' shared taxonomy and settings) or
// on listed environments (those environments, their project's shared taxonomy
// read-only, nothing else). Pure: the fold checks scopes with checkScopes,
// the admin API decides with Grant.
import type { ControlState, EnvironmentState, ProjectState } from './fold'

export interface Scope {
  access: 'read' | 'write'
  /** absent with `environments` absent too: everything */
  projects?: number[]
  environments?: number[]
}

export const MAX_SCOPES = 20
export const MAX_SCOPE_IDS = 1_000

export type ScopesCheck = { ok: true; value: Scope[] } | { ok: false; problem: string }

const idList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length >= 1 && v.length <= MAX_SCOPE_IDS && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1)

/** Validates scopes as sent by a writer; the canonical copy keeps only known fields. */
export function checkScopes(v: unknown): ScopesCheck {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_SCOPES) return { ok: false, problem: `must be a list of 1–${MAX_SCOPES} scopes` }
  const out: Scope[] = []
  for (const [i, s] of v.entries()) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return { ok: false, problem: `[${i}] must be an object {access, projects?, environments?}` }
    const o = s as Record<string, unknown>
    for (const k of Object.keys(o)) if (!['access', 'projects', 'environments'].includes(k)) return { ok: false, problem: `[${i}].${k.slice(0, 40)} is not a scope field (access, projects, environments)` }
    if (o.access !== 'read' && o.access !== 'write') return { ok: false, problem: `[${i}].access must be "read" or "write"` }
    if (o.projects !== undefined && o.environments !== undefined) return { ok: false, problem: `[${i}] names projects or environments, not both` }
    if (o.projects !== undefined && !idList(o.projects)) return { ok: false, problem: `[${i}].projects must be a list of 1–${MAX_SCOPE_IDS} project ids` }
    if (o.environments !== undefined && !idList(o.environments)) return { ok: false, problem: `[${i}].environments must be a list of 1–${MAX_SCOPE_IDS} environment ids` }
    const scope: Scope = { access: o.access }
    if (o.projects !== undefined) scope.projects = [...new Set(o.projects as number[])].sort((a, b) => a - b)
    if (o.environments !== undefined) scope.environments = [...new Set(o.environments as number[])].sort((a, b) => a - b)
    out.push(scope)
  }
  return { ok: true, value: out }
}

export type Access = 'read' | 'write'

const allows = (s: Scope, access: Access) => access === 'read' || s.access === 'write'
const everything = (s: Scope) => s.projects === undefined && s.environments === undefined

/**
 * What one caller may do: the bootstrap token (every right) or an admin
 * key's scopes. Decisions read the folded state, so a scope on a project
 * covers environments created or moved into it later.
 */
export class Grant {
  constructor(
    /** 0: the bootstrap SLUICE_ADMIN_TOKEN */
    readonly keyId: number,
    readonly keyName: string,
    /** null: every right */
    readonly scopes: readonly Scope[] | null,
  ) {}

  static bootstrap(): Grant {
    return new Grant(0, 'SLUICE_ADMIN_TOKEN', null)
  }

  /** On everything (creating projects, managing admin keys). */
  global(access: Access): boolean {
    return this.scopes === null || this.scopes.some((s) => everything(s) && allows(s, access))
  }

  environment(e: Pick<EnvironmentState, 'id' | 'project_id'>, access: Access): boolean {
    if (this.scopes === null) return true
    return this.scopes.some((s) => allows(s, access) && (everything(s) || s.projects?.includes(e.project_id) === true || s.environments?.includes(e.id) === true))
  }

  /**
   * A project itself (its settings, its environments list, its taxonomy):
   * writing needs the project in scope; reading also follows from reading
   * one of its environments, and then shows only those environments.
   */
  project(state: ControlState, p: Pick<ProjectState, 'id' | 'environment_ids'>, access: Access): boolean {
    if (this.scopes === null) return true
    if (this.scopes.some((s) => allows(s, access) && (everything(s) || s.projects?.includes(p.id) === true))) return true
    if (access === 'write') return false
    return p.environment_ids.some((id) => {
      const e = state.environments.get(id)
      return e !== undefined && this.environment(e, 'read')
    })
  }

  /** Listing filter for audit entries and the like: a target with neither id is global. */
  target(state: ControlState, t: { project_id?: number; environment_id?: number }): boolean {
    if (this.scopes === null) return true
    if (t.environment_id !== undefined) {
      const e = state.environments.get(t.environment_id)
      return e !== undefined ? this.environment(e, 'read') : this.global('read')
    }
    if (t.project_id !== undefined) {
      const p = state.projects.get(t.project_id)
      return p !== undefined ? this.project(state, p, 'read') : this.global('read')
    }
    return this.global('read')
  }
}
