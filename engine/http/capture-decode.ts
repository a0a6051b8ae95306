// Turns one capture request (what PostHog's SDKs send to /e, /batch, …) into
// validated events, and validated events into Kafka messages (DESIGN §4).
// Pure: no I/O, no clock (the caller passes `now` and the uuid source), so the
// whole wire format is covered by unit tests. It speaks:
//
//   transfer   Content-Encoding gzip | deflate | br, `?compression=gzip-js`
//              (posthog-js: gzip body, text/plain), or gzip magic bytes alone
//   envelope   JSON, or a form body / GET query `data=<base64 or JSON>`
//              (`?compression=base64`, older posthog-js; `+` may arrive as ' ')
//   payload    {api_key|token, batch: [...], sent_at}   posthog-node, /batch
//              [event, ...]                             posthog-js batches
//              {event, distinct_id, properties, ...}    one event
//
// Every event is checked before anything is returned: a request is accepted
// whole or rejected whole (SluiceError with its status).
import zlib from 'node:zlib'
import { jsonText, wellFormed } from '../../workers/well-formed'
import { SluiceError } from '../errors'
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth'

type Obj = Record<string, unknown>

export interface CaptureInput {
  method: string
  query: URLSearchParams
  contentType: string | undefined
  contentEncoding: string | undefined
  body: Buffer
}

export interface CapturedEvent {
  uuid: string
  distinctId: string
  token: string
  /** the event exactly as the SDK sent it; becomes `data` */
  event: Obj
}

export interface CaptureBatch {
  events: CapturedEvent[]
  /** the client's send time (ISO), from the payload's `sent_at` or the `_` query parameter (ms) */
  sentAt: string | null
}

export interface CaptureMessage { key: string; value: Buffer }

export interface MessageContext {
  ip: string | null
  siteUrl: string
  /** server receive time, ISO */
  now: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b
}

/** Decompresses with the output capped at `maxBytes`, so that a gzip bomb costs at most that much work and memory. */
function inflate(kind: 'gzip' | 'deflate' | 'br', body: Buffer, maxBytes: number): Buffer {
  try {
    const opts = { maxOutputLength: maxBytes }
    if (kind === 'gzip') return zlib.gunzipSync(body, opts)
    if (kind === 'deflate') return zlib.inflateSync(body, opts)
    return zlib.brotliDecompressSync(body, opts)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new SluiceError('SLUICE_ERR_BODY_TOO_LARGE', maxBytes)
    throw new SluiceError('SLUICE_ERR_INVALID_ENCODING', `invalid ${kind} data (${(err as Error).message})`)
  }
}

function checkCompressionParam(value: string | null): void {
  // lz64 (LZ-string) was posthog-js's default long ago; current SDKs send gzip-js or base64
  if (value === 'lz64' || value === 'lz-string') {
    throw new SluiceError('SLUICE_ERR_UNSUPPORTED_ENCODING', `compression ${value}: send gzip-js, base64 or plain JSON`)
  }
}

/** The transfer layer: undoes Content-Encoding and `?compression=gzip-js`. */
export function decompressBody(input: CaptureInput, maxBytes: number): Buffer {
  let body = input.body
  const header = (input.contentEncoding ?? '').trim().toLowerCase()
  let gunzipped = false
  for (const coding of header.split(',').map((c) => c.trim()).filter((c) => c !== '' && c !== 'identity').reverse()) {
    if (coding === 'gzip' || coding === 'x-gzip') {
      body = inflate('gzip', body, maxBytes)
      gunzipped = true
    } else if (coding === 'deflate') {
      body = inflate('deflate', body, maxBytes)
    } else if (coding === 'br') {
      body = inflate('br', body, maxBytes)
    } else {
      throw new SluiceError('SLUICE_ERR_UNSUPPORTED_ENCODING', `Content-Encoding ${coding}: send gzip, deflate, br or none`)
    }
  }
  const compression = input.query.get('compression')
  checkCompressionParam(compression)
  // posthog-js says gzip-js in the query and sends a text/plain body; a beacon may say nothing at all: trust the magic bytes too
  const declared = compression === 'gzip-js' || compression === 'gzip'
  if (!gunzipped && (declared || isGzip(body))) body = inflate('gzip', body, maxBytes)
  return body
}

