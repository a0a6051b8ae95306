// Sluice console: plain DOM, no framework, no build step, no third-party
// code. The admin key lives in sessionStorage (this tab only) and travels as
// a bearer token; nothing is put in a URL or a cookie.
'use strict'
;(function () {
  const KEY = 'sluice.adminKey'
  const $ = (id) => document.getElementById(id)
  const state = { projects: [], projectsNext: null, project: null, env: null, captureUrl: '', eventsNext: null, timer: 0 }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
      else e.setAttribute(k, v)
    }
    for (const c of children) e.append(c)
    return e
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || ('HTTP ' + status))
      this.status = status
      this.code = body && body.error && body.error.code
    }
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { authorization: 'Bearer ' + sessionStorage.getItem(KEY), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
    })
    const text = await res.text()
    const data = text ? JSON.parse(text) : undefined
    if (res.status === 401) { logout('Your admin key was not accepted: sign in again.'); throw new ApiError(401, data) }
    if (!res.ok) throw new ApiError(res.status, data)
    return data
  }

  function say(text, bad) {
    const m = $('message')
    m.textContent = text
    m.className = bad ? 'error' : ''
  }

  async function copy(text, what) {
    try {
      await navigator.clipboard.writeText(text)
      say(what + ' copied to the clipboard.')
    } catch {
      say('Could not copy: select the text and copy it by hand.', true)
    }
  }

  // --- sign-in
  function logout(why) {
    sessionStorage.removeItem(KEY)
    clearInterval(state.timer)
    $('app').hidden = true
    $('nav').hidden = true
    $('signin').hidden = false
    $('signin-error').textContent = why || ''
  }

  async function signIn(key) {
    sessionStorage.setItem(KEY, key)
    try {
      await api('GET', '/api/projects?limit=1')
    } catch (e) {
      if (e.status !== 401) { sessionStorage.removeItem(KEY); $('signin-error').textContent = 'Could not reach Sluice: ' + e.message }
      return
    }
    $('signin').hidden = true
    $('app').hidden = false
    $('nav').hidden = false
    $('admin-key').value = ''
    await loadProjects()
    state.timer = setInterval(refreshLive, 2000)
    refreshLive()
  }

  // --- projects and environments
  async function loadProjects(more, selectId) {
    const search = $('project-search').value.trim()
    const url = more && state.projectsNext ? new URL(state.projectsNext).pathname + new URL(state.projectsNext).search
      : '/api/projects?limit=100' + (search ? '&search=' + encodeURIComponent(search) : '')
    const page = await api('GET', url)
    state.projects = more ? state.projects.concat(page.results) : page.results
    state.projectsNext = page.next
    $('projects-more').hidden = !page.next
    const sel = $('project-select')
    const keep = selectId || (state.project && state.project.id)
    sel.replaceChildren(...state.projects.map((p) => el('option', { value: p.id, text: p.name + ' (#' + p.id + ')' })))
    const chosen = state.projects.find((p) => p.id === keep) || state.projects[0] || null
    if (chosen) sel.value = String(chosen.id)
    selectProject(chosen)
  }

  function selectProject(p, envId) {
    state.project = p
    $('empty').hidden = !!p || !!$('project-search').value.trim()
    $('new-environment-form').hidden = !p
    const sel = $('environment-select')
    if (!p) { sel.replaceChildren(); selectEnvironment(null); return }
    sel.replaceChildren(...p.environments.map((e) => el('option', { value: e.id, text: e.name })))
    const keep = envId || (state.env && state.env.project_id === p.id ? state.env.id : null)
    const env = p.environments.find((e) => e.id === keep) || p.environments[0]
    sel.value = String(env.id)
    $('project-name').value = p.name
    $('drop-event-names').value = p.settings.drop_event_names.join('\n')
    $('redact-property-names').value = p.settings.redact_property_names.join('\n')
    $('move-result').textContent = ''
    selectEnvironment(env)
  }

  function replaceProject(p, envId) {
    const i = state.projects.findIndex((x) => x.id === p.id)
    if (i >= 0) state.projects[i] = p
    else state.projects.unshift(p)
    $('project-select').replaceChildren(...state.projects.map((x) => el('option', { value: x.id, text: x.name + ' (#' + x.id + ')' })))
    $('project-select').value = String(p.id)
    selectProject(p, envId)
  }

  function selectEnvironment(env) {
    const changed = !state.env || !env || state.env.id !== env.id
    state.env = env
    $('selected').hidden = !env
    if (!env) return
    $('environment-id').textContent = String(env.id)
    $('environment-project').textContent = state.project.name + ' (#' + env.project_id + ')'
    $('api-token').value = env.api_token
    $('environment-name').value = env.name
    $('anonymize-ips').checked = !!env.settings.anonymize_ips
    $('drop-older').value = env.settings.drop_events_older_than_seconds == null ? '' : String(env.settings.drop_events_older_than_seconds)
    renderSnippets()
    if (changed) { state.eventsNext = null; state.olderLoaded = false; $('events-table').tBodies[0].replaceChildren(); refreshLive(); loadGroups(); loadDefinitions() }
  }

  function renderSnippets() {
    const host = state.captureUrl
    const token = state.env ? state.env.api_token : ''
    $('capture-url').textContent = host
    $('snippet-js').textContent =
      "<script src=\"https://your-site/posthog.js\"></script> <!-- or: npm install posthog-js -->\n" +
      "posthog.init('" + token + "', { api_host: '" + host + "' })\n" +
      "posthog.capture('hello from the browser')"
    $('snippet-node').textContent =
      "// npm install posthog-node\n" +
      "const { PostHog } = require('posthog-node')\n" +
      "const posthog = new PostHog('" + token + "', { host: '" + host + "' })\n" +
      "posthog.capture({ distinctId: 'user-1', event: 'hello from node' })\n" +
      'await posthog.shutdown()'
    $('snippet-curl').textContent =
      'curl -s ' + host + "/batch/ -H 'content-type: application/json' -d '" +
      JSON.stringify({ api_key: token, batch: [{ event: 'hello', distinct_id: 'me', properties: {} }] }) + "'"
  }

  function explain(e, action) {
    if (e.status === 409) return action + ' was refused because it conflicts with the current state: ' + e.message + '.'
    if (e.status === 400) return action + ' was refused: ' + e.message + '.'
    if (e.status === 404) return action + ' failed: ' + e.message + ' (it may have been deleted or moved).'
    return action + ' failed: ' + e.message
  }

  // --- live data
  function renderChart(points) {
    const w = 600, h = 120
    const max = Math.max(1, ...points.map((p) => p.events))
    const bw = w / points.length
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h)
    svg.setAttribute('preserveAspectRatio', 'none')
    points.forEach((p, i) => {
      const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect')
      const bh = (p.events / max) * (h - 4)
      r.setAttribute('x', String(i * bw + 0.5)); r.setAttribute('width', String(Math.max(1, bw - 1)))
      r.setAttribute('y', String(h - bh)); r.setAttribute('height', String(bh))
      const t = document.createElementNS('http://www.w3.org/2000/svg', 'title')
      t.textContent = p.minute.slice(11, 16) + ' UTC: ' + p.events
      r.append(t)
      svg.append(r)
    })
    $('chart').replaceChildren(svg)
    $('chart').setAttribute('aria-label', 'events per minute over the last hour, at most ' + max + ' per minute')
  }

  function eventRow(ev) {
    return el('tr', {},
      el('td', { text: ev.timestamp.replace('T', ' ').replace(/\.\d+Z$/, 'Z') }),
      el('td', { text: ev.event }),
      el('td', { text: ev.distinct_id }),
      el('td', { class: 'props', title: JSON.stringify(ev.properties), text: JSON.stringify(ev.properties) }))
  }

  function eventsQuery() {
    const q = new URLSearchParams({ limit: '50' })
    if ($('filter-event').value.trim()) q.set('event', $('filter-event').value.trim())
    if ($('filter-distinct-id').value.trim()) q.set('distinct_id', $('filter-distinct-id').value.trim())
    return q.toString()
  }

  async function loadEvents(older) {
    const env = state.env
    if (!env) return
    const path = older && state.eventsNext ? new URL(state.eventsNext).pathname + new URL(state.eventsNext).search
      : '/api/environments/' + env.id + '/events?' + eventsQuery()
    const page = await api('GET', path)
    if (state.env !== env) return
    const body = $('events-table').tBodies[0]
    if (older) { body.append(...page.results.map(eventRow)); state.olderLoaded = true; state.eventsNext = page.next }
    else if (!state.olderLoaded) { body.replaceChildren(...page.results.map(eventRow)); state.eventsNext = page.next }
    $('events-more').hidden = !state.eventsNext
    if (page.results.length === 0 && !older) body.replaceChildren(el('tr', {}, el('td', { colspan: '4', text: 'No events yet. Send one with a snippet above.' })))
  }

  async function refreshLive() {
    if (document.hidden) return
    try {
      const status = await api('GET', '/api/status')
      if (status.capture_url && state.captureUrl !== captureUrlFor(status.capture_url)) { state.captureUrl = captureUrlFor(status.capture_url); renderSnippets() }
      $('status-stage').textContent = status.stage === 'none' ? 'nothing: keeping up' : status.stage
      $('status').className = 'card ' + (status.stage === 'none' ? 'stage-none' : 'stage-bad')
      $('status-summary').textContent = status.summary
      $('status-advice').replaceChildren(...status.advice.map((a) => el('li', { text: a })))
      $('status-because').replaceChildren(...status.because.map((a) => el('li', { text: a })))
      $('status-figures').textContent = JSON.stringify(status.figures, null, 2)
      const env = state.env
      if (!env) return
      const [stats, warnings] = await Promise.all([
        api('GET', '/api/environments/' + env.id + '/stats'),
        api('GET', '/api/environments/' + env.id + '/ingestion_warnings?limit=20'),
      ])
      if (state.env !== env) return
      renderChart(stats.events_per_minute)
      $('events-last-hour').textContent = String(stats.events_last_hour)
      $('last-event').textContent = stats.last_received_at ? 'received ' + stats.last_received_at.replace('T', ' ') : 'never'
      const out = (o) => Object.entries(o).map(([k, v]) => k + ' ' + v).join(', ') || 'none'
      $('instance-outcomes').textContent = 'This instance, all environments: dropped ' + out(stats.instance.dropped_by_reason) + '; dead letters ' + out(stats.instance.dead_letters_by_reason) + '.'
      $('warnings-list').replaceChildren(...(warnings.results.length ? warnings.results.map((w) => el('li', { text: w.timestamp.replace('T', ' ') + ' ' + w.type + ' ' + JSON.stringify(w.details) })) : [el('li', { text: 'No warnings.' })]))
      await loadEvents(false)
    } catch (e) {
      if (e.status !== 401) say('Refresh failed: ' + e.message, true)
    }
  }

  /** the capture port as reachable from this browser: same host name as the console */
  function captureUrlFor(serverUrl) {
    const u = new URL(serverUrl)
    return location.protocol + '//' + location.hostname + ':' + u.port
  }

  async function loadGroups() {
    const env = state.env
    if (!env) return
    const types = await api('GET', '/api/projects/' + env.project_id + '/group_types')
    const sel = $('group-type')
    const keep = sel.value
    sel.replaceChildren(el('option', { value: '', text: 'all types' }), ...types.results.map((t) => el('option', { value: String(t.group_type_index), text: t.group_type + ' (' + t.group_type_index + ')' })))
    sel.value = types.results.some((t) => String(t.group_type_index) === keep) ? keep : ''
    const q = new URLSearchParams({ limit: '50' })
    if (sel.value) q.set('group_type_index', sel.value)
    if ($('group-search').value.trim()) q.set('search', $('group-search').value.trim())
    const groups = await api('GET', '/api/environments/' + env.id + '/groups?' + q)
    $('groups-list').replaceChildren(...(groups.results.length ? groups.results.map((g) => el('li', {},
      el('button', { type: 'button', class: 'link', onclick: () => showGroup(g) , text: (g.group_type || g.group_type_index) + ': ' + g.group_key }))) : [el('li', { text: 'No groups yet ($groupidentify creates them).' })]))
  }

  async function showGroup(g) {
    const d = await api('GET', '/api/environments/' + state.env.id + '/groups/' + g.group_type_index + '/' + encodeURIComponent(g.group_key))
    $('group-detail').replaceChildren(
      el('h3', { text: (d.group_type || d.group_type_index) + ' ' + d.group_key }),
      el('p', { text: d.events_last_30_days + ' events in the last 30 days; created ' + d.created_at }),
      el('pre', { text: JSON.stringify(d.group_properties, null, 2) }),
      el('p', { text: 'Related users: ' + (d.distinct_ids.map((x) => x.distinct_id + ' (' + x.events + ')').join(', ') || 'none') }))
  }

  async function loadDefinitions() {
    const env = state.env
    if (!env) return
    const [events, props] = await Promise.all([
      api('GET', '/api/projects/' + env.project_id + '/event_definitions?limit=200'),
      api('GET', '/api/projects/' + env.project_id + '/property_definitions?limit=200'),
    ])
    const kinds = { 1: 'event', 2: 'person', 3: 'group' }
    $('event-definitions').replaceChildren(...(events.results.length ? events.results.map((d) => el('li', { text: d.name + ' (last seen ' + d.last_seen.slice(0, 10) + ')' })) : [el('li', { text: 'none yet' })]))
    $('property-definitions').replaceChildren(...(props.results.length ? props.results.map((d) => el('li', { text: d.name + ': ' + (d.property_type || 'no type yet') + ' (' + kinds[d.type] + (d.group_type_index === null ? '' : ' ' + d.group_type_index) + ')' })) : [el('li', { text: 'none yet' })]))
  }

  // --- wiring
  function on(id, event, fn) {
    $(id).addEventListener(event, async (e) => {
      if (event === 'submit') e.preventDefault()
      try { await fn(e) } catch (err) { if (err.status !== 401) say(err.message, true) }
    })
  }

  document.addEventListener('DOMContentLoaded', () => {
    on('signin-form', 'submit', () => signIn($('admin-key').value.trim()))
    on('logout', 'click', () => logout('Logged out.'))
    let searchTimer = 0
    $('project-search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadProjects(false).catch(() => {}), 250) })
    on('projects-more', 'click', () => loadProjects(true))
    on('project-select', 'change', () => selectProject(state.projects.find((p) => String(p.id) === $('project-select').value) || null))
    on('environment-select', 'change', () => selectEnvironment(state.project.environments.find((e) => String(e.id) === $('environment-select').value)))
    on('new-project-form', 'submit', async () => {
      try {
        const p = await api('POST', '/api/projects', { name: $('new-project-name').value.trim() })
        $('new-project-name').value = ''
        $('project-search').value = ''
        replaceProject(p)
        say('Project “' + p.name + '” created with its environment “' + p.environments[0].name + '”.')
      } catch (e) { if (e.status !== 401) say(explain(e, 'Creating the project'), true) }
    })
    on('new-environment-form', 'submit', async () => {
      try {
        const env = await api('POST', '/api/projects/' + state.project.id + '/environments', { name: $('new-environment-name').value.trim() })
        $('new-environment-name').value = ''
        replaceProject(await api('GET', '/api/projects/' + state.project.id), env.id)
        say('Environment “' + env.name + '” created; its token is below.')
      } catch (e) { if (e.status !== 401) say(explain(e, 'Creating the environment'), true) }
    })
    on('copy-token', 'click', () => copy($('api-token').value, 'Token'))
    on('copy-snippet-js', 'click', () => copy($('snippet-js').textContent, 'posthog-js snippet'))
    on('copy-snippet-node', 'click', () => copy($('snippet-node').textContent, 'posthog-node snippet'))
    on('copy-snippet-curl', 'click', () => copy($('snippet-curl').textContent, 'curl command'))
    on('rotate-token', 'click', async () => {
      if (!confirm('Rotate the token of “' + state.env.name + '”? SDKs still sending the old token will have their events dropped.')) return
      const env = await api('POST', '/api/environments/' + state.env.id + '/rotate_token')
      replaceProject(await api('GET', '/api/projects/' + state.project.id), env.id)
      say('Token rotated: the old one is no longer accepted.')
    })
    on('environment-form', 'submit', async () => {
      const older = $('drop-older').value.trim()
      try {
        const env = await api('PATCH', '/api/environments/' + state.env.id, {
          name: $('environment-name').value.trim(),
          settings: { anonymize_ips: $('anonymize-ips').checked, drop_events_older_than_seconds: older === '' ? null : Number(older) },
        })
        replaceProject(await api('GET', '/api/projects/' + state.project.id), env.id)
        say('Environment saved.')
      } catch (e) { if (e.status !== 401) say(explain(e, 'Saving the environment'), true) }
    })
    const lines = (id) => $(id).value.split('\n').map((s) => s.trim()).filter(Boolean)
    on('project-form', 'submit', async () => {
      try {
        const p = await api('PATCH', '/api/projects/' + state.project.id, {
          name: $('project-name').value.trim(),
          settings: { drop_event_names: lines('drop-event-names'), redact_property_names: lines('redact-property-names') },
        })
        replaceProject(p, state.env.id)
        say('Project saved.')
      } catch (e) { if (e.status !== 401) say(explain(e, 'Saving the project'), true) }
    })
    on('move-form', 'submit', async () => {
      const parent = Number($('move-parent').value)
      const out = $('move-result')
      try {
        const p = await api('POST', '/api/projects/' + state.project.id + '/move', { parent_project_id: parent })
        out.className = 'good'
        out.textContent = 'Moved: its environments now belong to project “' + p.name + '”.'
        await loadProjects(false, p.id)
      } catch (e) {
        out.className = 'bad'
        if (e.status === 409) {
          out.textContent = 'This project cannot be moved under project ' + parent + '. ' + e.message + '. ' +
            'Environments of one project must agree on every group type and its index (0–4), or analyses would mix different groups; ' +
            'a project already moved, or one that has environments of its own, cannot be nested either.'
        } else out.textContent = explain(e, 'Moving the project')
      }
    })
    on('events-filter', 'submit', () => { state.eventsNext = null; state.olderLoaded = false; $('events-table').tBodies[0].replaceChildren(); return loadEvents(false) })
    on('events-more', 'click', () => loadEvents(true))
    on('groups-filter', 'submit', () => loadGroups())
    if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY))
  })
})()
