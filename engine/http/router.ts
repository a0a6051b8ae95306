// A small route table: `/api/projects/:id` patterns, 404 for unknown paths,
// 405 (with Allow) for a known path with another method.
import { SluiceError } from '../errors'

export interface Route<H> { method: string; pattern: string; handler: H }

interface Compiled<H> extends Route<H> { parts: string[] }

export interface Match<H> { handler: H; params: Record<string, string>; pattern: string }

export class Router<H> {
  private readonly routes: Compiled<H>[] = []

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, pattern, handler, parts: pattern.split('/').filter(Boolean) })
    return this
  }

  list(): Route<H>[] {
    return this.routes.map(({ method, pattern, handler }) => ({ method, pattern, handler }))
  }

  /** Throws SluiceError 404/405 when nothing matches. */
  match(method: string, path: string): Match<H> {
    const segs = path.split('/').filter(Boolean)
    const allowed: string[] = []
    for (const r of this.routes) {
      const params = matchParts(r.parts, segs)
      if (!params) continue
      if (r.method === method) return { handler: r.handler, params, pattern: r.pattern }
      allowed.push(r.method)
    }
    if (allowed.length > 0) {
      const err = new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', method, path)
      ;(err as SluiceError & { allow: string }).allow = allowed.join(', ')
      throw err
    }
    throw new SluiceError('SLUICE_ERR_ROUTE_NOT_FOUND', `${method} ${path}`)
  }
}

function matchParts(parts: string[], segs: string[]): Record<string, string> | undefined {
  if (parts.length !== segs.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].startsWith(':')) {
      let v: string
      try { v = decodeURIComponent(segs[i]) } catch { return undefined }
      params[parts[i].slice(1)] = v
    } else if (parts[i] !== segs[i]) {
      return undefined
    }
  }
  return params
}
