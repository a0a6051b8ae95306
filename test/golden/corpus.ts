// The golden corpus (issue 15): a fixed set of PostHog-SDK-shaped capture
// messages, generated from a seeded PRNG so that it is the same on every
// machine and every run, covering the parity rules: autocapture with
// `$elements_chain` and `$elements`, heatmaps, groups, person `$set`,
// client ingestion warnings, `$performance_event`, offsets, skewed and
// invalid timestamps, upper case session ids, feature flags, NUL, bloat
// properties, time-like keys and date strings. test/golden/golden.test.ts runs
// it through the worker and compares every stored row with expected.json.
import type { Command } from '../../engine/control/commands'

export const CAPTURED = '2025-03-04T05:06:00.000Z'
export const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
export const KAFKA_TS = Date.parse('2025-03-04T05:06:01.500Z')
export const SHOP = 'phc_golden_shop' // environment 1 of project 1
export const SHOP_STAGING = 'phc_golden_shop_staging' // environment 2 of project 1
export const BLOG = 'phc_golden_blog' // environment 3 of project 3

export const CONTROL: Command[] = [
  { type: 'create_project', request_id: 'g1', at: CAPTURED, name: 'Shop', api_token: SHOP },
  { type: 'create_environment', request_id: 'g2', at: CAPTURED, project_id: 1, name: 'Staging', api_token: SHOP_STAGING },
  { type: 'create_project', request_id: 'g3', at: CAPTURED, name: 'Blog', api_token: BLOG },
  { type: 'claim_group_type', request_id: 'g4', at: CAPTURED, project_id: 1, group_type: 'organization' },
  { type: 'claim_group_type', request_id: 'g5', at: CAPTURED, project_id: 1, group_type: 'company' },
  { type: 'claim_group_type', request_id: 'g6', at: CAPTURED, project_id: 3, group_type: 'company' },
  { type: 'claim_group_type', request_id: 'g8', at: CAPTURED, project_id: 3, group_type: 'organization' },
  { type: 'update_environment', request_id: 'g7', at: CAPTURED, environment_id: 2, settings: { drop_events_older_than_seconds: 86400 } },
]

/** mulberry32: small, seeded, the same everywhere */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Obj = Record<string, unknown>

