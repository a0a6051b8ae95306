// Debian's chromium driven by playwright-core, for tests of the web console:
// headless, no sandbox (tests run as root), nothing reaching the network
// (no QUIC, no background services), and a fresh profile directory per
// launch. test/run.sh installs chromium when it is absent.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

/** Where screenshots go: SLUICE_TEST_ARTIFACTS, else test-artifacts/ at the package root. */
export function artifactsDir(name: string): string {
  const dir = path.join(process.env.SLUICE_TEST_ARTIFACTS ?? path.join(__dirname, '..', '..', '..', 'test-artifacts'), name)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

export interface Browser { context: BrowserContext; close(): Promise<void> }

export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (test/run.sh does)`)
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'))
  // launchPersistentContext is playwright's way to pass --user-data-dir
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    permissions: ['clipboard-read', 'clipboard-write'],
  })
  return {
    context,
    async close() {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    },
  }
}
