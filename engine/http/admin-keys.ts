// Admin keys' secrets (issue 17). A secret is `slk_` + a 12-hex-digit lookup
// prefix + `_` + 32 random bytes (base64url). The control log and ClickHouse
// keep only the prefix, a per-key random 32-byte salt and sha256(salt ‖
// secret): a slow hash (scrypt) defends guessable passwords; these secrets
// carry 256 bits of randomness, so a salted fast hash already makes a leaked
// hash useless, and checking a request costs one sha256, not tens of ms.
// Comparison is constant-time; the prefix finds the key in one Map get.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ControlState } from '../control/fold'
import { Grant } from '../control/scopes'
import { bearerMatches, bearerToken } from './auth'

const SECRET = /^slk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/

export interface NewAdminSecret { secret: string; lookup: string; salt: string; hash: string }

export const hashSecret = (saltHex: string, secret: string): string =>
  createHash('sha256').update(Buffer.from(saltHex, 'hex')).update(secret, 'utf8').digest('hex')

export function newAdminSecret(): NewAdminSecret {
  const lookup = randomBytes(6).toString('hex')
  const secret = `slk_${lookup}_${randomBytes(32).toString('base64url')}`
  const salt = randomBytes(32).toString('hex')
  return { secret, lookup, salt, hash: hashSecret(salt, secret) }
}

// compared against when the prefix names no key, so that a miss costs what a hit costs
const DUMMY = { salt: '00'.repeat(32), hash: 'ff'.repeat(32) }

/**
 * A well-formed admin secret whose prefix this instance does not know (yet):
 * the key may have been made through another instance a moment ago, so the
 * server catches up with the control log once before calling it wrong.
 */
export function unknownAdminKey(header: string | undefined, state: ControlState): boolean {
  const m = SECRET.exec(bearerToken(header) ?? '')
  return m !== null && !state.adminLookups.has(m[1])
}

/**
 * Who the Authorization header names: the bootstrap token (every right), a
 * live admin key (its scopes), or nobody (undefined → 401).
 */
export function authenticate(header: string | undefined, bootstrap: string, state: ControlState): Grant | undefined {
  if (bearerMatches(header, bootstrap)) return Grant.bootstrap()
  const given = bearerToken(header)
  const m = given === undefined ? null : SECRET.exec(given)
  if (!m) return undefined
  const id = state.adminLookups.get(m[1])
  const key = id === undefined ? undefined : state.adminKeys.get(id)
  const stored = key ?? DUMMY
  const same = timingSafeEqual(Buffer.from(hashSecret(stored.salt, given!), 'hex'), Buffer.from(stored.hash, 'hex'))
  if (!same || !key || key.revoked) return undefined
  return new Grant(key.id, key.name, key.scopes)
}
