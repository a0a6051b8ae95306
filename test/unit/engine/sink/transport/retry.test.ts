// engine/sink/transport/retry.ts: which insert failures are retried (the server's
// condition) and which are not (rows ClickHouse will never accept).
import t from 'tap'
import { backoffMs, classifyStoreError, clickhouseErrorCode, isRetriable, REJECTION_CODES } from '../../../../../engine/sink/transport/retry'

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
  { name: '26.7 Code 25 (lone surrogate escape in JSONEachRow)', err: new Error('Code: 25. DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair before: x"}: (at row 1)\n: While executing ParallelParsingBlockInputFormat. (CANNOT_PARSE_ESCAPE_SEQUENCE) (version 26.7.1.1)'), code: 25, retriable: false },
  { name: '26.7 Code 252 too many partitions (split, not retried as it is)', err: new Error('Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). The limit is controlled by \'max_partitions_per_insert_block\' setting. (TOO_MANY_PARTS) (version 26.7.1.1)'), code: 252, retriable: false },
  { name: 'Code 376 (cannot parse UUID)', err: new Error('Code: 376. DB::Exception: Cannot parse uuid x: (CANNOT_PARSE_UUID)'), code: 376, retriable: false },
  { name: 'Code 159 (timeout exceeded)', err: new Error('Code: 159. DB::Exception: Timeout exceeded: elapsed 30 seconds. (TIMEOUT_EXCEEDED)'), code: 159, retriable: true },
  { name: 'Code 202 (too many simultaneous queries)', err: new Error('Code: 202. DB::Exception: Too many simultaneous queries. Maximum: 100. (TOO_MANY_SIMULTANEOUS_QUERIES)'), code: 202, retriable: true },
  { name: 'Code 209 (socket timeout)', err: new Error('Code: 209. DB::NetException: Timeout exceeded while reading from socket'), code: 209, retriable: true },
  { name: 'Code 242 (table is read only)', err: new Error('Code: 242. DB::Exception: Table is in readonly mode'), code: 242, retriable: true },
  { name: 'numeric code property', err: Object.assign(new Error('x'), { code: 117 }), code: 117, retriable: false },
  { name: 'undefined', err: undefined, code: undefined, retriable: true },
]

for (const { name, err, code, retriable } of CASES) {
  t.test(`${retriable ? 'retries' : 'does not retry'} ${name}`, async (t) => {
    t.same([clickhouseErrorCode(err), isRetriable(err)], [code, retriable])
  })
}

const CLASSES: [string, unknown, ReturnType<typeof classifyStoreError>][] = [
  ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
  ['too many parts (overload)', new Error('Code: 252. DB::Exception: Too many parts (3000). Merges are processing significantly slower than inserts. (TOO_MANY_PARTS)'), 'transient'],
  ['too many partitions for one block', new Error('Code: 252, e.displayText() = DB::Exception: Too many partitions for single INSERT block (more than 100)'), 'split'],
  ['memory limit', new Error('Code: 241. DB::Exception: Memory limit (total) exceeded'), 'transient'],
  ['unknown code', new Error('Code: 999999. something new'), 'transient'],
  ['lone surrogate escape', new Error('Code: 25. DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair'), 'rejection'],
]

for (const [name, err, cls] of CLASSES) {
  t.test(`classifies ${name} as ${cls}`, async (t) => {
    t.equal(classifyStoreError(err), cls)
  })
}

t.test('every code in the rejection table is a rejection, in both message styles', async (t) => {
  for (const [code, name] of REJECTION_CODES) {
    t.equal(classifyStoreError(new Error(`Code: ${code}. DB::Exception: x. (${name}) (version 26.7.1.1)`)), 'rejection', `${code} ${name}`)
    t.equal(classifyStoreError(new Error(`Code: ${code}, e.displayText() = DB::Exception: x`)), 'rejection', `${code} ${name} (18.16 text)`)
  }
  t.same([...REJECTION_CODES.keys()], [6, 25, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 128, 130, 131, 248, 321, 349, 376, 441], 'the table, as listed in the README')
})

t.test('backoff doubles from 100 ms and is capped at 10 s', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8, 50, 10_000].map((attempt) => backoffMs(attempt)), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000])
})

t.test('backoff honours a custom cap', async (t) => {
  t.same([0, 2, 3, 30].map((attempt) => backoffMs(attempt, 500)), [100, 400, 500, 500])
})
