// Persons of an environment (DESIGN §8): `GET /api/environments/:id/persons?distinct_id=`
// and `…/persons/:person_id` → {id, distinct_ids, properties, is_identified, created_at}; 404 when none.
import type { EnvironmentState } from '../control/fold'
import { invalidField, SluiceError } from '../errors'
import type { PersonReader } from '../sink/read/person-read'
import type { AdminHandler } from './handler'
import type { Router } from './router'

export function addPersonRoutes(router: Router<AdminHandler>, environment: (raw: string) => EnvironmentState, persons: PersonReader | undefined): Router<AdminHandler> {
  const reader = () => {
    if (!persons) throw new SluiceError('SLUICE_ERR_INTERNAL')
    return persons
  }
  return router
    .add('GET', '/api/environments/:id/persons', async (req) => {
      const e = environment(req.params.id)
      const distinctId = req.query.get('distinct_id')
      if (distinctId === null || distinctId === '') throw invalidField('distinct_id', 'is required')
      if (distinctId.length > 400) throw invalidField('distinct_id', 'must be at most 400 characters')
      const p = await reader().byDistinctId(e.id, distinctId)
      if (!p) throw new SluiceError('SLUICE_ERR_PERSON_NOT_FOUND', `with distinct_id ${JSON.stringify(distinctId.slice(0, 80))}`, e.id)
      return { status: 200, body: p }
    })
    .add('GET', '/api/environments/:id/persons/:person_id', async (req) => {
      const e = environment(req.params.id)
      const p = await reader().byId(e.id, req.params.person_id)
      if (!p) throw new SluiceError('SLUICE_ERR_PERSON_NOT_FOUND', req.params.person_id.slice(0, 80), e.id)
      return { status: 200, body: p }
    })
}
