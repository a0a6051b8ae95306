// The Dockerfile, without Docker (none exists here): its build is replayed
// in a clean copy of the repository. Each stage gets a directory standing
// for its WORKDIR; COPY copies from the build context (honouring
// .dockerignore) or from an earlier stage; RUN runs in that directory with
// the stage's ENV; an `apt-get install` line is checked instead of run (its
// packages must be installed here: this machine is the Debian the image's
// base is). Then the runtime stage must hold what CMD starts: compiled code,
// production packages with node-rdkafka's native addon, no chdb, no dev tools.
// Slow by nature (npm install from the registry, librdkafka compiled from source).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'

const ROOT = path.join(__dirname, '../../..')
t.setTimeout(1_500_000)

interface Instruction { op: string; args: string }

export function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ')
  const out: Instruction[] = []
  for (const line of joined.split('\n')) {
    const l = line.trim()
    if (!l || l.startsWith('#')) continue
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l)
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim() })
  }
  return out
}

function dockerignore(): string[] {
  return fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
}

function copyInto(src: string, dest: string, ignored: string[]) {
  fs.cpSync(src, dest, { recursive: true, dereference: false, filter: (p) => !ignored.includes(path.relative(ROOT, p).split(path.sep)[0]) || path.relative(ROOT, p) === '' })
}

t.test('the Dockerfile\'s build, replayed in a clean copy of the repository, produces a runnable image tree', async (t) => {
  const started = Date.now()
  const steps = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))
  // a clean copy: the files git knows (what a checkout on a machine with Docker has), no node_modules or dist
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-docker-ctx-'))
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT }).toString().split('\0').filter(Boolean)
  for (const f of tracked) {
    const from = path.join(ROOT, f)
    if (!fs.existsSync(from) || fs.lstatSync(from).isSymbolicLink()) continue
    fs.mkdirSync(path.dirname(path.join(context, f)), { recursive: true })
    fs.copyFileSync(from, path.join(context, f))
  }
  const ignored = dockerignore()
  const stages: { name: string; dir: string; workdir: string; env: NodeJS.ProcessEnv }[] = []
  t.teardown(() => {
    fs.rmSync(context, { recursive: true, force: true })
    for (const s of stages) fs.rmSync(s.dir, { recursive: true, force: true })
  })
  const stageDir = (s: { dir: string; workdir: string }, p: string) => path.join(s.dir, path.posix.isAbsolute(p) ? path.posix.relative(s.workdir, p) : p)

  for (const step of steps) {
    const stage = stages[stages.length - 1]
    switch (step.op) {
      case 'FROM': {
        const name = /\bAS\s+(\S+)/i.exec(step.args)?.[1] ?? String(stages.length)
        stages.push({ name, dir: fs.mkdtempSync(path.join(os.tmpdir(), `sluice-docker-${name}-`)), workdir: '/', env: {} })
        break
      }
      case 'WORKDIR': stage.workdir = step.args; break
      case 'ENV': for (const m of step.args.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]] = m[2]; break
      case 'COPY': {
        const parts = step.args.split(/\s+/)
        const from = parts[0].startsWith('--from=') ? stages.find((s) => s.name === parts.shift()!.slice('--from='.length)) : undefined
        const dest = parts.pop()!
        for (const src of parts) {
          const source = from ? stageDir(from, src) : path.join(context, src)
          t.ok(fs.existsSync(source), `COPY ${src} exists${from ? ` in stage ${from.name}` : ' in the build context'}`)
          const target = dest.endsWith('/') || parts.length > 1 ? path.join(stageDir(stage, dest), path.basename(src)) : stageDir(stage, dest)
          if (from) fs.cpSync(source, target, { recursive: true })
          else copyInto(source, target, ignored)
        }
        break
      }
      case 'RUN': {
        if (/^apt-get update/.test(step.args)) {
          const pkgs = /install\s+-y\s+(?:--no-install-recommends\s+)?([\w.+\- ]+?)\s*(?:&&|$)/.exec(step.args)?.[1].split(/\s+/) ?? []
          for (const p of pkgs) t.equal(spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status, 0, `apt package ${p} (installed here, as in the image)`)
          break
        }
        const stepStarted = Date.now()
        const r = spawnSync('sh', ['-c', step.args], { cwd: stage.dir, env: { ...process.env, ...stage.env, npm_config_loglevel: 'error' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
        t.equal(r.status, 0, `RUN ${step.args.slice(0, 90)} (${((Date.now() - stepStarted) / 1000).toFixed(0)} s)`)
        if (r.status !== 0) { t.comment(`${r.stdout}\n${r.stderr}`.slice(-4000)); return }
        break
      }
      default: break
    }
  }

  const runtime = stages[stages.length - 1]
  const has = (p: string) => fs.existsSync(path.join(runtime.dir, p))
  t.ok(has('dist/engine/main.js'), 'the compiled engine (npm start)')
  t.ok(has('console/index.html'), 'the web console')
  t.ok(has('node_modules/@clickhouse/client') && has('node_modules/piscina'), 'production packages')
  t.notOk(has('node_modules/chdb'), 'chdb is left out')
  t.notOk(has('node_modules/tap') || has('node_modules/typescript'), 'no dev tools')
  const pkg = JSON.parse(fs.readFileSync(path.join(runtime.dir, 'package.json'), 'utf8')) as { scripts: { start: string } }
  t.equal(pkg.scripts.start, 'node dist/engine/main.js')
  const load = spawnSync(process.execPath, ['-e', "const K = require('node-rdkafka'); console.log(K.librdkafkaVersion)"], { cwd: runtime.dir, encoding: 'utf8' })
  t.equal(load.status, 0, `node-rdkafka's addon loads (librdkafka ${load.stdout.trim()})`)
  // CMD ["npm", "start"] without a ClickHouse URL: the image has no chDB and says so
  const start = spawnSync(process.execPath, ['dist/engine/main.js'], {
    cwd: runtime.dir, encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH, ...runtime.env, SLUICE_ADMIN_TOKEN: 'replayed-image-token-0123456789', SLUICE_ADMIN_PORT: '0', SLUICE_CAPTURE_PORT: '0' },
  })
  t.match(`${start.stdout}${start.stderr}`, /optional package chdb/, 'the image starts and asks for SLUICE_CLICKHOUSE_URL (no chDB in it)')
  t.comment(`Dockerfile replay took ${((Date.now() - started) / 1000).toFixed(0)} s`)
})
