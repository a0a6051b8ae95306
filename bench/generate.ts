// Realistic PostHog capture messages (DESIGN §4 input format, ~1.4 KB with
// PostHog-length tokens): web properties, ~17 custom properties of mixed
// types, `$groups` with two types and about 1 % `$groupidentify`, UUIDv7
// uuids. Deterministic for a given seed, except for the clock (timestamps and
// the uuids' time bits).

const BROWSERS = ['Chrome', 'Firefox', 'Safari', 'Edge']
const OSES = ['Mac OS X', 'Windows', 'Linux', 'iOS', 'Android']
const EVENTS = ['$pageview', '$autocapture', 'signed up', 'purchase', 'added to cart', '$pageleave']
const PATHS = ['/', '/pricing', '/docs/getting-started', '/blog/launch', '/checkout', '/account/settings']

function rng(seed: number) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5
    return (s >>> 0) / 4294967296
  }
}

export interface GeneratorOptions { tokens: string[]; seed?: number; users?: number }

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** RFC 9562 UUIDv7: 48-bit unix ms, version 7, variant 10, 74 bits from `random`. */
export function uuidv7(ms: number, random: () => number): string {
  const b = new Array<number>(16)
  let t = ms
  for (let i = 5; i >= 0; i--) { b[i] = t % 256; t = Math.floor(t / 256) }
  for (let i = 6; i < 16; i++) b[i] = Math.floor(random() * 256)
  b[6] = 0x70 | (b[6] & 0x0f)
  b[8] = 0x80 | (b[8] & 0x3f)
  const h = b.map((x) => HEX[x]).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export function messageGenerator(o: GeneratorOptions): () => string {
  const r = rng(o.seed ?? 42)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
  const users = o.users ?? 10_000
  return () => {
    const token = pick(o.tokens)
    const user = Math.floor(r() * users)
    // 2 % of users identify: anonymous, identified, and the $identify between them
    const identifying = user % 50 === 0
    const side = identifying ? r() : 1
    const identify = side < 0.1
    const distinct_id = identifying && side < 0.55 && !identify ? `anon-${user}` : `user-${user}`
    const now = new Date()
    const uuid = uuidv7(now.getTime(), r)
    const groupIdentify = r() < 0.01
    const properties: Record<string, unknown> = groupIdentify
      ? { $group_type: 'company', $group_key: `company-${user % 500}`, $group_set: { name: `Company ${user % 500}`, plan: pick(['free', 'pro', 'enterprise']), seats: Math.floor(r() * 500) } }
      : {
          $current_url: `https://shop.example.com${pick(PATHS)}?ref=${Math.floor(r() * 1000)}`,
          $host: 'shop.example.com', $pathname: pick(PATHS), $browser: pick(BROWSERS), $browser_version: 120 + Math.floor(r() * 10),
          $os: pick(OSES), $device_type: pick(['Desktop', 'Mobile', 'Tablet']), $device_id: `dev-${user}`, $lib: 'web', $lib_version: '1.200.0',
          $screen_height: 1080, $screen_width: 1920, $referrer: 'https://www.google.com/', $session_id: `sess-${user}-${Math.floor(r() * 10)}`,
          plan: pick(['free', 'pro', 'enterprise']), cart_value: Math.round(r() * 50000) / 100, items: Math.floor(r() * 10), is_returning: r() < 0.5,
          utm_source: pick(['google', 'newsletter', 'twitter']), utm_campaign: `spring-${Math.floor(r() * 5)}`, experiment_variant: pick(['control', 'test']),
          signup_date: '2026-01-15T10:00:00Z', last_seen_at: now.toISOString(), score: r() * 100, country: pick(['DE', 'FR', 'US', 'BR']), locale: 'en-US',
          feature_count: Math.floor(r() * 30), theme: pick(['dark', 'light']), note: 'x'.repeat(40 + Math.floor(r() * 40)), referral_code: null, tags: ['a', 'b'],
          $groups: { company: `company-${user % 500}`, project: `project-${user % 2000}` },
        }
    if (identify && !groupIdentify) properties.$anon_distinct_id = `anon-${user}`
    if (r() < 0.1 && !groupIdentify) properties.$set = { plan: pick(['free', 'pro', 'enterprise']), email: `${distinct_id}@example.com`, seats: Math.floor(r() * 50) }
    const data = { event: groupIdentify ? '$groupidentify' : identify ? '$identify' : pick(EVENTS), distinct_id, properties, timestamp: now.toISOString(), uuid }
    return JSON.stringify({ uuid, distinct_id, ip: '203.0.113.7', site_url: 'https://shop.example.com', now: now.toISOString(), sent_at: now.toISOString(), token, data: JSON.stringify(data) })
  }
}