export function goldenCorpus(seed = 15, count = 240): string[] {
  const rnd = prng(seed)
  const int = (n: number) => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('')
  const uuid = () => `${hex(8)}-${hex(4)}-7${hex(3)}-8${hex(3)}-${hex(12)}`
  const users = Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? `${10_000 + i}` : `user-${i}`))
  const sessions = Array.from({ length: 6 }, () => uuid().toUpperCase())
  const urls = ['https://shop.example/', 'https://shop.example/cart', 'https://shop.example/p/42?ref=mail', 'https://blog.example/post/1']
  const base = Date.parse(CAPTURED)
  const iso = (ms: number) => new Date(ms).toISOString()

  const shapes: ((p: Obj) => { data: Obj; outer?: Obj })[] = [
    // posthog-js autocapture, current SDKs
    (p) => ({ data: { event: '$autocapture', properties: { ...p, $event_type: 'click', $elements_chain: `button.btn.primary:nth-child="${int(5)}"nth-of-type="1"text="Buy ${int(9)}"` } } }),
    // older SDKs: $elements
    (p) => ({ data: { event: '$autocapture', properties: { ...p, $elements: [{ tag_name: 'a', $el_text: `Link ${int(9)}`, attr__class: 'nav "item" active', attr__href: pick(urls), nth_child: int(4), nth_of_type: 1 }, { tag_name: 'li', attr__id: `n${int(3)}` }, { tag_name: 'ul' }] } } }),
    (p) => ({ data: { event: '$pageview', properties: { ...p, $viewport_width: 1280 + int(640), $viewport_height: 720 + int(360), $prev_pageview_pathname: pick(['/', '/cart', '/p/1']), $prev_pageview_max_scroll: int(4000), title: 'Shop' } } }),
    (p) => ({ data: { event: '$$heatmap', properties: { ...p, $viewport_width: 1440, $viewport_height: 900, $heatmap_data: { [pick(urls)]: Array.from({ length: 1 + int(4) }, () => ({ x: int(1440), y: int(3000), target_fixed: rnd() < 0.2, type: pick(['click', 'rageclick', 'mousemove']) })) } } } }),
    (p) => ({ data: { event: 'clicked buy', properties: { ...p, $viewport_width: 390, $viewport_height: 844, $heatmap_data: { [pick(urls)]: [{ x: int(390), y: int(844), target_fixed: false, type: 'click' }], '': [{ x: 1, y: 1, target_fixed: false, type: 'click' }] } } } }),
    (p) => ({ data: { event: '$groupidentify', properties: { ...p, $group_type: pick(['organization', 'company']), $group_key: `org:${int(4)}`, $group_set: { name: `Org ${int(4)}`, employees: int(500), founded_at: '2019-05-0' + (1 + int(8)), plan: pick(['free', 'pro']) } } } }),
    (p) => ({ data: { event: 'invoice paid', properties: { ...p, $groups: { organization: `org:${int(4)}`, company: `c:${int(3)}` }, amount: int(10_000) / 100, currency: 'EUR', paid_at: iso(base - int(86_400_000)), created_at: Math.floor(base / 1000) - int(1000) } } }),
    (p) => ({ data: { event: '$identify', properties: { ...p, $set: { email: `u${int(99)}@example.com`, plan: pick(['free', 'pro']), age: 18 + int(50) }, $set_once: { first_seen_at: iso(base - 5 * 86_400_000) } } } }),
    (p) => ({ data: { event: '$$client_ingestion_warning', properties: { ...p, $$client_ingestion_warning_message: pick(['posthog-js: rate limited', 'posthog-js: payload too large']) } } }),
    (p) => ({ data: { event: '$performance_event', properties: { ...p, 0: 'navigation', 1: int(3000) } } }),
    // offset wins over the timestamp
    (p) => ({ data: { event: 'mobile tap', offset: int(60_000), timestamp: iso(base - 3_600_000), properties: { ...p, $lib: 'posthog-ios', $screen_name: 'Home' } } }),
    // skewed client clock, corrected by sent_at; or not, with $ignore_sent_at
    (p) => ({ data: { event: 'skewed', timestamp: iso(base + 7_200_000 - int(10_000)), properties: { ...p, $ignore_sent_at: rnd() < 0.3 } }, outer: { sent_at: iso(base + 7_200_000) } }),
    (p) => ({ data: { event: 'bad time', timestamp: pick(['yesterday', '', '2025-13-45T00:00:00Z']), properties: p } }),
    (p) => ({ data: { event: 'future', timestamp: iso(base + 30 * 3_600_000), properties: p } }),
    (p) => ({ data: { event: 'old', timestamp: iso(base - 3 * 86_400_000), properties: p } }),
    (p) => ({ data: { event: 'flags', properties: { ...p, '$feature/new-checkout': pick([true, false, 'test']), '$feature_enrollment/beta': true, $active_feature_flags: ['new-checkout'], $feature_flag_response: true, ph_product_tours: [{ id: 't1', steps: [] }], $surveys_activated: ['s1'] } } }),
    (p) => ({ data: { event: 'types', properties: { ...p, is_admin: pick(['true', 'TRUE', 'True', ' false ']), signup_date: pick(['2024-01-15', '15.01.2024', '2024-01-15 10:20', '01/15/2024']), utm_source: int(9), $initial_utm_source: int(9), count: int(100), last_seen_timestamp: Date.parse('2020-01-01') } } }),
    (p) => ({ data: { event: 'nul', properties: { ...p, note: 'a\u0000b', literal: '\\u0000' } }, outer: { distinct_id: 'nul\u0000user' } }),
  ]

  const messages: string[] = []
  for (let i = 0; i < count; i++) {
    const token = pick([SHOP, SHOP, SHOP_STAGING, BLOG])
    const distinct = pick(users)
    const props: Obj = { $lib: 'web', $session_id: rnd() < 0.5 ? pick(sessions) : pick(sessions).toLowerCase(), $current_url: pick(urls) }
    const { data, outer } = shapes[i % shapes.length](props)
    const sentAt = rnd() < 0.7 ? iso(base - int(2000)) : undefined
    messages.push(JSON.stringify({
      uuid: uuid(), distinct_id: distinct, ip: `203.0.113.${int(255)}`, site_url: 'https://app.posthog.example', now: CAPTURED, token,
      ...(sentAt ? { sent_at: sentAt } : {}), ...outer,
      data: JSON.stringify({ timestamp: iso(base - int(600_000)), ...data }),
    }))
  }
  return messages
}
