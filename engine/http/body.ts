// Reads a request body up to a byte limit (413 beyond it, checked against
// Content-Length first and then while streaming) and parses it as a JSON object.
import type { IncomingMessage } from 'node:http'
import { SluiceError } from '../errors'

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    req.resume()
    throw new SluiceError('SLUICE_ERR_BODY_TOO_LARGE', limit)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      req.resume()
      throw new SluiceError('SLUICE_ERR_BODY_TOO_LARGE', limit)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new SluiceError('SLUICE_ERR_INVALID_JSON', 'the body is empty')
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_INVALID_JSON', (err as Error).message)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SluiceError('SLUICE_ERR_INVALID_JSON', 'expected a JSON object')
  return value as Record<string, unknown>
}
