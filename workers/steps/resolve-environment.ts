// DESIGN §4 step 2: token → environment (team_id) and its parent project.
// An unknown token is not dropped here: the snapshot may be older than the
// control log, so the main thread re-checks once it knows it is caught up.
import type { Step } from '../context'
import { drop, ok, unresolved } from '../result'

export const resolveEnvironment: Step = (event, ctx) => {
  if (event.token === undefined) return drop('no_token')
  const env = ctx.environmentsByToken.get(event.token)
  if (env === undefined) return unresolved()
  event.env = env
  event.teamId = env.id
  event.projectId = env.project.id
  return ok()
}
