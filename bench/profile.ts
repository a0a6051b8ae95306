// Summarizes V8 CPU profiles (.cpuprofile, from `node --cpu-prof`, which the
// end-to-end benchmark passes to the engine with --cpu-prof DIR): the
// functions with the most self time, per thread (main thread, each worker)
// and over all of them.
//
//   node dist/bench/profile.js DIR_OR_FILES… [--top 25]
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface FunctionTime { name: string; where: string; selfMs: number }
export interface ThreadProfile { file: string; thread: string; activeMs: number; idleMs: number; top: FunctionTime[] }

const ROOT = path.resolve(__dirname, '..', '..')

function where(f: CallFrame): string {
  if (!f.url) return ''
  let u = f.url.replace(/^file:\/\//, '')
  if (u.startsWith(ROOT + '/')) u = u.slice(ROOT.length + 1)
  u = u.replace(/^.*node_modules\//, '')
  return `${u}:${f.lineNumber + 1}`
}

/** Microseconds on the clock V8 stamps profiles with (CLOCK_MONOTONIC, like process.hrtime): for windows. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n)

/** Self time by function (name + location), in ms, idle excluded; only samples within `window` (monotonic µs) when given. */
export function selfTimes(profile: CpuProfile, window?: [number, number]): { byFunction: Map<string, FunctionTime>; activeMs: number; idleMs: number } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const byFunction = new Map<string, FunctionTime>()
  let activeMs = 0
  let idleMs = 0
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    if (window && (at < window[0] || at > window[1])) continue
    // timeDeltas[i + 1] is the time until the next sample: the time sample i stands for
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    const node = nodes.get(profile.samples[i])
    if (!node) continue
    const f = node.callFrame
    // a piscina worker waiting for its next task blocks in Atomics.wait: idle, though V8 samples it as JS
    if (f.functionName === '(idle)' || f.functionName === 'atomicsWaitLoop') { idleMs += ms; continue }
    activeMs += ms
    const name = f.functionName || '(anonymous)'
    const loc = where(f)
    const key = `${name}\u0000${loc}`
    const t = byFunction.get(key)
    if (t) t.selfMs += ms
    else byFunction.set(key, { name, where: loc, selfMs: ms })
  }
  return { byFunction, activeMs, idleMs }
}

/** Profiles of one run: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread id 0 is the main thread. */
export function summarizeProfiles(files: string[], top = 20, window?: [number, number]): { threads: ThreadProfile[]; all: ThreadProfile } {
  const threads: ThreadProfile[] = []
  const all = new Map<string, FunctionTime>()
  let activeAll = 0
  let idleAll = 0
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
    const { byFunction, activeMs, idleMs } = selfTimes(profile, window)
    const tid = /\.(\d+)\.\d+\.cpuprofile$/.exec(path.basename(file))?.[1]
    const thread = tid === undefined ? path.basename(file) : tid === '0' ? 'main thread' : `worker thread ${tid}`
    threads.push({ file, thread, activeMs, idleMs, top: [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top) })
    activeAll += activeMs
    idleAll += idleMs
    for (const [k, t] of byFunction) {
      const a = all.get(k)
      if (a) a.selfMs += t.selfMs
      else all.set(k, { ...t })
    }
  }
  return {
    threads,
    all: { file: '', thread: 'all threads', activeMs: activeAll, idleMs: idleAll, top: [...all.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top) },
  }
}

export function formatThread(t: ThreadProfile): string {
  const lines = [`${t.thread}: ${(t.activeMs / 1000).toFixed(2)} s busy, ${(t.idleMs / 1000).toFixed(2)} s idle`]
  for (const f of t.top) {
    const pct = t.activeMs > 0 ? (100 * f.selfMs) / t.activeMs : 0
    lines.push(`  ${pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}${f.where ? `  (${f.where})` : ''}`)
  }
  return lines.join('\n')
}

export function profileFiles(args: string[]): string[] {
  const out: string[] = []
  for (const a of args) {
    if (fs.statSync(a).isDirectory()) {
      for (const f of fs.readdirSync(a).sort()) if (f.endsWith('.cpuprofile')) out.push(path.join(a, f))
    } else out.push(a)
  }
  return out
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } })
  if (positionals.length === 0) {
    process.stderr.write('usage: node dist/bench/profile.js DIR_OR_FILES… [--top 20]\n')
    process.exit(2)
  }
  const { threads, all } = summarizeProfiles(profileFiles(positionals), Number(values.top))
  for (const t of threads) process.stdout.write(formatThread(t) + '\n\n')
  if (threads.length > 1) process.stdout.write(formatThread(all) + '\n')
}
