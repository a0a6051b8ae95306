// `npm start`: reads the configuration once, starts the engine, prints what a
// person needs to try it, and stops cleanly on SIGTERM/SIGINT within
// SLUICE_SHUTDOWN_TIMEOUT_MS.
import { ConfigError, loadConfig } from '../config/schema'
import { startEngine } from './engine'
import { createLogger } from './logger'
import { startShutdownWatchdog, WATCHDOG_GRACE_MS } from './shutdown-watchdog'

async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  const engine = await startEngine(config, log)
  log.info({ admin: engine.adminUrl, capture: engine.captureUrl, brokers: engine.brokers, clickhouse: engine.clickhouse }, 'sluice started')

  const lines = [
    '',
    'Sluice is running.',
    `  admin API     ${engine.adminUrl}   (GET /metrics, /healthz, /readyz without a token)`,
    `  capture       ${engine.captureUrl}   (PostHog SDKs: set their host to this; ${config.captureHost === '0.0.0.0' || config.captureHost === '::' ? 'listening on all interfaces' : `listening on ${config.captureHost}`})`,
    engine.adminTokenGenerated
      ? `  admin token   ${engine.adminToken}   (generated for this run; set SLUICE_ADMIN_TOKEN to fix it)`
      : '  admin token   from SLUICE_ADMIN_TOKEN',
    `  Kafka         ${engine.brokers}${engine.embeddedKafka ? '   (embedded mock cluster, in memory)' : ''}   topic ${config.kafkaTopic}`,
    `  ClickHouse    ${engine.clickhouse.kind} ${engine.clickhouse.version} at ${engine.clickhouse.where}, database ${config.clickhouseDatabase}`,
    '',
    'Try it:',
    `  curl -s -X POST ${engine.adminUrl}/api/projects -H 'Authorization: Bearer ${engine.adminTokenGenerated ? engine.adminToken : '$SLUICE_ADMIN_TOKEN'}' -d '{"name":"My product"}'`,
    `  curl -s ${engine.captureUrl}/batch/ -d '{"api_key":"<api_token from the answer>","batch":[{"event":"hello","distinct_id":"me","properties":{}}]}'`,
    '',
  ]
  process.stdout.write(lines.join('\n') + '\n')

  let stopping = false
  const stop = async (why: string, code: number) => {
    if (stopping) return
    stopping = true
    log.info({ why }, 'stopping')
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs, step: engine.stoppingStep() }, 'shutdown deadline passed; exiting without a clean drain')
      process.exit(1)
    }, config.shutdownTimeoutMs)
    deadline.unref()
    startShutdownWatchdog(config.shutdownTimeoutMs + WATCHDOG_GRACE_MS)
    await engine.stop()
    log.info('stopped')
    process.exit(code)
  }
  process.on('SIGTERM', () => void stop('SIGTERM', 0))
  process.on('SIGINT', () => void stop('SIGINT', 0))
  void engine.finished.then(() => stop('SLUICE_STOP_AFTER_EVENTS reached', 0))
}

main().catch((err) => {
  process.stderr.write(`sluice: failed to start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
