// deploy/: the Grafana dashboard and the Prometheus alert rules query only
// metric names that /metrics exposes, i.e. that engine/metrics.ts (with the
// default process metrics under the sluice_ prefix) registers. A renamed or
// removed metric fails here instead of leaving an empty panel.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { createMetrics } from '../../../engine/metrics'

const DEPLOY = path.join(__dirname, '../../../../deploy')
const DASHBOARD = path.join(DEPLOY, 'grafana/sluice-dashboard.json')
const ALERTS = path.join(DEPLOY, 'prometheus/alerts.yml')

/** Sample names /metrics can show: histograms and summaries add their series suffixes. */
async function exposedNames(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    const type = String(m.type) // 'histogram', … at run time (typed as an enum)
    names.add(m.name)
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s)
  }
  return names
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or durations. */
function metricNames(expr: string): string[] {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
  e = e.replace(/\{[^}]*\}/g, ' ') // label matchers
  e = e.replace(/\[[^\]]*\]/g, ' ') // range selectors
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
  e = e.replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ') // numbers
  const names: string[] = []
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = e.slice(m.index! + m[0].length).trimStart()
    if (rest.startsWith('(')) continue // a function or an aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue
    names.push(m[0])
  }
  return names
}

interface Panel { title?: string; type?: string; targets?: { expr?: string }[]; panels?: Panel[] }

function dashboardQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating?: { list: { name: string; query?: string | { query?: string } }[] } }
  const out: { where: string; expr: string }[] = []
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const target of p.targets ?? []) if (target.expr) out.push({ where: `panel "${p.title}"`, expr: target.expr })
      if (p.panels) walk(p.panels)
    }
  }
  walk(dashboard.panels)
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query
    // label_values(metric{…}, label): only the metric is a name
    const m = q ? /^label_values\(\s*([^,]+),/.exec(q) : null
    if (m) out.push({ where: `variable $${v.name}`, expr: m[1] })
  }
  return out
}

function alertQueries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = []
  let alert = '?'
  for (const line of fs.readFileSync(ALERTS, 'utf8').split('\n')) {
    const a = /^\s*-\s*alert:\s*(\S+)/.exec(line)
    if (a) alert = a[1]
    const e = /^\s*expr:\s*(.+)$/.exec(line)
    if (e) out.push({ where: `alert ${alert}`, expr: e[1].trim() })
  }
  return out
}

function unknownNames(queries: { where: string; expr: string }[], exposed: Set<string>): string[] {
  const wrong: string[] = []
  for (const { where, expr } of queries) {
    const names = metricNames(expr)
    if (names.length === 0) wrong.push(`${where}: selects no metric in ${expr}`)
    for (const n of names) if (!exposed.has(n)) wrong.push(`${where}: ${n} is not exposed by /metrics`)
  }
  return wrong
}

t.test('the name extraction finds metrics and skips functions, labels, keywords and numbers', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, table) (rate(sluice_insert_duration_seconds_bucket{job=~"$job",table=~".+[.]events"}[$__rate_interval])))'), ['sluice_insert_duration_seconds_bucket'])
  t.same(metricNames('sum by (instance) (rate(a_total[5m])) > 0 and sum without (x) (b) == 0'), ['a_total', 'b'])
  t.same(metricNames('sum(rate(x_sum[1m])) / sum(rate(x_count[1m])) > 1e3'), ['x_sum', 'x_count'])
})

t.test('a query of a metric /metrics does not expose is reported', async (t) => {
  const exposed = await exposedNames()
  t.same(unknownNames([{ where: 'test', expr: 'sum(rate(sluice_events_ingested_total[5m]))' }], exposed), ['test: sluice_events_ingested_total is not exposed by /metrics'])
  t.same(unknownNames([{ where: 'test', expr: 'up' }], exposed), ['test: up is not exposed by /metrics'])
  t.same(unknownNames([{ where: 'test', expr: 'vector(1)' }], exposed), ['test: selects no metric in vector(1)'])
})

t.test('every metric the Grafana dashboard queries is exposed by /metrics', async (t) => {
  const queries = dashboardQueries()
  t.ok(queries.length >= 20, `the dashboard has its queries (${queries.length})`)
  t.same(unknownNames(queries, await exposedNames()), [])
})

t.test('the dashboard shows throughput, lag, drops and dead letters by reason, insert latency, memory and in-flight bytes', async (t) => {
  const queried = new Set(dashboardQueries().flatMap((q) => metricNames(q.expr)))
  for (const name of [
    'sluice_messages_consumed_total', 'sluice_events_inserted_total', 'sluice_event_lag_seconds_bucket', 'sluice_consumer_lag_messages',
    'sluice_control_log_lag_messages', 'sluice_events_dropped_total', 'sluice_dead_letters_total', 'sluice_insert_duration_seconds_bucket',
    'sluice_process_resident_memory_bytes', 'sluice_inflight_bytes', 'sluice_worker_task_seconds_sum',
  ]) t.ok(queried.has(name), name)
})

t.test('every metric the Prometheus alert rules query is exposed by /metrics', async (t) => {
  const queries = alertQueries()
  t.ok(queries.length >= 5, `the rules have their expressions (${queries.length})`)
  t.same(unknownNames(queries, await exposedNames()), [])
})
