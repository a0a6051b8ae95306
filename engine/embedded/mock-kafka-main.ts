// The mock Kafka cluster's own process (started by mock-kafka.ts): one idle
// producer with `test.mock.num.brokers` holds the cluster; its bootstrap
// address is only logged (facility MOCK), so we listen for that line and
// report it, and with `logs` every later MOCK line, over IPC.
import Kafka from 'node-rdkafka'
import type { MockKafkaMessage } from './mock-kafka'

const brokers = Number(process.argv[2] ?? 1)
const forwardLogs = process.argv[3] === 'logs'
const send = (m: MockKafkaMessage) => process.send?.(m)

const holder = new Kafka.Producer({
  'bootstrap.servers': 'ignored:9092',
  'test.mock.num.brokers': brokers,
  'event_cb': true,
  'debug': 'mock',
  'log_level': 7,
} as Kafka.ProducerGlobalConfig)
let ready = false
holder.on('event.log', (log: { fac?: string; message?: string }) => {
  if (log.fac !== 'MOCK') return
  if (ready) {
    if (forwardLogs) send({ kind: 'log', message: log.message ?? '' })
    return
  }
  const m = /bootstrap\.servers=([^\s]+)/.exec(log.message ?? '')
  if (!m) return
  ready = true
  send({ kind: 'ready', bootstrapServers: m[1] })
})
holder.on('event.error', (err) => {
  if (!ready) send({ kind: 'failed', error: err.message })
})
// the parent is gone (stopped, crashed or killed): so is the cluster
process.on('disconnect', () => process.exit(0))
holder.connect()
