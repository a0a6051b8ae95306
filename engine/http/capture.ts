// The capture port: Sluice's public front door, speaking PostHog's capture
// protocol so that the official SDKs send to it by changing only the host.
//
//   POST|GET /e /capture /batch /i/v0/e /track (with or without a trailing /)
//   OPTIONS  CORS preflight; CORS headers on every answer (browser SDKs)
//
// A request is decoded and validated whole (capture-decode.ts), then every
// event becomes one Kafka message on the input topic; the answer, PostHog's
// `{"status": 1}`, is sent only once the broker acknowledged every message of
// the request. A rejected request produces nothing. Tokens are not checked
// here: ingestion drops unknown ones, as PostHog does.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { listen } from './listen'
import type { Logger } from 'pino'
import { SluiceError } from '../errors'
import type { AckingProducer, ProducerTuning } from '../kafka'
import type { Metrics } from '../metrics'
import { readBody } from './body'
import { captureMessages, decodeCapture, type CaptureInput } from './capture-decode'
import { sendError, sendJson } from './respond'
import type { RunningServer } from './listen'

export const CAPTURE_PATHS: ReadonlySet<string> = new Set(['/e', '/capture', '/batch', '/i/v0/e', '/track'])

/** How long a request waits for Kafka's acknowledgement before it is answered 503 (the SDK retries; events keep their uuid). */
export const PRODUCE_TIMEOUT_MS = 10_000

/**
 * The capture producer answers HTTP requests, so it trades a little batching
 * for latency: every request waits for linger plus the next delivery-report
 * poll (the shared producer's 5 ms + 20 ms doubled p50; see bench/capture.bench.ts).
 */
export const CAPTURE_PRODUCER: ProducerTuning = { lingerMs: 2, pollIntervalMs: 5 }

export interface CaptureServerOptions {
  host: string
  port: number
  maxBodyBytes: number
  maxMessageBytes: number
  trustProxy: boolean
  topic: string
  producer: AckingProducer
  metrics: Metrics
  log: Logger
}

const ALLOW_METHODS = 'GET, POST, OPTIONS'
const ALLOW_HEADERS = 'Content-Type, Content-Encoding, Authorization, X-Requested-With'
const EMPTY = Buffer.alloc(0)

function clientIp(req: http.IncomingMessage, trustProxy: boolean): string | null {
  let ip: string | undefined
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for']
    const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim()
    if (first) ip = first
  }
  ip ??= req.socket.remoteAddress
  if (!ip) return null
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}

function siteUrl(req: http.IncomingMessage, trustProxy: boolean): string {
  const host = req.headers.host
  if (!host) return ''
  const forwarded = trustProxy ? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() : ''
  const proto = forwarded || ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http')
  return `${proto}://${host}`
}

/** CORS: echo the Origin with credentials (posthog-js sends cookies with XHR), else `*`. */
function setCors(req: http.IncomingMessage, res: http.ServerResponse): void {
  const origin = req.headers.origin
  if (origin) {
    res.setHeader('access-control-allow-origin', origin)
    res.setHeader('access-control-allow-credentials', 'true')
    res.setHeader('vary', 'Origin')
  } else {
    res.setHeader('access-control-allow-origin', '*')
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

function normalizePath(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname
}

export async function startCaptureServer(o: CaptureServerOptions): Promise<RunningServer> {
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const now = new Date().toISOString()
    const url = new URL(req.url ?? '/', 'http://capture')
    const method = req.method ?? 'GET'
    const path = normalizePath(url.pathname)
    setCors(req, res)
    if (!CAPTURE_PATHS.has(path)) throw new SluiceError('SLUICE_ERR_ROUTE_NOT_FOUND', `${method} ${url.pathname}`)
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? ALLOW_HEADERS),
        'access-control-max-age': '86400',
      })
      res.end()
      return
    }
    if (method !== 'POST' && method !== 'GET') {
      const err = new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', method, url.pathname)
      ;(err as SluiceError & { allow: string }).allow = ALLOW_METHODS
      throw err
    }
    const input: CaptureInput = {
      method,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      contentEncoding: req.headers['content-encoding'],
      body: method === 'POST' ? await readBody(req, o.maxBodyBytes) : EMPTY,
    }
    const batch = decodeCapture(input, o.maxBodyBytes, randomUUID)
    const messages = captureMessages(batch, { ip: clientIp(req, o.trustProxy), siteUrl: siteUrl(req, o.trustProxy), now }, o.maxMessageBytes)
    try {
      await withTimeout(Promise.all(messages.map((m) => o.producer.produce(o.topic, null, m.value, m.key))), PRODUCE_TIMEOUT_MS)
    } catch (err) {
      throw new SluiceError('SLUICE_ERR_CAPTURE_UNAVAILABLE', (err as Error).message)
    }
    o.metrics.captureEvents.inc(messages.length)
    sendJson(res, 200, { status: 1 })
  }

  const server = http.createServer((req, res) => {
    handle(req, res)
      .catch((err) => sendError(res, err, o.log, { method: req.method, path: req.url?.split('?')[0], capture: true }, 'debug'))
      .finally(() => o.metrics.captureRequests.inc({ status: String(res.statusCode) }))
  })
  // let requests waiting for Kafka finish on close: stragglers are cut after the produce timeout
  return listen(server, o.port, o.host, PRODUCE_TIMEOUT_MS)
}
