// OpenAPI 3 description of the admin API, served at GET /api/openapi.json.
// Kept true by test/integration/admin-api.test.ts, which calls every
// documented route and checks that the router and this document list the
// same routes.

const json = (schema: object) => ({ content: { 'application/json': { schema } } })
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const error = (description: string) => ({ description, ...json(ref('Error')) })
const idParam = (name: string, what: string) => ({ name, in: 'path', required: true, description: `${what} id`, schema: { type: 'integer', minimum: 1 } })

const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema })
const pageParams = [
  q('limit', 'page size (default 100)', { type: 'integer', minimum: 1, maximum: 1000 }),
  q('offset', 'rows to skip (take `next` rather than computing it)', { type: 'integer', minimum: 0 }),
]
/** `{results, next}`: `next` is the URL of the following page, null on the last one (as PostHog's API) */
const page = (items: object) => json({ type: 'object', required: ['results', 'next'], properties: { results: { type: 'array', items }, next: { type: 'string', format: 'uri', nullable: true } } })

const PERSON = {
  type: 'object', required: ['id', 'distinct_ids', 'properties', 'is_identified', 'created_at'],
  properties: {
    id: { type: 'string', format: 'uuid' }, distinct_ids: { type: 'array', items: { type: 'string' } }, properties: { type: 'object' },
    is_identified: { type: 'boolean' }, created_at: { type: 'string', format: 'date-time' },
  },
}
const commonErrors = {
  401: error('missing or wrong bearer token'),
  403: error('the admin key\'s scopes do not cover this route, project or environment (SLUICE_ERR_FORBIDDEN)'),
  429: error('too many wrong bearer tokens from this address: refused for a while (Retry-After)'),
  503: error('not caught up with the control log, or the control log did not confirm in time'),
}
const bodyErrors = {
  400: error('invalid JSON or an invalid field (`error.field` names it)'),
  413: error('body larger than SLUICE_MAX_BODY_BYTES'),
}

