// Issue 15 (PostHog data parity, round two): per rule, a table of input
// messages and the row Sluice stores, through workers/index.ts processBatch
// (parse → steps → encode) without threads. Each table names the PostHog file
// it follows.
import t from 'tap'
import { processToJsonRows, taskOf } from '../../../harness/tasks'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import type { TaskHeader } from '../../../../workers/protocol'

const UUID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
const CAPTURED = '2025-03-04T05:06:00.000Z'
const KAFKA_TS = Date.parse('2025-03-04T05:06:01.500Z')
const TOKEN = 'phc_parity'

const { state } = foldAll([{ type: 'create_project', request_id: 'p1', at: CAPTURED, name: 'Parity', api_token: TOKEN }])
// workers cache the decoded snapshot by version: a version no other file of this process uses
const SNAPSHOT = buildSnapshot(state, 1501)

interface Row { event: string; properties: Record<string, unknown>; timestamp: string; elements_chain?: string }

function run(data: Record<string, unknown>, outer: Record<string, unknown> = {}): { header: TaskHeader; rows: Row[] } {
  const value = JSON.stringify({ uuid: UUID, distinct_id: 'user-1', now: CAPTURED, token: TOKEN, ...outer, data: JSON.stringify({ event: 'e', ...data }) })
  const { header, rows } = processToJsonRows(taskOf([value], { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: KAFKA_TS }))
  return {
    header,
    rows: rows.split('\n').filter(Boolean).map((line) => {
      const r = JSON.parse(line) as Row & { properties: string }
      return { event: r.event, properties: JSON.parse(r.properties) as Record<string, unknown>, timestamp: r.timestamp, elements_chain: r.elements_chain ?? '' }
    }),
  }
}

const warningsOf = (h: TaskHeader) => h.warnings.map(([team, type, details]) => [team, type, JSON.parse(details)])

// Rule 1, PostHog nodejs/src/worker/ingestion/process-event.ts (getElementsChain) and
// nodejs/src/utils/db/elements-chain.ts (extractElements, elementsToString)
const ELEMENTS: { name: string; properties: Record<string, unknown>; chain: string; kept: Record<string, unknown> }[] = [
  { name: 'no elements: nothing changes', properties: { a: 1 }, chain: '', kept: { a: 1 } },
  { name: '$elements_chain is stored as sent and removed', properties: { $elements_chain: 'a.btn:nth-child="1"nth-of-type="1"text="Go"', a: 1 }, chain: 'a.btn:nth-child="1"nth-of-type="1"text="Go"', kept: { a: 1 } },
  {
    name: '$elements becomes the chain PostHog builds: classes sorted, attributes sorted, defaults for nth-*',
    properties: {
      $elements: [
        { tag_name: 'a', $el_text: 'Buy', attr__class: 'primary btn', attr__href: '/buy', nth_child: 1, nth_of_type: 2 },
        { tag_name: 'div', attr__id: 'main' },
      ],
      a: 1,
    },
    chain: 'a.btn.primary:attr__class="primary btn"attr__href="/buy"href="/buy"nth-child="1"nth-of-type="2"text="Buy";div:attr__id="main"attr_id="main"nth-child="0"nth-of-type="0"',
    kept: { a: 1 },
  },
  { name: 'quotes in values are escaped, removed from classes', properties: { $elements: [{ tag_name: 'button', $el_text: 'say "hi"', attr__class: ['x"y'] }] }, chain: 'button.xy:attr__class="x\\"y"nth-child="0"nth-of-type="0"text="say \\"hi\\""', kept: {} },
  { name: '$elements_chain wins over $elements; both removed', properties: { $elements_chain: 'span:nth-child="0"nth-of-type="0"', $elements: [{ tag_name: 'a' }] }, chain: 'span:nth-child="0"nth-of-type="0"', kept: {} },
  { name: 'an empty $elements_chain falls back to $elements', properties: { $elements_chain: '', $elements: [{ tag_name: 'a' }] }, chain: 'a:nth-child="0"nth-of-type="0"', kept: {} },
  { name: 'an empty $elements array: no chain, property removed', properties: { $elements: [] }, chain: '', kept: {} },
  { name: 'an attribute PostHog cannot print (null): no chain, as PostHog stores', properties: { $elements: [{ tag_name: 'a', attr__title: null }] }, chain: '', kept: {} },
  { name: 'text is cut to 400 characters', properties: { $elements: [{ tag_name: 'p', $el_text: 'x'.repeat(500) }] }, chain: `p:nth-child="0"nth-of-type="0"text="${'x'.repeat(400)}"`, kept: {} },
]

