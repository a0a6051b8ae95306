// Builds what workers need from the control state (tokens → environment and
// project) as msgpack in a SharedArrayBuffer: each task carries a reference,
// posting it copies nothing, and a worker decodes it once per version.
import { pack } from 'msgpackr'
import type { ControlSnapshot, SnapshotRef } from '../../workers/protocol'
import type { ControlState } from './fold'

export function buildSnapshot(state: ControlState, version: number): SnapshotRef {
  const snapshot: ControlSnapshot = { version, environments: [] }
  for (const env of state.environments.values()) {
    if (state.tokens.get(env.api_token) === env.id) snapshot.environments.push({ id: env.id, project_id: env.project_id, token: env.api_token })
  }
  const bytes = pack(snapshot)
  const buffer = new SharedArrayBuffer(bytes.length)
  new Uint8Array(buffer).set(bytes)
  return { version, buffer, length: bytes.length }
}
