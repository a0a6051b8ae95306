// The projects and environments every benchmark uses: two projects, five
// environments, with a few settings so that their steps run (anonymized IPs
// in one environment, a redacted property in one project). Tokens are fixed,
// so messages can be generated before Sluice starts; they have the length of
// PostHog's project API keys (47 characters), which matters for message size.
import type { Command } from '../engine/control/commands'

const token = (name: string) => `phc_${name}`.padEnd(47, '0')

export interface BenchProject {
  name: string
  settings: { redact_property_names?: string[] }
  environments: { name: string; token: string; settings: { anonymize_ips?: boolean } }[]
}

export const BENCH_PROJECTS: readonly BenchProject[] = [
  { name: 'Shop', settings: {}, environments: [
    { name: 'Production', token: token('bench_shop_production'), settings: {} },
    { name: 'Staging', token: token('bench_shop_staging'), settings: {} },
    { name: 'Development', token: token('bench_shop_development'), settings: { anonymize_ips: true } },
  ] },
  { name: 'Docs site', settings: { redact_property_names: ['$referrer'] }, environments: [
    { name: 'Production', token: token('bench_docs_production'), settings: {} },
    { name: 'EU', token: token('bench_docs_eu'), settings: {} },
  ] },
]

export const BENCH_TOKENS: readonly string[] = BENCH_PROJECTS.flatMap((p) => p.environments.map((e) => e.token))

/** The same state as control-log commands (for the worker micro-benchmark), group types the generator sends already claimed. */
export function benchCommands(): Command[] {
  const at = new Date().toISOString()
  const cmds: Command[] = []
  let id = 0
  let rid = 0
  const request_id = () => `bench-${rid++}`
  for (const p of BENCH_PROJECTS) {
    const projectId = ++id // a project's id is its first environment's id; ids are handed out in order
    const [first, ...more] = p.environments
    cmds.push({ type: 'create_project', request_id: request_id(), at, name: p.name, api_token: first.token })
    if (p.settings.redact_property_names) cmds.push({ type: 'update_project', request_id: request_id(), at, project_id: projectId, settings: { redact_property_names: p.settings.redact_property_names } })
    if (first.settings.anonymize_ips) cmds.push({ type: 'update_environment', request_id: request_id(), at, environment_id: projectId, settings: { anonymize_ips: true } })
    for (const e of more) {
      const envId = ++id
      cmds.push({ type: 'create_environment', request_id: request_id(), at, project_id: projectId, name: e.name, api_token: e.token })
      if (e.settings.anonymize_ips) cmds.push({ type: 'update_environment', request_id: request_id(), at, environment_id: envId, settings: { anonymize_ips: true } })
    }
    for (const group_type of ['company', 'project']) cmds.push({ type: 'claim_group_type', request_id: request_id(), at, project_id: projectId, group_type })
  }
  return cmds
}
