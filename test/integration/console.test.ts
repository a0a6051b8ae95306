// The web console in a real browser (Debian's chromium through
// playwright-core) against a real engine process, the mock Kafka cluster and
// a private clickhouse-server: sign in, create a project and an environment,
// copy the token, send 10 events through the capture port with it and see
// them in the newest events and on the chart, rename the environment, rotate
// the token, see a conflicting move explained, browse a group, use it at
// 375 px, log out. A screenshot of each step goes to test-artifacts/console/.
import path from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { eventually, TEST_ADMIN_TOKEN } from '../harness/engine-process'
import { startStack } from '../harness/stack'
import { artifactsDir, launchBrowser } from '../harness/browser'

t.test('the console: from sign-in to seeing events, in a real browser', async (t) => {
  const started = Date.now()
  const stack = await startStack({ database: 'console' })
  const engine = await stack.start()
  const browser = await launchBrowser()
  t.teardown(async () => {
    await browser.close()
    await stack.close('SIGKILL')
  })
  const shots = artifactsDir('console')
  let step = 0
  const shot = async (page: Page, name: string) => {
    const file = path.join(shots, `${String(++step).padStart(2, '0')}-${name}.png`)
    await page.screenshot({ path: file, fullPage: true })
    t.comment(`screenshot ${file}`)
  }
  const capture = async (token: string, batch: Record<string, unknown>[]) => {
    const res = await fetch(`${engine.captureUrl}/batch/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: token, batch }) })
    t.equal(res.status, 200, 'capture accepted the batch')
  }
  const browserStarted = Date.now()
  const page = await browser.context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))

  // --- sign in
  await page.goto(engine.adminUrl + '/')
  t.match(await page.title(), /Sluice/)
  await shot(page, 'sign-in')
  await page.getByLabel('Admin key').fill('wrong-key-0123456789')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('Your admin key was not accepted').waitFor()
  await page.getByLabel('Admin key').fill(TEST_ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Create', exact: true }).waitFor()
  t.equal(await page.evaluate<string | null>("sessionStorage.getItem('sluice.adminKey')"), TEST_ADMIN_TOKEN, 'the key is kept in the tab\'s session storage')
  t.notMatch(page.url(), /token|key/i, 'and never in the URL')
  await shot(page, 'signed-in-empty')

  // --- create a project and an environment
  await page.getByLabel('New project name').fill('Shop')
  await page.getByRole('button', { name: 'Create project' }).click()
  await page.getByText('Project “Shop” created').waitFor()
  const shop = (await engine.api('GET', '/api/projects?search=Shop')).body.results[0]
  t.ok(shop, 'the project exists')
  await shot(page, 'project-created')
  await page.getByLabel('New environment name').fill('Staging')
  await page.getByRole('button', { name: 'Create environment' }).click()
  await page.getByText('Environment “Staging” created').waitFor()
  t.equal(await page.locator('#environment-select option:checked').textContent(), 'Staging', 'the new environment is selected')
  await shot(page, 'environment-created')

  // --- copy its token and send 10 events through the capture port with it
  await page.getByRole('button', { name: 'Copy token' }).click()
  await page.getByText('Token copied').waitFor()
  const token = await page.evaluate<string>('navigator.clipboard.readText()')
  const staging = (await engine.api('GET', `/api/projects/${shop.id}`)).body.environments.find((e: { name: string }) => e.name === 'Staging')
  t.equal(token, staging.api_token, 'the clipboard holds the environment\'s token')
  t.match(await page.locator('#snippet-node').textContent(), token, 'the posthog-node snippet carries it')
  const sent = Date.now()
  await capture(token, Array.from({ length: 10 }, (_, i) => ({ event: 'console test', distinct_id: `visitor-${i}`, properties: { i, $groups: { organization: 'org-1' } } })))
  await page.locator('#events-table tbody tr', { hasText: 'console test' }).nth(9).waitFor({ timeout: 30_000 })
  await page.locator('#events-last-hour', { hasText: /^10$/ }).waitFor({ timeout: 30_000 })
  const seenMs = Date.now() - sent
  t.comment(`10 events sent → listed and counted on the chart after ${seenMs} ms`)
  t.equal(await page.locator('#chart rect').count(), 60, 'the chart has a bar per minute of the last hour')
  await shot(page, 'events-arrived')

  // --- rename the environment, rotate its token
  await page.getByLabel('Environment name', { exact: true }).fill('Staging EU')
  await page.getByRole('button', { name: 'Save environment' }).click()
  await page.getByText('Environment saved.').waitFor()
  t.equal(await page.locator('#environment-select option:checked').textContent(), 'Staging EU')
  t.equal((await engine.api('GET', `/api/environments/${staging.id}`)).body.name, 'Staging EU', 'renamed through the API')
  await shot(page, 'environment-renamed')
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Rotate token' }).click()
  await page.getByText('Token rotated').waitFor()
  const rotated = await page.getByLabel('API token').inputValue()
  t.not(rotated, token, 'a new token is shown')
  t.equal((await engine.api('GET', `/api/environments/${staging.id}`)).body.api_token, rotated)
  await shot(page, 'token-rotated')

  // --- a conflicting move, explained: Other's group type 0 is "company", Shop's is "organization"
  const other = (await engine.api('POST', '/api/projects', { name: 'Other' })).body
  await capture(other.environments[0].api_token, [{ event: 'x', distinct_id: 'o', properties: { $groups: { company: 'c-1' } } }])
  await capture(rotated, [{ event: '$groupidentify', distinct_id: 'visitor-0', properties: { $group_type: 'organization', $group_key: 'org-1', $group_set: { name: 'Org One' } } }])
  t.ok(await eventually(async () => (await engine.api('GET', `/api/projects/${other.id}/group_types`)).body.results.length === 1, 30_000), 'Other claimed a group type')
  await page.getByLabel('Find project').fill('Other')
  await page.locator('#project-select option', { hasText: 'Other' }).waitFor({ state: 'attached' })
  t.ok(await eventually(async () => (await page.getByLabel('Project name', { exact: true }).inputValue()) === 'Other', 10_000), 'the search selected Other')
  await page.getByLabel('Move under project id').fill(String(shop.id))
  await page.getByRole('button', { name: 'Move project' }).click()
  const explained = await page.locator('#move-result', { hasText: 'cannot be moved' }).textContent()
  t.match(explained, /group type 'company' has index 0|index 0 is 'organization'/, 'the conflict names the group types')
  t.match(explained, /must agree on every group type/, 'and says why in words')
  await shot(page, 'move-conflict-explained')

  // --- the groups browser shows the group with its events and users
  await page.getByLabel('Find project').fill('')
  await page.getByLabel('Find project').fill('Shop')
  await page.locator('#project-select option:checked', { hasText: 'Shop' }).waitFor({ state: 'attached' })
  await page.locator('#environment-select').selectOption({ label: 'Staging EU' })
  const group = await eventually(async () => {
    await page.getByRole('button', { name: 'Search' }).click()
    return (await page.getByRole('button', { name: 'organization: org-1' }).count()) > 0
  }, 30_000, 500)
  t.ok(group, 'the group is listed')
  await page.getByRole('button', { name: 'organization: org-1' }).click()
  await page.locator('#group-detail', { hasText: 'events in the last 30 days' }).waitFor()
  t.match(await page.locator('#group-detail').textContent(), /Org One/, 'with its properties')
  t.match(await page.locator('#group-detail').textContent(), /visitor-/, 'and its users')
  await shot(page, 'group-detail')

  // --- 375 px wide: nothing overflows the viewport
  await page.setViewportSize({ width: 375, height: 800 })
  await page.waitForTimeout(200)
  const width = await page.evaluate<number>('document.documentElement.scrollWidth')
  t.ok(width <= 375, `the page fits 375 px (scroll width ${width})`)
  await shot(page, 'phone-width')

  // --- log out: the key is gone
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  t.equal(await page.evaluate<string | null>("sessionStorage.getItem('sluice.adminKey')"), null, 'logging out clears the key')
  await shot(page, 'logged-out')
  t.same(pageErrors, [], 'no script errors on the page')
  t.comment(`browser part ${Date.now() - browserStarted} ms, whole test ${Date.now() - started} ms`)
})
