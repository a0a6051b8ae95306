// Pagination of every list route, as PostHog's API does it: `limit` (a
// default and a maximum per route) and `offset`, answered as
// `{results, next}` where `next` is the absolute URL of the following page,
// or null on the last one. A handler fetches limit + 1 rows: the extra row
// only says that another page exists. Routes whose order is by time use an
// opaque `cursor` instead of `offset` (a row arriving between two pages
// would otherwise shift every offset): see engine/sink/read/data-read.ts.
import { invalidField } from '../errors'

export interface PageLimits { defaultLimit: number; maxLimit: number }

export interface PageRequest { limit: number; offset: number }

export interface Page<T> { results: T[]; next: string | null }

export const LIST_LIMITS: PageLimits = { defaultLimit: 100, maxLimit: 1000 }

/** A non-negative integer query parameter up to `max`; 400 naming it otherwise. */
export function countParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name)
  if (raw === null || raw === '') return undefined
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN
  if (!(n >= min && n <= max)) throw invalidField(name, `must be an integer from ${min} to ${max}`)
  return n
}

export function pageRequest(q: URLSearchParams, limits: PageLimits = LIST_LIMITS): PageRequest {
  return {
    limit: countParam(q, 'limit', 1, limits.maxLimit) ?? limits.defaultLimit,
    offset: countParam(q, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  }
}

/** `url` with the given query parameters replaced (the rest, filters included, kept). */
export function withParams(url: URL, params: Record<string, string>): string {
  const next = new URL(url.href)
  for (const [k, v] of Object.entries(params)) next.searchParams.set(k, v)
  return next.href
}

/** A page from `rows` fetched with limit + 1 at `req.offset`. */
export function offsetPage<T>(url: URL, req: PageRequest, rows: T[]): Page<T> {
  const more = rows.length > req.limit
  return {
    results: more ? rows.slice(0, req.limit) : rows,
    next: more ? withParams(url, { limit: String(req.limit), offset: String(req.offset + req.limit) }) : null,
  }
}

/** A page cut from a complete in-memory list. */
export function slicePage<T>(url: URL, req: PageRequest, all: readonly T[]): Page<T> {
  return offsetPage(url, req, all.slice(req.offset, req.offset + req.limit + 1))
}
