// engine/http/router.ts: params, 404 for unknown paths, 405 with Allow.
import t from 'tap'
import { SluiceError } from '../../../../engine/errors'
import { Router } from '../../../../engine/http/router'

const router = new Router<string>()
  .add('GET', '/api/projects', 'list projects')
  .add('POST', '/api/projects', 'create project')
  .add('GET', '/api/projects/:id', 'get project')
  .add('POST', '/api/projects/:id/environments', 'create environment')

function failure(method: string, path: string) {
  try {
    return { matched: router.match(method, path) }
  } catch (err) {
    const e = err as SluiceError & { allow?: string }
    return { isSluiceError: e instanceof SluiceError, code: e.code, status: e.status, message: e.message, allow: e.allow }
  }
}

t.test('matches a path and extracts its params', async (t) => {
  t.same(router.match('GET', '/api/projects/42'), { handler: 'get project', params: { id: '42' }, pattern: '/api/projects/:id' })
  t.same(router.match('POST', '/api/projects/7/environments'), { handler: 'create environment', params: { id: '7' }, pattern: '/api/projects/:id/environments' })
  t.same(router.match('GET', '/api/projects'), { handler: 'list projects', params: {}, pattern: '/api/projects' })
})

t.test('percent-decodes params', async (t) => {
  t.same(router.match('GET', '/api/projects/a%20b'), { handler: 'get project', params: { id: 'a b' }, pattern: '/api/projects/:id' })
})

t.test('an unknown path is a 404 SLUICE_ERR_ROUTE_NOT_FOUND', async (t) => {
  t.same(failure('GET', '/api/nothing'), {
    isSluiceError: true, code: 'SLUICE_ERR_ROUTE_NOT_FOUND', status: 404, message: 'no route GET /api/nothing', allow: undefined,
  })
  t.same(failure('GET', '/api/projects/1/environments/2').code, 'SLUICE_ERR_ROUTE_NOT_FOUND')
})

t.test('a param that is not valid percent-encoding matches no route', async (t) => {
  t.same(failure('GET', '/api/projects/%E0%A4%A').code, 'SLUICE_ERR_ROUTE_NOT_FOUND')
})

t.test('a known path with another method is a 405 SLUICE_ERR_METHOD_NOT_ALLOWED listing the allowed methods', async (t) => {
  t.same(failure('DELETE', '/api/projects'), {
    isSluiceError: true, code: 'SLUICE_ERR_METHOD_NOT_ALLOWED', status: 405, message: 'method DELETE is not allowed on /api/projects', allow: 'GET, POST',
  })
  t.same(failure('PUT', '/api/projects/9'), {
    isSluiceError: true, code: 'SLUICE_ERR_METHOD_NOT_ALLOWED', status: 405, message: 'method PUT is not allowed on /api/projects/9', allow: 'GET',
  })
})

t.test('lists its routes in the order they were added', async (t) => {
  t.same(router.list().map((r) => `${r.method} ${r.pattern}`), ['GET /api/projects', 'POST /api/projects', 'GET /api/projects/:id', 'POST /api/projects/:id/environments'])
})
