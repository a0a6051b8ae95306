// engine/http/auth.ts: the admin bearer check and generated tokens.
import t from 'tap'
import { bearerMatches, randomToken } from '../../../../engine/http/auth'

const TOKEN = 'sluice_admin_0123456789abcdef'

const HEADERS: { name: string; header: string | undefined; matches: boolean }[] = [
  { name: 'the exact header', header: `Bearer ${TOKEN}`, matches: true },
  { name: 'a lower-case scheme', header: `bearer ${TOKEN}`, matches: true },
  { name: 'an upper-case scheme', header: `BEARER ${TOKEN}`, matches: true },
  { name: 'a missing header', header: undefined, matches: false },
  { name: 'an empty header', header: '', matches: false },
  { name: 'a scheme without token', header: 'Bearer ', matches: false },
  { name: 'a wrong token', header: 'Bearer sluice_admin_fedcba9876543210', matches: false },
  { name: 'a prefix of the token', header: `Bearer ${TOKEN.slice(0, -1)}`, matches: false },
  { name: 'the token with a suffix', header: `Bearer ${TOKEN}0`, matches: false },
  { name: 'the token with a prefix', header: `Bearer 0${TOKEN}`, matches: false },
  { name: 'the token followed by another word', header: `Bearer ${TOKEN} ${TOKEN}`, matches: false },
  { name: 'the Basic scheme', header: `Basic ${TOKEN}`, matches: false },
  { name: 'the token without scheme', header: TOKEN, matches: false },
]

for (const { name, header, matches } of HEADERS) {
  t.test(`${matches ? 'accepts' : 'rejects'} ${name}`, async (t) => {
    t.equal(bearerMatches(header, TOKEN), matches)
  })
}

t.test('an empty expected token matches nothing', async (t) => {
  t.same([bearerMatches('', ''), bearerMatches('Bearer ', ''), bearerMatches(undefined, '')], [false, false, false])
})

t.test('random tokens carry the prefix and 43 URL-safe characters, and differ', async (t) => {
  const a = randomToken('sluice_admin_')
  const b = randomToken('sluice_admin_')
  t.match(a, /^sluice_admin_[A-Za-z0-9_-]{43}$/)
  t.match(b, /^sluice_admin_[A-Za-z0-9_-]{43}$/)
  t.not(a, b)
})
