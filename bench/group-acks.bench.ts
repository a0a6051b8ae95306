// How long a batch's group updates wait for Kafka's delivery reports
// (engine/dispatch/group-updates.ts awaits them before the batch's rows go to
// the batcher), by producer tuning: linger.ms and the idle poll interval.
// node-rdkafka's HighLevelProducer already polls every 1 ms while a delivery
// report is awaited (its pollingRef), so the idle interval hardly matters;
// linger.ms does. On the embedded mock cluster: 300 batches of 3 updates,
// each started at a random moment (0–30 ms after the previous one's report).
//   node dist/bench/group-acks.bench.js
import { startMockKafkaCluster } from '../engine/embedded/mock-kafka'
import { connectProducer, type ProducerTuning } from '../engine/kafka'

const BATCHES = 300
const UPDATES = 3

async function measure(brokers: string, tuning: ProducerTuning): Promise<number[]> {
  const producer = await connectProducer(brokers, 'bench-group-acks', tuning)
  await producer.produce('bench_group_acks', null, Buffer.from('warm-up'), 'k')
  const ms: number[] = []
  for (let i = 0; i < BATCHES; i++) {
    await new Promise((r) => setTimeout(r, Math.random() * 30))
    const t0 = performance.now()
    await Promise.all(Array.from({ length: UPDATES }, (_, j) => producer.produce('bench_group_acks', null, Buffer.from(`update ${i}`), `group-${j}`)))
    ms.push(performance.now() - t0)
  }
  await producer.disconnect()
  return ms.sort((a, b) => a - b)
}

async function main(): Promise<void> {
  const mock = await startMockKafkaCluster()
  const variants: [string, ProducerTuning][] = [
    ['shared producer (linger 5 ms, idle poll 20 ms)', { lingerMs: 5, pollIntervalMs: 20 }],
    ['linger 5 ms, idle poll 1000 ms', { lingerMs: 5, pollIntervalMs: 1000 }],
    ['capture producer (linger 2 ms, idle poll 5 ms)', { lingerMs: 2, pollIntervalMs: 5 }],
    ['group-update producer (linger 0, idle poll 20 ms)', { lingerMs: 0, pollIntervalMs: 20 }],
  ]
  for (const [name, tuning] of variants) {
    const ms = await measure(mock.bootstrapServers, tuning)
    const q = (f: number) => ms[Math.floor(f * (ms.length - 1))].toFixed(1)
    console.log(`${name}: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`)
  }
  await mock.stop()
}

void main()
