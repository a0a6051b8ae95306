// The admin port: the admin API behind the bearer token, plus the operator
// endpoints a scraper or orchestrator calls without one (/metrics, /healthz,
// /readyz). One bad request never affects another: every error is answered
// by respond.ts and the server keeps serving.
import http from 'node:http'
import { listen, type RunningServer } from './listen'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { SluiceError } from '../errors'
import type { AdminHandler } from './handler'
import type { ControlState } from '../control/fold'
import type { Metrics } from '../metrics'
import { authenticate, unknownAdminKey } from './admin-keys'
import { AuthLimiter } from './auth-limiter'
import { checkNeed, routeNeed } from './route-access'
import { ConsoleAssets } from './console'
import { parseJsonObject, readBody } from './body'
import { sendError, sendJson } from './respond'
import type { Router } from './router'

/** A /healthz or /readyz answer (engine/health.ts): `failing` names the checks that failed. */
const CATCH_UP_BOUND_MS = 2_000

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<void>((r) => { timer = setTimeout(r, ms) })]).finally(() => clearTimeout(timer))
}

export interface HealthCheck {
  ok: boolean
  status?: 'ok' | 'unavailable'
  failing?: string[]
  checks: Record<string, { ok: boolean; detail?: string }>
}

export interface AdminServerOptions {
  host: string
  port: number
  token: string
  maxBodyBytes: number
  routes: Router<AdminHandler>
  registry: Registry
  /** undefined when the instance can answer; else the error every authenticated request gets */
  notReady: () => SluiceError | undefined
  /** resolves once everything appended to the control log before `since` (ms) is folded here */
  caughtUpSince: (since: number) => Promise<void>
  /** the folded control state: admin keys, and what their scopes cover */
  state: ControlState
  /** wrong bearer tokens per address per minute before 429, and for how long */
  authMaxFailures: number
  authBlockMs: number
  metrics?: Pick<Metrics, 'adminAuthFailures' | 'adminAuthRefusals' | 'adminForbidden'>
  liveness: () => HealthCheck
  readiness: () => Promise<HealthCheck>
  log: Logger
}

export type { RunningServer }

/** The request's absolute URL as the client addressed it (pagination's `next` links), or on a placeholder host. */
function requestUrl(req: http.IncomingMessage): URL {
  const host = req.headers.host
  if (host && /^[A-Za-z0-9.:[\]-]{1,300}$/.test(host)) {
    try { return new URL(req.url ?? '/', `http://${host}`) } catch { /* below */ }
  }
  return new URL(req.url ?? '/', 'http://admin')
}

/** The named metrics in the exposition format; names the registry lacks are left out. */
async function metricsNamed(registry: AdminServerOptions['registry'], names: readonly string[]): Promise<string> {
  let text = ''
  for (const name of new Set(names)) {
    if (registry.getSingleMetric(name) === undefined) continue
    text += (await registry.getSingleMetricAsString(name)) + '\n'
  }
  return text
}

export async function startAdminServer(o: AdminServerOptions): Promise<RunningServer> {
  const assets = new ConsoleAssets()
  const limiter = new AuthLimiter(o.authMaxFailures, o.authBlockMs)
  const server = http.createServer(async (req, res) => {
    const started = Date.now()
    const url = requestUrl(req)
    const method = req.method ?? 'GET'
    const path = url.pathname
    try {
      if (assets.has(method, path)) return assets.serve(path, res)
      if (path === '/metrics' && method === 'GET') {
        // `?name=a&name=b`: only those metrics, without collecting the process metrics (a script polling a counter often)
        const names = url.searchParams.getAll('name')
        const text = names.length === 0 ? await o.registry.metrics() : await metricsNamed(o.registry, names)
        res.writeHead(200, { 'content-type': o.registry.contentType })
        res.end(text)
        return
      }
      if (path === '/healthz' && method === 'GET') {
        const h = o.liveness()
        return sendJson(res, h.ok ? 200 : 503, h)
      }
      if (path === '/readyz' && method === 'GET') {
        const h = await o.readiness()
        return sendJson(res, h.ok ? 200 : 503, h)
      }
      // Routing before auth would tell an anonymous caller which paths exist: authenticate first.
      const address = req.socket.remoteAddress ?? ''
      const blockedMs = limiter.blockedFor(address)
      if (blockedMs > 0) {
        o.metrics?.adminAuthRefusals.inc()
        const err = new SluiceError('SLUICE_ERR_TOO_MANY_ATTEMPTS', Math.ceil(blockedMs / 1000))
        ;(err as SluiceError & { retryAfter: number }).retryAfter = Math.ceil(blockedMs / 1000)
        throw err
      }
      let grant = authenticate(req.headers.authorization, o.token, o.state)
      // a key made through another instance a moment ago: read the log up to now before calling it wrong
      if (!grant && unknownAdminKey(req.headers.authorization, o.state)) {
        await bounded(o.caughtUpSince(started), CATCH_UP_BOUND_MS)
        grant = authenticate(req.headers.authorization, o.token, o.state)
      }
      if (!grant) {
        // admin keys live in the control state: until it is complete, an unknown key may be a valid one (not counted)
        const notReady = o.notReady()
        if (notReady) throw notReady
        o.metrics?.adminAuthFailures.inc()
        if (limiter.failed(address)) o.log.warn({ address, failures: o.authMaxFailures, block_ms: o.authBlockMs }, 'admin port: too many wrong bearer tokens from one address; refusing it for a while')
        throw new SluiceError('SLUICE_ERR_UNAUTHORIZED')
      }
      const match = o.routes.match(method, path)
      const notReady = o.notReady()
      if (notReady) throw notReady
      // Read after any write: a change acknowledged by another instance before this request is
      // visible in its answer. Bounded, so that reads stay available (possibly stale) while Kafka is away.
      await bounded(o.caughtUpSince(started), CATCH_UP_BOUND_MS)
      // after catching up: an environment created through another instance a moment ago is in the key's project
      try {
        checkNeed(grant, routeNeed(method, match.pattern), match.params, o.state)
      } catch (err) {
        o.metrics?.adminForbidden.inc()
        throw err
      }
      const result = await match.handler({
        params: match.params,
        url,
        query: url.searchParams,
        body: async (optional = false) => {
          const bytes = await readBody(req, o.maxBodyBytes)
          return optional && bytes.length === 0 ? {} : parseJsonObject(bytes)
        },
        grant,
      })
      if (result.body === undefined) {
        res.writeHead(result.status)
        res.end()
      } else {
        sendJson(res, result.status, result.body)
      }
    } catch (err) {
      sendError(res, err, o.log, { method, path })
    }
  })
  return listen(server, o.port, o.host)
}