/** A `data` field: JSON as is, else base64 (standard or URL-safe) of JSON, possibly gzipped. */
export function decodeDataField(value: string, maxBytes: number): string {
  const s = value.trim()
  if (s.startsWith('{') || s.startsWith('[')) return s
  // URLSearchParams turns a '+' that was not percent-encoded into a space
  const b64 = s.replace(/ /g, '+').replace(/[\r\n\t]/g, '')
  if (b64.length === 0) throw new SluiceError('SLUICE_ERR_INVALID_ENCODING', 'the data field is empty')
  if (!BASE64.test(b64) || b64.length % 4 === 1) throw new SluiceError('SLUICE_ERR_INVALID_ENCODING', 'the data field is neither JSON nor base64')
  let bytes: Buffer = Buffer.from(b64, 'base64')
  if (isGzip(bytes)) bytes = inflate('gzip', bytes, maxBytes)
  return bytes.toString('utf8')
}

function startsLikeJson(body: Buffer): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue
    return byte === 0x7b || byte === 0x5b // { or [
  }
  return false
}

/** The envelope: the JSON text of the payload, from a JSON body, a form body or the GET query. */
export function payloadText(input: CaptureInput, maxBytes: number): string {
  if (input.method === 'GET') {
    const data = input.query.get('data')
    if (data === null) throw new SluiceError('SLUICE_ERR_INVALID_ENCODING', 'a GET request carries its events in the data query parameter')
    return decodeDataField(data, maxBytes)
  }
  const body = decompressBody(input, maxBytes)
  const type = (input.contentType ?? '').toLowerCase()
  const form = type.includes('application/x-www-form-urlencoded') || (body.length > 5 && body.subarray(0, 5).toString('latin1') === 'data=')
  // curl -d and some HTTP clients label a JSON body as a form: like PostHog, a body that is JSON is read as JSON
  if (!form || startsLikeJson(body)) return body.toString('utf8')
  const fields = new URLSearchParams(body.toString('utf8'))
  checkCompressionParam(fields.get('compression'))
  const data = fields.get('data')
  if (data === null) throw new SluiceError('SLUICE_ERR_INVALID_ENCODING', 'the form body has no data field')
  return decodeDataField(data, maxBytes)
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

function tokenOf(o: Obj): string | undefined {
  return nonEmptyString(o.api_key) ?? nonEmptyString(o.token) ?? nonEmptyString(o.$token)
}

/** Longest distinct_id capture forwards, in Unicode characters (longer ones are cut, not refused). */
export const CAPTURE_MAX_DISTINCT_ID_CHARS = 200

/**
 * The event's distinct_id as PostHog's Rust capture extracts it
 * (rust/common/types RawEvent::extract_distinct_id, issue 15 rule 5):
 * numbers and other values stringified, NUL → U+FFFD, more than 200 bytes →
 * its first 200 characters (code points, as Rust's `chars()`); undefined
 * when missing, empty, or (as the issue asks, beyond Rust) whitespace only,
 * which the caller answers with 400.
 */
function distinctIdOf(event: Obj, properties: Obj | undefined): string | undefined {
  const raw = event.distinct_id ?? event.$distinct_id ?? properties?.distinct_id
  if (raw === undefined || raw === null) return undefined
  // numbers and other values are accepted and stringified, as PostHog's capture does
  let id = typeof raw === 'string' ? raw : typeof raw === 'object' ? JSON.stringify(raw) : String(raw)
  if (id.trim().length === 0) return undefined
  if (id.includes('\u0000')) id = id.replace(/\u0000/g, '\ufffd')
  // 200 bytes is at most 200 characters: only a longer text can need cutting
  if (id.length > CAPTURE_MAX_DISTINCT_ID_CHARS && Buffer.byteLength(id) > CAPTURE_MAX_DISTINCT_ID_CHARS) {
    const chars = Array.from(id)
    if (chars.length > CAPTURE_MAX_DISTINCT_ID_CHARS) id = chars.slice(0, CAPTURE_MAX_DISTINCT_ID_CHARS).join('')
  }
  return id
}

function sentAtFrom(payload: Obj | undefined, query: URLSearchParams): string | null {
  const fromBody = payload ? nonEmptyString(payload.sent_at) : undefined
  if (fromBody !== undefined) return fromBody
  // posthog-js puts its send time in `_`, in milliseconds
  const ms = query.get('_')
  if (ms !== null && /^\d{1,15}$/.test(ms)) {
    const d = new Date(Number(ms))
    if (!Number.isNaN(d.getTime())) return d.toISOString()
  }
  return null
}

/**
 * Decodes and validates a whole capture request. Throws a SluiceError (400,
 * 401, 413, 415) for the first problem; returns only when every event is
 * acceptable. `newUuid` assigns a uuid to events that come without one.
 */
export function decodeCapture(input: CaptureInput, maxBytes: number, newUuid: () => string): CaptureBatch {
  const text = payloadText(input, maxBytes)
  if (text.trim().length === 0) throw new SluiceError('SLUICE_ERR_INVALID_JSON', 'the body is empty')
  // before anything recurses into it (json-depth.ts)
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new SluiceError('SLUICE_ERR_JSON_TOO_DEEP', MAX_JSON_DEPTH)
  let payload: unknown
  try {
    payload = JSON.parse(text)
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_INVALID_JSON', (err as Error).message)
  }
  let raw: unknown[]
  let top: Obj | undefined
  if (Array.isArray(payload)) {
    raw = payload
  } else if (isObject(payload)) {
    top = payload
    if (payload.batch !== undefined) {
      if (!Array.isArray(payload.batch)) throw new SluiceError('SLUICE_ERR_INVALID_EVENT', 'batch must be an array of events')
      raw = payload.batch
    } else {
      raw = [payload]
    }
  } else {
    throw new SluiceError('SLUICE_ERR_INVALID_JSON', 'expected a JSON object or array')
  }
  if (raw.length === 0) throw new SluiceError('SLUICE_ERR_INVALID_EVENT', 'the request holds no events')

  // A token at the top of a batch applies to every event in it (posthog-node); otherwise each event carries its own (posthog-js: properties.token).
  const requestToken = top && top.batch !== undefined ? tokenOf(top) : undefined
  const single = raw.length === 1 && !Array.isArray(payload) && top?.batch === undefined
  const events: CapturedEvent[] = []
  for (let i = 0; i < raw.length; i++) {
    const what = single ? 'the event' : `event ${i}`
    const event = raw[i]
    if (!isObject(event)) throw new SluiceError('SLUICE_ERR_INVALID_EVENT', `${what} is not a JSON object`)
    const properties = isObject(event.properties) ? event.properties : undefined
    const name = event.event
    if (name === undefined || name === null || name === '') throw new SluiceError('SLUICE_ERR_INVALID_EVENT', `${what} has no event name`)
    const distinctId = distinctIdOf(event, properties)
    if (distinctId === undefined) throw new SluiceError('SLUICE_ERR_INVALID_EVENT', `${what} has no distinct_id`)
    const token = requestToken ?? tokenOf(event) ?? nonEmptyString(properties?.token)
    if (token === undefined) {
      throw new SluiceError('SLUICE_ERR_MISSING_TOKEN', single ? 'the request has no api_key or token' : `${what} has no api_key or token, and the request has none`)
    }
    let uuid = event.uuid
    if (uuid === undefined || uuid === null || uuid === '') uuid = newUuid()
    else if (typeof uuid !== 'string' || !UUID.test(uuid)) throw new SluiceError('SLUICE_ERR_INVALID_EVENT', `${what} has an invalid uuid`)
    events.push({ uuid: uuid as string, distinctId, token, event })
  }
  return { events, sentAt: sentAtFrom(top, input.query) }
}

/**
 * One Kafka message per event, in DESIGN §4's format, keyed `token:distinct_id`.
 * Throws 413 when an event would exceed `maxMessageBytes` (ingestion would
 * dead-letter it), before any message is returned.
 */
export function captureMessages(batch: CaptureBatch, ctx: MessageContext, maxMessageBytes: number): CaptureMessage[] {
  const out: CaptureMessage[] = []
  for (let i = 0; i < batch.events.length; i++) {
    const e = batch.events[i]
    // well-formed: a lone surrogate in the request becomes U+FFFD on the topic (workers/well-formed.ts)
    const value = Buffer.from(jsonText({
      uuid: e.uuid,
      distinct_id: e.distinctId,
      ip: ctx.ip,
      site_url: ctx.siteUrl,
      now: ctx.now,
      sent_at: batch.sentAt,
      token: e.token,
      data: jsonText(e.event),
    }))
    if (value.length > maxMessageBytes) throw new SluiceError('SLUICE_ERR_EVENT_TOO_LARGE', i, maxMessageBytes)
    out.push({ key: wellFormed(`${e.token}:${e.distinctId}`), value })
  }
  return out
}
