// The messages of the group-update topic (SLUICE_GROUPS_TOPIC): one
// `$groupidentify`'s `$group_set` for one group, as the main thread produced
// it from a worker's GroupUpdate. The key `team_id:group_type_index:group_key`
// puts every update of a group on one partition, so one instance (the
// partition's owner in the consumer group) applies them all, in order.
//
//   value: {"team_id":2,"group_type_index":0,"group_key":"acme","group_set":{…},"timestamp_ms":1741064700123}
//
// decodeGroupUpdate is the only code that sees the topic's bytes as unknown:
// anything else (a foreign producer, a truncated value) is undefined, skipped
// and counted by the caller.
import type { GroupUpdate } from '../../../workers/protocol'

export interface DecodedGroupUpdate {
  team: number
  index: number
  key: string
  set: Record<string, unknown>
  /** the `$groupidentify` event's timestamp (ms): the group's created_at is the earliest */
  timestampMs: number
}

export function groupUpdateKey([team, index, key]: GroupUpdate): string {
  return `${team}:${index}:${key}`
}

/** The worker's `$group_set` is already JSON text of an object: it is embedded as is, not parsed again. */
export function encodeGroupUpdate([team, index, key, setJson, timestampMs]: GroupUpdate): Buffer {
  return Buffer.from(`{"team_id":${team},"group_type_index":${index},"group_key":${JSON.stringify(key)},"group_set":${setJson},"timestamp_ms":${timestampMs}}`)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function decodeGroupUpdate(value: Buffer | null | undefined): DecodedGroupUpdate | undefined {
  if (!value) return undefined
  let m: unknown
  try { m = JSON.parse(value.toString('utf8')) } catch { return undefined }
  if (!isObject(m)) return undefined
  const { team_id: team, group_type_index: index, group_key: key, group_set: set, timestamp_ms: timestampMs } = m
  if (!Number.isSafeInteger(team) || !Number.isInteger(index) || (index as number) < 0 || (index as number) > 4) return undefined
  if (typeof key !== 'string' || key.length === 0 || !isObject(set) || typeof timestampMs !== 'number' || !Number.isFinite(timestampMs)) return undefined
  return { team: team as number, index: index as number, key, set, timestampMs }
}
