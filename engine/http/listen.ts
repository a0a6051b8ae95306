// Starts an HTTP server the way both Sluice ports want it: bounded header and
// request times (a slow client cannot hold a socket forever), the URL to
// reach it (a wildcard address shown as loopback), and a close() that lets
// requests in flight finish for `graceMs` before their connections are cut.
import type http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RunningServer { url: string; port: number; close(): Promise<void> }

export async function listen(server: http.Server, port: number, host: string, graceMs = 0): Promise<RunningServer> {
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = (server.address() as AddressInfo).port
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return {
    port: bound,
    url: `http://${shown}:${bound}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      // idle keep-alive connections go now, requests in flight after the grace period
      server.closeIdleConnections()
      if (graceMs === 0) server.closeAllConnections()
      else setTimeout(() => server.closeAllConnections(), graceMs).unref()
    }),
  }
}
