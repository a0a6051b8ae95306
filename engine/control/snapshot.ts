// Builds what workers need from the control state (tokens → environment and
// project) as msgpack in a SharedArrayBuffer: each task carries a reference,
// posting it copies nothing, and a worker decodes it once per version.
import { pack } from 'msgpackr'
import type { ControlSnapshot, SnapshotRef } from '../../workers/protocol'
import type { ControlState } from './fold'

export function buildSnapshot(state: ControlState, version: number): SnapshotRef {
  const snapshot: ControlSnapshot = { version, environments: [], projects: [] }
  // one pass over the keys, not one per environment: 10,000 environments stay linear
  const tokensOf = new Map<number, [string, number][]>()
  for (const k of state.sdkKeys.values()) {
    if (k.revoked) continue
    let list = tokensOf.get(k.environment_id)
    if (!list) tokensOf.set(k.environment_id, (list = []))
    for (const token of k.previous ? [k.token, k.previous.token] : [k.token]) if (state.tokens.get(token) === k.environment_id) list.push([token, k.id])
  }
  for (const env of state.environments.values()) {
    const tokens = tokensOf.get(env.id)
    if (env.deleted || !tokens || tokens.length === 0) continue
    const s = env.settings
    snapshot.environments.push({
      id: env.id, project_id: env.project_id, tokens,
      anonymize_ips: s.anonymize_ips, drop_older_than_ms: (s.drop_events_older_than_seconds ?? 0) * 1000,
    })
  }
  for (const p of state.projects.values()) {
    if (p.merged_into !== null) continue
    snapshot.projects.push({
      id: p.id, drop_event_names: p.settings.drop_event_names, redact_property_names: p.settings.redact_property_names, group_types: [...p.group_types],
    })
  }
  const bytes = pack(snapshot)
  const buffer = new SharedArrayBuffer(bytes.length)
  new Uint8Array(buffer).set(bytes)
  return { version, buffer, length: bytes.length }
}
