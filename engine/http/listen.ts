// Starts an HTTP server the way both Sluice ports want it: bounded header and
// request times (a slow client cannot hold a socket forever), and the URL to
// reach it, with a wildcard address shown as loopback.
import type http from 'node:http'
import type { AddressInfo } from 'node:net'

export async function listen(server: http.Server, port: number, host: string): Promise<{ port: number; url: string }> {
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = (server.address() as AddressInfo).port
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return { port: bound, url: `http://${shown}:${bound}` }
}
