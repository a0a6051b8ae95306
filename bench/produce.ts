// Sends generated capture messages to a broker: a way to try Sluice by hand.
//   node dist/bench/produce.js --brokers 127.0.0.1:PORT --token phc_... [--count 1000] [--topic events_plugin_ingestion]
import { parseArgs } from 'node:util'
import { testProducer } from '../test/harness/kafka'
import { messageGenerator } from './generate'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    brokers: { type: 'string' }, token: { type: 'string', multiple: true }, count: { type: 'string', default: '1000' }, topic: { type: 'string', default: 'events_plugin_ingestion' },
  } })
  if (!values.brokers || !values.token?.length) {
    process.stderr.write('usage: node dist/bench/produce.js --brokers HOST:PORT --token TOKEN [--token TOKEN…] [--count N] [--topic T]\n')
    process.exit(2)
  }
  const next = messageGenerator({ tokens: values.token })
  const producer = await testProducer(values.brokers)
  const total = Number(values.count)
  for (let sent = 0; sent < total;) {
    const n = Math.min(5000, total - sent)
    await producer.send(values.topic!, Array.from({ length: n }, next), (i) => `${values.token![0]}:${sent + i}`)
    sent += n
  }
  await producer.close()
  process.stdout.write(`sent ${total} events to ${values.topic} at ${values.brokers}\n`)
}

main().catch((err) => { process.stderr.write(`${(err as Error).message}\n`); process.exit(1) })
