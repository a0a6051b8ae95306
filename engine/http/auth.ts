// Bearer-token check in constant time: both sides are hashed first, so the
// comparison neither short-circuits nor leaks the token's length.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

const digest = (s: string) => createHash('sha256').update(s).digest()

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m ? m[1] : undefined
}

export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (typeof header !== 'string') return false
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  const given = m ? m[1] : ''
  return timingSafeEqual(digest(given), digest(expected)) && m !== null
}

/** A random token: `prefix` + 43 URL-safe characters (256 bits). */
export function randomToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url')
}
