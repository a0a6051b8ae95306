// engine/errors.ts: the catalogue and docs/errors.md list the same codes with
// the same statuses (Fastify's errors.test.js); messages fill their templates.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ERRORS, SluiceError, invalidField, type ErrorCode } from '../../../engine/errors'

const DOCS_PATH = path.join(__dirname, '../../../../docs/errors.md')

/** `| \`CODE\` | status | when |` rows of the docs table: code → status */
function documented(): Record<string, number> {
  const table: Record<string, number> = {}
  for (const line of fs.readFileSync(DOCS_PATH, 'utf8').split('\n')) {
    const m = /^\|\s*`(SLUICE_ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line)
    if (m) table[m[1]] = Number(m[2])
  }
  return table
}

const shape = (e: SluiceError) => ({ isError: e instanceof Error, code: e.code, status: e.status, message: e.message })

t.test('every code in the catalogue is documented in docs/errors.md with its status', async (t) => {
  const docs = documented()
  const wrong = Object.entries(ERRORS)
    .filter(([code, spec]) => docs[code] !== spec.status)
    .map(([code, spec]) => `${code}: catalogue ${spec.status}, docs ${docs[code] ?? 'missing'}`)
  t.same(wrong, [])
})

t.test('every code documented in docs/errors.md exists in the catalogue', async (t) => {
  t.same(Object.keys(documented()).filter((code) => !(code in ERRORS)), [])
})

t.test('an error fills its message template in order and carries its status', async (t) => {
  t.same(shape(new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'DELETE', '/api/projects')), {
    isError: true, code: 'SLUICE_ERR_METHOD_NOT_ALLOWED', status: 405, message: 'method DELETE is not allowed on /api/projects',
  })
  t.same(shape(new SluiceError('SLUICE_ERR_PROJECT_NOT_FOUND', 42)), {
    isError: true, code: 'SLUICE_ERR_PROJECT_NOT_FOUND', status: 404, message: 'project 42 does not exist',
  })
})

t.test('placeholders inside arguments are not filled again', async (t) => {
  t.equal(new SluiceError('SLUICE_ERR_CONFLICT', 'name %s taken', 'extra').message, 'name %s taken')
})

t.test('a template without placeholders is used as is', async (t) => {
  const code: ErrorCode = 'SLUICE_ERR_UNAUTHORIZED'
  t.same(shape(new SluiceError(code)), { isError: true, code, status: 401, message: 'missing or wrong bearer token' })
})

t.test('invalidField names the field in the message and on the error', async (t) => {
  const err = invalidField('api_token', 'must be a string')
  t.same({ ...shape(err), field: (err as SluiceError & { field?: string }).field }, {
    isError: true, code: 'SLUICE_ERR_INVALID_FIELD', status: 400, message: 'api_token must be a string', field: 'api_token',
  })
})