for (const c of ELEMENTS) {
  t.test(`elements: ${c.name}`, async (t) => {
    const { rows } = run({ properties: c.properties })
    t.same(rows.map((r) => [r.elements_chain, r.properties]), [[c.chain, c.kept]])
  })
}

// Rule 4, PostHog rust/capture/src/timestamp.rs (handle_timestamp: offset wins; Rust over Node's timestamps.ts)
const TIMESTAMPS: { name: string; data: Record<string, unknown>; outer?: Record<string, unknown>; timestamp: string; warning?: string }[] = [
  { name: 'offset wins over timestamp: now − offset', data: { timestamp: '2025-03-04T01:00:00.000Z', offset: 5000 }, timestamp: '2025-03-04 05:05:55.000000' },
  { name: 'offset wins over timestamp and sent_at', data: { timestamp: '2025-03-04T01:00:00.000Z', offset: 1000 }, outer: { sent_at: '2025-03-04T01:00:10.000Z' }, timestamp: '2025-03-04 05:05:59.000000' },
  { name: 'offset wins over an invalid timestamp, without warning', data: { timestamp: 'yesterday', offset: 1000 }, timestamp: '2025-03-04 05:05:59.000000' },
  { name: '$ignore_sent_at: true disables the skew correction', data: { timestamp: '2025-03-04T04:00:10.000Z', properties: { $ignore_sent_at: true } }, outer: { sent_at: '2025-03-04T04:00:20.000Z' }, timestamp: '2025-03-04 04:00:10.000000' },
  { name: '$ignore_sent_at: "true" (a string) does not', data: { timestamp: '2025-03-04T04:00:10.000Z', properties: { $ignore_sent_at: 'true' } }, outer: { sent_at: '2025-03-04T04:00:20.000Z' }, timestamp: '2025-03-04 05:05:50.000000' },
  { name: 'an empty timestamp counts as absent: now, no warning', data: { timestamp: '' }, timestamp: '2025-03-04 05:06:00.000000' },
  { name: 'an empty sent_at counts as absent: the client timestamp', data: { timestamp: '2025-03-04T04:00:10.000Z' }, outer: { sent_at: '' }, timestamp: '2025-03-04 04:00:10.000000' },
  { name: 'an invalid timestamp: now, warning', data: { timestamp: 'yesterday' }, timestamp: '2025-03-04 05:06:00.000000', warning: 'ignored_invalid_timestamp' },
]

for (const c of TIMESTAMPS) {
  t.test(`timestamps: ${c.name}`, async (t) => {
    const { header, rows } = run(c.data, c.outer)
    t.same(rows.map((r) => r.timestamp), [c.timestamp])
    t.same(header.warnings.map((w) => w[1]), c.warning ? [c.warning] : [])
  })
}

// Rule 3, PostHog nodejs/src/utils/event.ts (normalizeEvent: properties.$sent_at = sent_at)
const SESSION: { name: string; properties: Record<string, unknown>; outer?: Record<string, unknown>; stored: Record<string, unknown> }[] = [
  { name: 'a UUID-shaped $session_id is lowercased', properties: { $session_id: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B', a: 1 }, stored: { $session_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', a: 1 } },
  { name: 'a session id that is not a UUID is kept as sent', properties: { $session_id: 'Session-ABC' }, stored: { $session_id: 'Session-ABC' } },
  { name: 'a lower case UUID is kept', properties: { $session_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' }, stored: { $session_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' } },
  { name: '$sent_at comes from the capture\'s sent_at', properties: { a: 1 }, outer: { sent_at: '2025-03-04T05:05:59.000Z' }, stored: { $sent_at: '2025-03-04T05:05:59.000Z', a: 1 } },
  { name: 'the capture\'s sent_at replaces the event\'s own $sent_at', properties: { $sent_at: 'old', a: 1 }, outer: { sent_at: '2025-03-04T05:05:59.000Z' }, stored: { $sent_at: '2025-03-04T05:05:59.000Z', a: 1 } },
  { name: 'both, with $ip from the capture', properties: { $session_id: 'ABCDEF01-0000-4000-8000-00000000000A' }, outer: { sent_at: '2025-03-04T05:05:59.000Z', ip: '203.0.113.7' }, stored: { $ip: '203.0.113.7', $sent_at: '2025-03-04T05:05:59.000Z', $session_id: 'abcdef01-0000-4000-8000-00000000000a' } },
]

for (const c of SESSION) {
  t.test(`session and sent_at: ${c.name}`, async (t) => {
    const { rows } = run({ properties: c.properties }, c.outer)
    t.same(rows.map((r) => r.properties), [c.stored])
  })
}

