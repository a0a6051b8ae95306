// engine/sink/retry.ts: which insert failures are retried (the server's
// condition) and which are not (rows ClickHouse will never accept).
import t from 'tap'
import { backoffMs, clickhouseErrorCode, isRetriable } from '../../engine/sink/retry'

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code })

const CASES: { name: string; err: unknown; code: number | undefined; retriable: boolean }[] = [
  { name: '18.16 Code 117 (incorrect data)', err: new Error('Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: foo, e.what() = DB::Exception'), code: 117, retriable: false },
  { name: '18.16 Code 27 (cannot parse input)', err: new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected { before: x'), code: 27, retriable: false },
  { name: '18.16 Code 53 (type mismatch)', err: new Error('Code: 53, e.displayText() = DB::Exception: Type mismatch in IN or VALUES section'), code: 53, retriable: false },
  { name: 'recent Code 117 text', err: new Error('Code: 117. DB::Exception: Unknown field found while parsing JSONEachRow format: foo. (INCORRECT_DATA) (version 24.8.4.13)'), code: 117, retriable: false },
  { name: 'client error with code "117"', err: withCode('Unknown field found while parsing JSONEachRow format: foo', '117'), code: 117, retriable: false },
  { name: 'client error with code "27"', err: withCode('Cannot parse input', '27'), code: 27, retriable: false },
  { name: 'client error with code "53"', err: withCode('Type mismatch', '53'), code: 53, retriable: false },
  { name: 'connection refused', err: withCode('connect ECONNREFUSED 127.0.0.1:8123', 'ECONNREFUSED'), code: undefined, retriable: true },
  { name: 'connection reset', err: withCode('socket hang up', 'ECONNRESET'), code: undefined, retriable: true },
  { name: 'client timeout', err: new Error('Timeout error.'), code: undefined, retriable: true },
  { name: 'socket timeout', err: withCode('connect ETIMEDOUT 10.0.0.1:8123', 'ETIMEDOUT'), code: undefined, retriable: true },
  { name: 'Code 252 (too many parts)', err: new Error('Code: 252, e.displayText() = DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts.'), code: 252, retriable: true },
  { name: 'client error with code "252"', err: withCode('Too many parts (300)', '252'), code: 252, retriable: true },
  { name: 'Code 241 (memory limit)', err: new Error('Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: would use 9.31 GiB'), code: 241, retriable: true },
  { name: 'a thrown string', err: 'boom', code: undefined, retriable: true },
  { name: 'undefined', err: undefined, code: undefined, retriable: true },
]

for (const { name, err, code, retriable } of CASES) {
  t.test(`${retriable ? 'retries' : 'does not retry'} ${name}`, async (t) => {
    t.same([clickhouseErrorCode(err), isRetriable(err)], [code, retriable])
  })
}

t.test('backoff doubles from 100 ms and is capped at 10 s', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8, 50, 10_000].map((attempt) => backoffMs(attempt)), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000])
})

t.test('backoff honours a custom cap', async (t) => {
  t.same([0, 2, 3, 30].map((attempt) => backoffMs(attempt, 500)), [100, 400, 500, 500])
})
