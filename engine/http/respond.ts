// The one place that turns results and errors into HTTP responses. 4xx are
// logged at info (the client's mistake), everything else at error; the public
// capture port logs its 4xx at debug instead: SDKs send many requests, and
// sluice_capture_requests_total{status} already counts them.
import type { ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { SluiceError } from '../errors'

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

export function sendError(res: ServerResponse, err: unknown, log: Logger, context: Record<string, unknown>, clientErrorLevel: 'info' | 'debug' = 'info'): void {
  const e = err instanceof SluiceError ? err : new SluiceError('SLUICE_ERR_INTERNAL')
  if (e.status >= 500) log.error({ ...context, err }, 'request failed')
  else log[clientErrorLevel]({ ...context, code: e.code, status: e.status }, e.message)
  const body: { code: string; message: string; field?: string } = { code: e.code, message: e.message }
  const field = (e as SluiceError & { field?: string }).field
  if (field !== undefined) body.field = field
  const headers: Record<string, string> = {}
  if (e.status === 401) headers['www-authenticate'] = 'Bearer'
  const allow = (e as SluiceError & { allow?: string }).allow
  if (allow) headers.allow = allow
  const retryAfter = (e as SluiceError & { retryAfter?: number }).retryAfter
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
  if (!res.headersSent) sendJson(res, e.status, { error: body }, headers)
  else res.destroy()
}
