// engine/http/paginate.ts: limit/offset from the query, {results, next} with
// `next` an absolute URL that keeps the filters, 400 naming a bad parameter.
import t from 'tap'
import { offsetPage, pageRequest, slicePage } from '../../../../engine/http/paginate'
import { SluiceError } from '../../../../engine/errors'

const url = new URL('http://127.0.0.1:8001/api/projects?search=a%20b&limit=2')

t.test('limit and offset default, and are checked', async (t) => {
  t.same(pageRequest(new URLSearchParams('')), { limit: 100, offset: 0 })
  t.same(pageRequest(new URLSearchParams('limit=5&offset=10')), { limit: 5, offset: 10 })
  for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'offset=-1', 'limit=1.5']) {
    let err: (SluiceError & { field?: string }) | undefined
    try { pageRequest(new URLSearchParams(bad)) } catch (e) { err = e as SluiceError & { field?: string } }
    t.match(err, { status: 400, field: bad.split('=')[0] }, bad)
  }
})

t.test('a page says whether another follows, with its URL', async (t) => {
  t.same(offsetPage(url, { limit: 2, offset: 0 }, [1, 2, 3]), { results: [1, 2], next: 'http://127.0.0.1:8001/api/projects?search=a+b&limit=2&offset=2' })
  t.same(offsetPage(url, { limit: 2, offset: 4 }, [5, 6]), { results: [5, 6], next: null })
  t.same(slicePage(url, { limit: 2, offset: 2 }, [1, 2, 3, 4, 5]).results, [3, 4])
  t.equal(slicePage(url, { limit: 2, offset: 4 }, [1, 2, 3, 4, 5]).next, null)
})
