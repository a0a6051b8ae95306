// The control snapshot as the steps use it: per token, the environment with
// its settings and its project's shared settings, decided once per snapshot
// version (not per event): a project without filters has null filters and
// its events skip the work.
import type { ControlSnapshot, SnapshotProject } from './protocol'

export interface ResolvedProject {
  readonly id: number
  /** null when the project drops no event names */
  readonly dropEventNames: ReadonlySet<string> | null
  /** null when the project redacts nothing */
  readonly redactPropertyNames: readonly string[] | null
  readonly groupTypes: ReadonlyMap<string, number>
}

export interface ResolvedEnvironment {
  readonly id: number
  /** the SDK key whose token resolved here: one object per token, so resolving stays one Map get */
  readonly keyId: number
  readonly project: ResolvedProject
  readonly anonymizeIps: boolean
  readonly dropOlderThanMs: number
}

function resolveProject(p: SnapshotProject | undefined, id: number): ResolvedProject {
  return {
    id,
    dropEventNames: p && p.drop_event_names.length > 0 ? new Set(p.drop_event_names) : null,
    redactPropertyNames: p && p.redact_property_names.length > 0 ? p.redact_property_names : null,
    groupTypes: new Map(p?.group_types ?? []),
  }
}

export function environmentsByToken(snapshot: ControlSnapshot): Map<string, ResolvedEnvironment> {
  const projects = new Map<number, ResolvedProject>()
  for (const p of snapshot.projects) projects.set(p.id, resolveProject(p, p.id))
  const out = new Map<string, ResolvedEnvironment>()
  for (const e of snapshot.environments) {
    let project = projects.get(e.project_id)
    if (!project) projects.set(e.project_id, (project = resolveProject(undefined, e.project_id)))
    for (const [token, keyId] of e.tokens) out.set(token, { id: e.id, keyId, project, anonymizeIps: e.anonymize_ips, dropOlderThanMs: e.drop_older_than_ms })
  }
  return out
}
