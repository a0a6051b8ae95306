// Issue 15 rule 2 (heatmaps): `$heatmap_data` ({url: [{x, y, target_fixed,
// type}]}) and the scroll depth of the previous page view
// (`$prev_pageview_pathname`, `$prev_pageview_max_scroll` with
// `$current_url`) become rows of `heatmaps` (per environment, PostHog's
// columns); `$heatmap_data` is removed from the stored event, and a
// `$$heatmap` event, which exists only to carry it, is not stored
// (counted as heatmap_event). Follows PostHog's Node heatmap extraction
// (nodejs/src/ingestion/event-processing/extract-heatmap-data-step.ts,
// `createExtractHeatmapDataStep`; Rust capture passes the data through):
// coordinates and viewport divided by a scale factor of 16 and rounded;
// points without numeric x/y, a string type and a boolean target_fixed are
// skipped; a URL that is not a non-blank string or items that are not an
// array → a warning keyed by session; invalid viewport dimensions → the
// event is dropped (heatmap_invalid_viewport_dimensions) as PostHog does.
// An event with none of these properties costs three property reads.
import { warn, type Step } from '../context'
import { withoutMembers } from '../properties-text'
import { drop, ok } from '../result'

const SCALE_FACTOR = 16
const HEATMAP_DATA = ['$heatmap_data']

const isValidString = (x: unknown): x is string => typeof x === 'string' && x.trim().length > 0
const isValidNumber = (n: unknown): n is number => typeof n === 'number' && !Number.isNaN(n)

/** `url` with its path replaced (WHATWG URL, as Node's `URL` in PostHog's step); throws on an invalid URL. */
function withPath(url: string, path: string): string {
  const u = new URL(url)
  u.pathname = path
  return u.toString()
}

export const extractHeatmaps: Step = (event, ctx) => {
  const props = event.properties
  const raw = props.$heatmap_data
  const isHeatmapEvent = event.eventName === '$$heatmap'
  const prevPath = props.$prev_pageview_pathname
  if (raw === undefined && !isHeatmapEvent && prevPath === undefined) return ok()

  if (raw !== undefined) {
    delete props.$heatmap_data
    if (event.propertiesText !== undefined) {
      event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, HEATMAP_DATA)
      event.propertiesHead = ''
    }
  }
  const sessionId = props.$session_id
  const rejected = isHeatmapEvent ? drop('heatmap_event') : ok()
  let data: Record<string, unknown> | undefined = raw && typeof raw === 'object' ? { ...(raw as Record<string, unknown>) } : undefined
  try {
    const currentUrl = props.$current_url
    if (prevPath && currentUrl) {
      data ??= {}
      const previousUrl = withPath(String(currentUrl), String(prevPath))
      const items = Array.isArray(data[previousUrl]) ? [...data[previousUrl] as unknown[]] : []
      items.push({ x: 0, y: props.$prev_pageview_max_scroll, target_fixed: false, type: 'scrolldepth' })
      data[previousUrl] = items
    }
    if (data === undefined || Object.keys(data).length === 0) return rejected
    const width = props.$viewport_width
    const height = props.$viewport_height
    if (!isValidNumber(width) || !isValidNumber(height)) return drop('heatmap_invalid_viewport_dimensions')
    const vw = Math.round(width / SCALE_FACTOR)
    const vh = Math.round(height / SCALE_FACTOR)
    const session = String(sessionId)
    const distinctId = event.distinctId as string
    for (const [url, items] of Object.entries(data)) {
      if (!isValidString(url)) {
        warn(ctx, event, 'rejecting_heatmap_data_with_invalid_url', { heatmapUrl: url, session_id: sessionId ?? null }, session)
        continue
      }
      if (!Array.isArray(items)) {
        warn(ctx, event, 'rejecting_heatmap_data_with_invalid_items', { heatmapUrl: url, session_id: sessionId ?? null }, session)
        continue
      }
      for (const item of items) {
        if (typeof item !== 'object' || item === null) continue
        const p = item as Record<string, unknown>
        if (!isValidNumber(p.x) || !isValidNumber(p.y) || !isValidString(p.type) || typeof p.target_fixed !== 'boolean') continue
        ctx.heatmaps.push([event.teamId, session, distinctId, event.timestampMs, Math.round(p.x / SCALE_FACTOR), Math.round(p.y / SCALE_FACTOR), SCALE_FACTOR, vw, vh, p.target_fixed, url, p.type])
      }
    }
  } catch {
    warn(ctx, event, 'invalid_heatmap_data', {}, String(sessionId))
  }
  return rejected
}
