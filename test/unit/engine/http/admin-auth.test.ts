// engine/http/admin-keys.ts and auth-limiter.ts: admin secrets are found by
// their prefix and checked against a salted hash; an address that sends too
// many wrong tokens is refused for a while.
import t from 'tap'
import type { Command } from '../../../../engine/control/commands'
import { foldAll } from '../../../../engine/control/fold'
import { authenticate, hashSecret, newAdminSecret } from '../../../../engine/http/admin-keys'
import { AuthLimiter, MAX_ADDRESSES, WINDOW_MS } from '../../../../engine/http/auth-limiter'

const AT = '2026-12-01T10:00:00.000Z'
const BOOT = 'bootstrap-token-0123456789'

t.test('a new secret is random, and only its salted hash and prefix go into the command', async (t) => {
  const a = newAdminSecret()
  const b = newAdminSecret()
  t.match(a.secret, /^slk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/)
  t.not(a.secret, b.secret)
  t.not(a.salt, b.salt, 'a salt per key')
  t.equal(a.hash, hashSecret(a.salt, a.secret))
  t.not(hashSecret(b.salt, a.secret), a.hash, 'the same secret under another salt hashes differently')
  t.ok(a.secret.includes(a.lookup))
})

t.test('authenticate: the bootstrap token, a live key with its scopes, nobody for anything else', async (t) => {
  const k = newAdminSecret()
  const gone = newAdminSecret()
  const { state } = foldAll([
    { type: 'create_admin_key', request_id: 'a', at: AT, name: 'reader', scopes: [{ access: 'read', environments: [3] }], lookup: k.lookup, salt: k.salt, hash: k.hash },
    { type: 'create_admin_key', request_id: 'b', at: AT, name: 'old', scopes: [{ access: 'write' }], lookup: gone.lookup, salt: gone.salt, hash: gone.hash },
    { type: 'revoke_admin_key', request_id: 'c', at: AT, admin_key_id: 2 },
  ] as Command[])
  t.same(authenticate(`Bearer ${BOOT}`, BOOT, state)?.scopes, null)
  const g = authenticate(`Bearer ${k.secret}`, BOOT, state)
  t.same([g?.keyId, g?.keyName, g?.scopes], [1, 'reader', [{ access: 'read', environments: [3] }]])
  const wrongTail = k.secret.slice(0, -1) + (k.secret.endsWith('A') ? 'B' : 'A')
  t.same([
    authenticate(`Bearer ${wrongTail}`, BOOT, state),
    authenticate(`Bearer ${gone.secret}`, BOOT, state),
    authenticate(`Bearer ${newAdminSecret().secret}`, BOOT, state),
    authenticate(undefined, BOOT, state),
    authenticate(k.secret, BOOT, state),
  ], [undefined, undefined, undefined, undefined, undefined], 'a wrong secret, a revoked key, an unknown prefix, no header, no Bearer')
})

t.test('the limiter refuses an address from its 20th wrong token for the block time, then lets it try again', async (t) => {
  let now = 1_000_000
  const l = new AuthLimiter(20, 60_000, () => now)
  const verdicts: boolean[] = []
  for (let i = 0; i < 20; i++) verdicts.push(l.failed('10.0.0.1'))
  t.same(verdicts.lastIndexOf(false), 18, 'the 20th failure uses up the allowance')
  t.equal(verdicts[19], true)
  t.equal(l.blockedFor('10.0.0.1'), 60_000)
  t.equal(l.blockedFor('10.0.0.2'), 0, 'other addresses are not affected')
  now += 59_999
  t.equal(l.blockedFor('10.0.0.1'), 1)
  now += 1
  t.equal(l.blockedFor('10.0.0.1'), 0)
  t.equal(l.failed('10.0.0.1'), false, 'a fresh allowance')
})

t.test('failures spread over more than a minute never block; the table stays bounded', async (t) => {
  let now = 0
  const l = new AuthLimiter(20, 60_000, () => now)
  for (let i = 0; i < 100; i++) {
    t.equal(l.failed('10.0.0.1'), false)
    now += WINDOW_MS / 10
  }
  for (let i = 0; i < MAX_ADDRESSES + 500; i++) l.failed(`a${i}`)
  t.ok(l.size <= MAX_ADDRESSES)
})