// Rule 2, PostHog nodejs/src/ingestion/event-processing/handle-client-ingestion-warning-step.ts ($$client_ingestion_warning)
t.test('special events: $$client_ingestion_warning is a warning with the client\'s message, not an event', async (t) => {
  const { header, rows } = run({ event: '$$client_ingestion_warning', properties: { $$client_ingestion_warning_message: 'rate limited by the SDK' } })
  t.same(rows, [])
  t.same(header.drops, { client_ingestion_warning: 1 })
  t.same(warningsOf(header), [[1, 'client_ingestion_warning', { eventUuid: UUID, event: '$$client_ingestion_warning', distinctId: 'user-1', message: 'rate limited by the SDK' }]])
})

t.test('special events: $performance_event is dropped and counted', async (t) => {
  const { header, rows } = run({ event: '$performance_event', properties: { a: 1 } })
  t.same(rows, [])
  t.same(header.drops, { performance_event: 1 })
  t.same(header.warnings, [])
})

// Rule 2 (bloat), PostHog nodejs/src/ingestion/event-processing/strip-bloat-properties.ts
t.test('bloat: the persistence-cache keys PostHog strips are stripped, others kept', async (t) => {
  const { rows } = run({ properties: { ph_product_tours: [{ id: 1 }], $session_recording_remote_config: {}, $product_tours_activated: true, $product_tours_enabled_server_side: true, $surveys_activated: ['a'], $feature_flag_payloads: { f: 1 }, $override_feature_flag_payloads: {}, $active_feature_flags: ['f'], a: 1 } })
  t.same(rows.map((r) => r.properties), [{ $active_feature_flags: ['f'], a: 1 }])
})

t.test('special events: other $-events are stored', async (t) => {
  const { header, rows } = run({ event: '$pageview', properties: { a: 1 } })
  t.same(rows.map((r) => r.event), ['$pageview'])
  t.same(header.drops, {})
})

// Rule 11, PostHog nodejs/src/ingestion/common/ingestion-warnings.ts: details open with eventUuid
t.test('warnings: details use PostHog\'s keys (eventUuid)', async (t) => {
  const { header } = run({ timestamp: 'yesterday' })
  t.same(warningsOf(header), [[1, 'ignored_invalid_timestamp', { eventUuid: UUID, field: 'timestamp', value: 'yesterday', reason: 'unparseable' }]])
})

// Rule 2 (heatmaps), PostHog nodejs/src/ingestion/event-processing/extract-heatmap-data-step.ts:
// scale factor 16, rounded; rows per environment; $heatmap_data removed from the stored event
const TS_MS = Date.parse(CAPTURED)
const VIEWPORT = { $viewport_width: 1280, $viewport_height: 800, $session_id: 'S1' }
const HEATMAPS: { name: string; data: Record<string, unknown>; heatmaps: unknown[]; stored: Record<string, unknown>[]; drops?: Record<string, number>; warnings?: string[] }[] = [
  {
    name: 'a $$heatmap event: rows, and no event (counted as heatmap_event)',
    data: { event: '$$heatmap', properties: { ...VIEWPORT, $heatmap_data: { 'https://a.test/x': [{ x: 100, y: 40, target_fixed: false, type: 'click' }, { x: 'bad', y: 1, target_fixed: false, type: 'click' }, { x: 33, y: 8, target_fixed: true, type: 'mousemove' }] } } },
    heatmaps: [[1, 'S1', 'user-1', TS_MS, 6, 3, 16, 80, 50, false, 'https://a.test/x', 'click'], [1, 'S1', 'user-1', TS_MS, 2, 1, 16, 80, 50, true, 'https://a.test/x', 'mousemove']],
    stored: [], drops: { heatmap_event: 1 },
  },
  {
    name: 'another event with $heatmap_data: rows, and the event without the property',
    data: { event: '$pageview', properties: { ...VIEWPORT, $heatmap_data: { 'https://a.test/y': [{ x: 16, y: 16, target_fixed: false, type: 'rageclick' }] } } },
    heatmaps: [[1, 'S1', 'user-1', TS_MS, 1, 1, 16, 80, 50, false, 'https://a.test/y', 'rageclick']],
    stored: [VIEWPORT],
  },
  {
    name: 'the previous page view\'s scroll depth is a scrolldepth point on its URL',
    data: { event: '$pageview', properties: { ...VIEWPORT, $current_url: 'https://a.test/new?q=1', $prev_pageview_pathname: '/old', $prev_pageview_max_scroll: 900 } },
    heatmaps: [[1, 'S1', 'user-1', TS_MS, 0, 56, 16, 80, 50, false, 'https://a.test/old?q=1', 'scrolldepth']],
    stored: [{ ...VIEWPORT, $current_url: 'https://a.test/new?q=1', $prev_pageview_pathname: '/old', $prev_pageview_max_scroll: 900 }],
  },
  {
    name: 'invalid viewport dimensions: the event is dropped, as PostHog does',
    data: { event: '$pageview', properties: { $session_id: 'S1', $heatmap_data: { 'https://a.test/x': [{ x: 1, y: 1, target_fixed: false, type: 'click' }] } } },
    heatmaps: [], stored: [], drops: { heatmap_invalid_viewport_dimensions: 1 },
  },
  {
    name: 'items that are not an array: a warning, the event stored',
    data: { event: '$pageview', properties: { ...VIEWPORT, $heatmap_data: { 'https://a.test/x': { x: 1 } } } },
    heatmaps: [], stored: [VIEWPORT], warnings: ['rejecting_heatmap_data_with_invalid_items'],
  },
  {
    name: 'a current URL that is not a URL: invalid_heatmap_data, the event stored',
    data: { event: '$pageview', properties: { ...VIEWPORT, $current_url: 'not a url', $prev_pageview_pathname: '/old', $prev_pageview_max_scroll: 10 } },
    heatmaps: [], stored: [{ ...VIEWPORT, $current_url: 'not a url', $prev_pageview_pathname: '/old', $prev_pageview_max_scroll: 10 }], warnings: ['invalid_heatmap_data'],
  },
]

