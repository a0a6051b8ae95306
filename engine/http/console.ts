// The web console's files (console/ at the package root: index.html,
// console.js, console.css), served by the admin port at GET / without a
// token: the page holds no data; it asks for the admin key and sends it as a
// bearer token from the tab's sessionStorage. No CDN, no build step: the
// files are read once and served as they are, under a Content-Security-Policy
// that allows this origin only (no inline script, no third party).
import fs from 'node:fs'
import path from 'node:path'
import type { ServerResponse } from 'node:http'

/** dist/engine/http → the package root (also /app in the image) */
export const CONSOLE_DIR = path.join(__dirname, '..', '..', '..', 'console')

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
}

const HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

export class ConsoleAssets {
  private readonly cache = new Map<string, Buffer>()

  constructor(private readonly dir = CONSOLE_DIR) {}

  has(method: string, pathname: string): boolean {
    return method === 'GET' && pathname in FILES
  }

  serve(pathname: string, res: ServerResponse): void {
    const spec = FILES[pathname]
    let body = this.cache.get(pathname)
    if (!body) {
      body = fs.readFileSync(path.join(this.dir, spec.file))
      this.cache.set(pathname, body)
    }
    res.writeHead(200, { 'content-type': spec.type, 'content-length': body.length, ...HEADERS })
    res.end(body)
  }
}