export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Sluice admin API',
    version: '1',
    description: 'Projects and their environments. Every change goes through the control log; the answer comes once this instance has applied it. Errors are `{"error": {"code", "message"}}`.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'SLUICE_ADMIN_TOKEN (every right), or an admin key\'s secret (its scopes)' } },
    schemas: {
      Error: {
        type: 'object', required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } },
      },
      EnvironmentSettings: {
        type: 'object',
        properties: {
          anonymize_ips: { type: 'boolean', description: 'remove $ip from every event of this environment' },
          drop_events_older_than_seconds: { type: 'integer', minimum: 1, nullable: true, description: 'drop events older than this; null keeps all' },
        },
        additionalProperties: false,
      },
      ProjectSettings: {
        type: 'object',
        properties: {
          drop_event_names: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'dropped in every environment of the project' },
          redact_property_names: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'removed from every event of the project' },
        },
        additionalProperties: false,
      },
      Environment: {
        type: 'object', required: ['id', 'project_id', 'name', 'api_token', 'settings'],
        properties: {
          id: { type: 'integer', description: 'the environment id: team_id of its events' },
          project_id: { type: 'integer' },
          name: { type: 'string' },
          api_token: { type: 'string', description: 'the token SDKs send' },
          settings: ref('EnvironmentSettings'),
        },
      },
      Project: {
        type: 'object', required: ['id', 'name', 'settings', 'environments'],
        properties: { id: { type: 'integer' }, name: { type: 'string' }, settings: ref('ProjectSettings'), environments: { type: 'array', items: ref('Environment') } },
      },
      NewEntity: {
        type: 'object', required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          api_token: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,200}$', description: 'keep an existing token (migrating from PostHog); must be unique' },
        },
      },
      EventDefinition: {
        type: 'object', required: ['name', 'first_seen', 'last_seen'],
        properties: { name: { type: 'string' }, first_seen: { type: 'string', format: 'date-time' }, last_seen: { type: 'string', format: 'date-time', description: 'updated at most hourly' } },
      },
      PropertyDefinition: {
        type: 'object', required: ['name', 'type', 'group_type_index', 'property_type', 'is_numerical'],
        properties: {
          name: { type: 'string' },
          type: { type: 'integer', enum: [1, 2, 3], description: '1 event, 2 person, 3 group' },
          group_type_index: { type: 'integer', nullable: true },
          property_type: { type: 'string', enum: ['String', 'Numeric', 'Boolean', 'DateTime'], nullable: true, description: 'the first detected type' },
          is_numerical: { type: 'boolean' },
        },
      },
      StoredEvent: {
        type: 'object', required: ['uuid', 'event', 'distinct_id', 'person_id', 'timestamp', 'received_at', 'properties'],
        properties: {
          uuid: { type: 'string', format: 'uuid' }, event: { type: 'string' }, distinct_id: { type: 'string' },
          person_id: { type: 'string', nullable: true, description: 'the resolved person: the override of its distinct_id if any, else the person stored with the event; null with SLUICE_PERSONS=off' },
          timestamp: { type: 'string', format: 'date-time' }, received_at: { type: 'string', format: 'date-time', description: 'Kafka message time (capture)' },
          properties: { type: 'object' },
        },
      },
      Group: {
        type: 'object', required: ['group_type_index', 'group_type', 'group_key', 'group_properties', 'created_at'],
        properties: { group_type_index: { type: 'integer' }, group_type: { type: 'string', nullable: true }, group_key: { type: 'string' }, group_properties: { type: 'object' }, created_at: { type: 'string', format: 'date-time' } },
      },
      IngestionWarning: {
        type: 'object', required: ['type', 'source', 'details', 'timestamp'],
        properties: { type: { type: 'string' }, source: { type: 'string' }, details: { type: 'object' }, timestamp: { type: 'string', format: 'date-time' } },
      },
      SdkKey: {
        type: 'object', required: ['id', 'environment_id', 'name', 'api_token', 'primary', 'created_at', 'previous_token_revoked_at'],
        properties: {
          id: { type: 'integer', description: 'the key id (metrics count events per key id: sluice_events_by_key_total)' },
          environment_id: { type: 'integer' }, name: { type: 'string' },
          api_token: { type: 'string', description: 'the token SDKs send' },
          primary: { type: 'boolean', description: 'the environment\'s api_token; rotate_token replaces it, it cannot be deleted' },
          created_at: { type: 'string', format: 'date-time' },
          previous_token_revoked_at: { type: 'string', format: 'date-time', nullable: true, description: 'after a rotation with grace: when the old token stops being accepted' },
        },
      },
      Scope: {
        type: 'object', required: ['access'], additionalProperties: false,
        description: '`read` or `write` (write includes read) on everything (neither list), on listed projects, or on listed environments',
        properties: {
          access: { type: 'string', enum: ['read', 'write'] },
          projects: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1 },
          environments: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1 },
        },
      },
      AdminKey: {
        type: 'object', required: ['id', 'name', 'scopes', 'created_at'],
        properties: { id: { type: 'integer' }, name: { type: 'string' }, scopes: { type: 'array', items: ref('Scope') }, created_at: { type: 'string', format: 'date-time' } },
      },
      AuditEntry: {
        type: 'object', required: ['position', 'time', 'key_id', 'key_name', 'command', 'target', 'outcome'],
        properties: {
          position: { type: 'integer', description: 'control-log offset' },
          time: { type: 'string', format: 'date-time', description: 'the writer\'s clock' },
          key_id: { type: 'integer', nullable: true, description: '0: SLUICE_ADMIN_TOKEN; null: the engine itself (grace period ends, seeds)' },
          key_name: { type: 'string' },
          command: { type: 'string', description: 'create_project, rotate_token, create_sdk_key, create_admin_key, …' },
          target: { type: 'object', properties: { project_id: { type: 'integer' }, environment_id: { type: 'integer' }, sdk_key_id: { type: 'integer' }, admin_key_id: { type: 'integer' } } },
          outcome: { type: 'string', description: 'ok, or why it was refused: conflict, invalid, not_found, environment_not_found, key_not_found' },
        },
      },
      GroupType: { type: 'object', required: ['group_type', 'group_type_index'], properties: { group_type: { type: 'string' }, group_type_index: { type: 'integer', minimum: 0, maximum: 4 } } },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/openapi.json': {
      get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3 document', ...json({ type: 'object' }) }, ...commonErrors } },
    },
    '/api/projects': {
      get: {
        summary: 'List projects with their environments, in id order, one page at a time',
        parameters: [...pageParams, q('search', 'case-insensitive substring of the name, or the exact id')],
        responses: { 200: { description: 'projects', ...page(ref('Project')) }, 400: error('invalid query parameter'), ...commonErrors },
      },
      post: {
        summary: 'Create a project with one environment "Production" whose id equals the project id',
        requestBody: { required: true, ...json(ref('NewEntity')) },
        responses: { 201: { description: 'the project', ...json(ref('Project')) }, ...bodyErrors, 409: error('api_token already used'), ...commonErrors },
      },
    },
    '/api/projects/{id}': {
      parameters: [idParam('id', 'project')],
      get: { summary: 'One project with its environments', responses: { 200: { description: 'the project', ...json(ref('Project')) }, 404: error('no such project'), ...commonErrors } },
      patch: {
        summary: 'Rename a project or change its shared settings (merged key by key)',
        requestBody: { required: true, ...json({ type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, settings: ref('ProjectSettings') } }) },
        responses: { 200: { description: 'the project', ...json(ref('Project')) }, ...bodyErrors, 404: error('no such project'), ...commonErrors },
      },
    },
    '/api/projects/{id}/environments': {
      parameters: [idParam('id', 'project')],
      post: {
        summary: 'Create an environment of the project, with its own (or the given) token',
        requestBody: { required: true, ...json(ref('NewEntity')) },
        responses: { 201: { description: 'the environment', ...json(ref('Environment')) }, ...bodyErrors, 404: error('no such project'), 409: error('api_token already used'), ...commonErrors },
      },
    },
    '/api/projects/{id}/move': {
      parameters: [idParam('id', 'project')],
      post: {
        summary: "Turn this standalone project's environments into environments of another project",
        requestBody: { required: true, ...json({ type: 'object', required: ['parent_project_id'], properties: { parent_project_id: { type: 'integer' } } }) },
        responses: {
          200: { description: 'the parent project, now holding the environments', ...json(ref('Project')) },
          ...bodyErrors,
          404: error('no such project'),
          409: error('group types conflict (the message names them), the parent is itself an environment of another project, or the project is its own parent'),
          ...commonErrors,
        },
      },
    },
    '/api/projects/{id}/group_types': {
      parameters: [idParam('id', 'project')],
      get: { summary: "The project's group type mapping, shared by its environments", responses: { 200: { description: 'mapping (at most five: always one page)', ...page(ref('GroupType')) }, 404: error('no such project'), ...commonErrors } },
    },
    '/api/projects/{id}/event_definitions': {
      parameters: [idParam('id', 'project')],
      get: {
        summary: 'Event definitions shared by the project\'s environments',
        parameters: [{ name: 'search', in: 'query', required: false, description: 'case-insensitive substring of the name', schema: { type: 'string', maxLength: 200 } }, ...pageParams],
        responses: { 200: { description: 'definitions', ...page(ref('EventDefinition')) }, 400: error('invalid query parameter'), 404: error('no such project'), ...commonErrors },
      },
    },
    '/api/projects/{id}/property_definitions': {
      parameters: [idParam('id', 'project')],
      get: {
        summary: 'Property definitions shared by the project\'s environments',
        parameters: [
          { name: 'type', in: 'query', required: false, description: '1 event, 2 person, 3 group', schema: { type: 'integer', minimum: 1, maximum: 3 } },
          { name: 'group_type_index', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 4 } },
          { name: 'search', in: 'query', required: false, description: 'case-insensitive substring of the name', schema: { type: 'string', maxLength: 200 } },
          ...pageParams,
        ],
        responses: { 200: { description: 'definitions', ...page(ref('PropertyDefinition')) }, 400: error('invalid query parameter'), 404: error('no such project'), ...commonErrors },
      },
    },
    '/api/environments/{id}': {
      parameters: [idParam('id', 'environment')],
      get: { summary: 'One environment', responses: { 200: { description: 'the environment', ...json(ref('Environment')) }, 404: error('no such environment'), ...commonErrors } },
      patch: {
        summary: 'Rename an environment or change its settings (merged key by key)',
        requestBody: { required: true, ...json({ type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, settings: ref('EnvironmentSettings') } }) },
        responses: { 200: { description: 'the environment', ...json(ref('Environment')) }, ...bodyErrors, 404: error('no such environment'), ...commonErrors },
      },
      delete: {
        summary: 'Delete an environment: its token stops being accepted; its data is kept',
        responses: { 204: { description: 'deleted' }, 404: error('no such environment'), 409: error('the last environment of a project cannot be deleted'), ...commonErrors },
      },
    },
    '/api/environments/{id}/rotate_token': {
      parameters: [idParam('id', 'environment')],
      post: {
        summary: 'Give the environment (its primary key) a new token at once; the old one stays accepted for grace_seconds (default 0: stops at once), then every instance revokes it at the same control-log position',
        requestBody: { required: false, ...json({ type: 'object', properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 2592000 } }, additionalProperties: false }) },
        responses: { 200: { description: 'the environment with its new token', ...json(ref('Environment')) }, ...bodyErrors, 404: error('no such environment'), ...commonErrors },
      },
    },
    '/api/environments/{id}/keys': {
      parameters: [idParam('id', 'environment')],
      get: { summary: 'The SDK keys (ingestion tokens) of the environment; the primary one is its api_token', responses: { 200: { description: 'keys', ...page(ref('SdkKey')) }, 404: error('no such environment'), ...commonErrors } },
      post: {
        summary: 'Another SDK key for the environment (one per app or team, revocable one at a time)',
        requestBody: { required: true, ...json(ref('NewEntity')) },
        responses: { 201: { description: 'the key', ...json(ref('SdkKey')) }, ...bodyErrors, 404: error('no such environment'), 409: error('the token is in use or was revoked'), ...commonErrors },
      },
    },
    '/api/environments/{id}/keys/{key_id}': {
      parameters: [idParam('id', 'environment'), idParam('key_id', 'SDK key')],
      delete: {
        summary: 'Revoke one SDK key: events with its token are dropped as invalid_token by every instance from now on; the token is never reused',
        responses: { 204: { description: 'revoked' }, 404: error('no such environment or key'), 409: error('the primary key cannot be deleted: rotate it'), ...commonErrors },
      },
    },
    '/api/admin_keys': {
      get: { summary: 'Admin keys, without secrets (needs read on everything)', responses: { 200: { description: 'keys', ...page(ref('AdminKey')) }, ...commonErrors } },
      post: {
        summary: 'A new admin key with scopes (needs write on everything); the answer shows its secret, once: only a salted hash is kept',
        requestBody: { required: true, ...json({ type: 'object', required: ['name', 'scopes'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, scopes: { type: 'array', minItems: 1, maxItems: 20, items: ref('Scope') } } }) },
        responses: { 201: { description: 'the key and its secret', ...json({ allOf: [ref('AdminKey'), { type: 'object', required: ['secret'], properties: { secret: { type: 'string', description: 'the bearer token; shown only here' } } }] }) }, ...bodyErrors, ...commonErrors },
      },
    },
    '/api/admin_keys/{id}': {
      parameters: [idParam('id', 'admin key')],
      delete: { summary: 'Revoke an admin key (needs write on everything); every instance refuses it from now on', responses: { 204: { description: 'revoked' }, 404: error('no such admin key'), ...commonErrors } },
    },
    '/api/audit': {
      get: {
        summary: 'The changes made through the control log, oldest first, with the key that made each and its outcome; never a token or secret. Filtered to what the key may read; the newest 1,000 are kept',
        parameters: [
          q('project_id', 'only changes to this project', { type: 'integer', minimum: 1 }), q('environment_id', 'only changes to this environment', { type: 'integer', minimum: 1 }),
          q('since', 'only changes at or after this control-log position (digits) or time (ISO 8601)'), ...pageParams,
        ],
        responses: { 200: { description: 'entries', ...page(ref('AuditEntry')) }, 400: error('invalid query parameter'), ...commonErrors },
      },
    },
    '/api/environments/{id}/events': {
      parameters: [idParam('id', 'environment')],
      get: {
        summary: 'The newest stored events of the environment, newest first (a redelivered event once)',
        parameters: [
          q('limit', 'page size (default 100)', { type: 'integer', minimum: 1, maximum: 1000 }),
          q('event', 'only this event name'), q('distinct_id', 'only this distinct_id'),
          q('before', 'only events with a timestamp before this time', { type: 'string', format: 'date-time' }),
          q('cursor', 'opaque position from a previous page\'s `next`'),
        ],
        responses: { 200: { description: 'events', ...page(ref('StoredEvent')) }, 400: error('invalid query parameter'), 404: error('no such environment'), ...commonErrors },
      },
    },
    '/api/environments/{id}/groups': {
      parameters: [idParam('id', 'environment')],
      get: {
        summary: 'The groups of the environment by type and key, with their latest properties',
        parameters: [q('group_type_index', 'only this type', { type: 'integer', minimum: 0, maximum: 4 }), q('search', 'case-insensitive substring of the key or the properties'), ...pageParams],
        responses: { 200: { description: 'groups', ...page(ref('Group')) }, 400: error('invalid query parameter'), 404: error('no such environment'), ...commonErrors },
      },
    },
    '/api/environments/{id}/groups/{group_type_index}/{group_key}': {
      parameters: [idParam('id', 'environment'), { name: 'group_type_index', in: 'path', required: true, schema: { type: 'integer', minimum: 0, maximum: 4 } }, { name: 'group_key', in: 'path', required: true, schema: { type: 'string', maxLength: 400 } }],
      get: {
        summary: 'One group: properties, created_at, events in the last 30 days and the distinct_ids seen with it (most events first, up to 100)',
        responses: {
          200: { description: 'the group', ...json({ allOf: [ref('Group'), { type: 'object', properties: { events_last_30_days: { type: 'integer' }, distinct_ids: { type: 'array', items: { type: 'object', properties: { distinct_id: { type: 'string' }, events: { type: 'integer' }, last_seen: { type: 'string', format: 'date-time' } } } } } }] }) },
          400: error('invalid group type index or key'), 404: error('no such environment or group'), ...commonErrors,
        },
      },
    },
    '/api/environments/{id}/persons': {
      parameters: [idParam('id', 'environment')],
      get: {
        summary: 'The person a distinct_id belongs to in this environment (after merges)',
        parameters: [q('distinct_id', 'the distinct_id (required)')],
        responses: { 200: { description: 'the person', ...json(PERSON) }, 400: error('distinct_id missing or too long'), 404: error('no such environment or person'), ...commonErrors },
      },
    },
    '/api/environments/{id}/persons/{person_id}': {
      parameters: [idParam('id', 'environment'), { name: 'person_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      get: {
        summary: 'One person: its distinct_ids, properties, is_identified and created_at (404 once merged into another)',
        responses: { 200: { description: 'the person', ...json(PERSON) }, 404: error('no such environment or person'), ...commonErrors },
      },
    },
    '/api/environments/{id}/ingestion_warnings': {
      parameters: [idParam('id', 'environment')],
      get: {
        summary: 'Ingestion warnings of the environment, newest first',
        parameters: [q('type', 'only this warning type'), q('since', 'only warnings at or after this time', { type: 'string', format: 'date-time' }), ...pageParams],
        responses: { 200: { description: 'warnings', ...page(ref('IngestionWarning')) }, 400: error('invalid query parameter'), 404: error('no such environment'), ...commonErrors },
      },
    },
    '/api/environments/{id}/stats': {
      parameters: [idParam('id', 'environment')],
      get: {
        summary: 'Events per minute of arrival over the last hour, the last event, warnings of the last day by type, and this instance\'s drops and dead letters by reason',
        responses: { 200: { description: 'stats', ...json({ type: 'object' }) }, 404: error('no such environment'), ...commonErrors },
      },
    },
    '/api/status': {
      get: {
        summary: 'Which stage limits throughput now (kafka, workers, clickhouse, control_log, or none) and what to change, with per-stage utilisation over SLUICE_STATUS_WINDOW_SECONDS',
        responses: { 200: { description: 'the verdict and its figures', ...json({ type: 'object', required: ['stage', 'summary', 'advice', 'because', 'figures'], properties: { stage: { type: 'string', enum: ['kafka', 'workers', 'clickhouse', 'control_log', 'none'] }, summary: { type: 'string' }, advice: { type: 'array', items: { type: 'string' } }, because: { type: 'array', items: { type: 'string' } }, figures: { type: 'object' }, capture_url: { type: 'string' } } }) }, ...commonErrors },
      },
    },
  },
} as const