for (const c of HEATMAPS) {
  t.test(`heatmaps: ${c.name}`, async (t) => {
    const { header, rows } = run(c.data)
    t.same(header.heatmaps ?? [], c.heatmaps)
    t.same(rows.map((r) => r.properties), c.stored)
    t.same(header.drops, c.drops ?? {})
    t.same(header.warnings.map((w) => w[1]), c.warnings ?? [])
  })
}

// Rule 10: NUL kept in property values as PostHog keeps them; replaced only in the
// distinct_id (PostHog nodejs/src/utils/event.ts normalizeEvent) and in event names
// of the taxonomy (rust/property-defs-rs/src/types.rs sanitize_string); a client's
// literal six-character text `\u0000` is never altered
const NUL: { name: string; data: Record<string, unknown>; outer?: Record<string, unknown>; properties: Record<string, unknown>; distinctId: string; event: string }[] = [
  { name: 'a NUL in a property value is kept', data: { properties: { nul: 'a\u0000b' } }, properties: { nul: 'a\u0000b' }, distinctId: 'user-1', event: 'e' },
  { name: 'a NUL in a property key is kept', data: { properties: { 'k\u0000': 1 } }, properties: { 'k\u0000': 1 }, distinctId: 'user-1', event: 'e' },
  { name: 'the literal text \\u0000 is never altered', data: { properties: { text: '\\u0000', both: '\\u0000\u0000' } }, properties: { text: '\\u0000', both: '\\u0000\u0000' }, distinctId: 'user-1', event: 'e' },
  { name: 'a NUL in the distinct_id becomes U+FFFD', data: { properties: { a: 1 } }, outer: { distinct_id: 'u\u0000v' }, properties: { a: 1 }, distinctId: 'u\ufffdv', event: 'e' },
  { name: 'a NUL in the event name is kept in the stored row', data: { event: 'sign\u0000up' }, properties: {}, distinctId: 'user-1', event: 'sign\u0000up' },
]

for (const c of NUL) {
  t.test(`NUL: ${c.name}`, async (t) => {
    const value = JSON.stringify({ uuid: UUID, distinct_id: 'user-1', now: CAPTURED, token: TOKEN, ...c.outer, data: JSON.stringify({ event: 'e', ...c.data }) })
    const { rows } = processToJsonRows(taskOf([value], { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: KAFKA_TS }))
    const row = JSON.parse(rows.trim()) as { properties: string; distinct_id: string; event: string }
    t.same([JSON.parse(row.properties), row.distinct_id, row.event], [c.properties, c.distinctId, c.event])
  })
}

t.test('NUL: an event name is sanitized in the taxonomy only', async (t) => {
  const { header } = run({ event: 'nul\u0000name', properties: { p: 1 } })
  t.same(header.observations.eventDefinitions.map((d) => d[1]), ['nul\ufffdname'])
  t.same(header.observations.eventProperties.map((l) => [l[1], l[2]]), [['nul\ufffdname', 'p']])
})
