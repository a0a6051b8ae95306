// RFC 4122 name-based UUIDs (version 5, SHA-1), and the person id of a
// distinct_id (DESIGN §4b): uuidv5("<team_id>:<distinct_id>") in PostHog's
// person namespace, so any instance (or thread) computes it without a lookup
// and ids match PostHog's for the same data (PostHog/posthog:
// nodejs/src/worker/ingestion/person-uuid.ts, uuidFromDistinctId).
import { hash } from 'node:crypto'
import { RecentMap } from '../recent-map'

export const PERSON_NAMESPACE = '932979b4-65c3-4424-8467-0b66ec27bc22'

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex')
}

const PERSON_NS_BYTES = uuidBytes(PERSON_NAMESPACE)

type Utf8Writable = Buffer & { utf8Write(text: string, offset: number): number }

/** namespace then name, hashed in one call: a hash object per call (createHash, update, digest) cost 2.5–3 µs, crypto.hash 1.4–1.9 (100,000 names) */
const scratch = Buffer.allocUnsafeSlow(1024) as Utf8Writable

export function uuidv5(name: string, namespace: string | Buffer): string {
  const ns = typeof namespace === 'string' ? uuidBytes(namespace) : namespace
  // a name too long for the kept buffer (distinct_ids are bounded at 400 characters; other names are not) gets one of its own
  const input = scratch.length >= 16 + name.length * 3 ? scratch : Buffer.allocUnsafe(16 + name.length * 3) as Utf8Writable
  ns.copy(input, 0, 0, 16)
  const n = input.utf8Write(name, 16)
  const b = hash('sha1', input.subarray(0, 16 + n), 'buffer') as unknown as Buffer
  b[6] = (b[6] & 0x0f) | 0x50
  b[8] = (b[8] & 0x3f) | 0x80
  let s = ''
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-'
    s += HEX[b[i]]
  }
  return s
}

/**
 * Recent users' ids, per thread: a SHA-1 per event was ~5 % of a worker's
 * time in bench/ (a hash object per call), and most events are from a user
 * seen moments ago. A miss also marks the event `fresh` (extract-person.ts:
 * the worker then computes the new person's properties and sends them with
 * the intent), so the bound decides how much of that work is wasted: with
 * 50,000 the bench's 50,753 users (two threads, 300,000 events) made 45.6 %
 * of events fresh, with 100,000 32.1 % (each thread meets each user once).
 * About 150 bytes per entry: at most ~15 MB per thread.
 */
const recentPersonIds = new RecentMap<string, string>(100_000)

export function personIdOf(teamId: number, distinctId: string): string {
  return recentPersonId(teamId, distinctId).id
}

/** The person id, and whether this thread had not seen the user lately (`fresh`: likely a new person, or one not in the main thread's cache either). */
export function recentPersonId(teamId: number, distinctId: string): { id: string; fresh: boolean } {
  const name = `${teamId}:${distinctId}`
  const id = recentPersonIds.get(name)
  if (id !== undefined) return { id, fresh: false }
  const computed = uuidv5(name, PERSON_NS_BYTES)
  recentPersonIds.set(name, computed)
  return { id: computed, fresh: true }
}
