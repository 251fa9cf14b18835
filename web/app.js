// drover's dashboard: one page, hash routes, plain JavaScript over the JSON API (/api/v1).
// Nothing is fetched from elsewhere. The token is kept in this tab's sessionStorage and
// sent as `Authorization: Bearer`, never in a URL; streams (logs, events) are read with
// fetch() for the same reason (EventSource cannot send a header).
//
// Each page is an object {render(), refresh(), stop()}: render() draws its frame once,
// refresh() fetches and redraws its data (every kRefreshMs while shown: a few updates a
// second at most), stop() ends its streams. Tables of unbounded size are paged (workers,
// jobs), so 1,000 workers or 100,000 jobs never land in the DOM at once.
// web/CONTRACT.md lists the element ids and attributes the browser tests rely on.
'use strict';

const kRefreshMs = 2000;       // a page's data
const kChartRefreshMs = 5000;  // the charts' history
const kLogKeep = 2000;         // log lines kept on the logs page (scroll back)
const kEventKeep = 300;        // engine events kept for the pages that show them
const kPageRows = 100;         // workers per page
const kJobRows = 50;           // jobs per page

const $ = (sel, root = document) => root.querySelector(sel);
// Replaces an element's content only when it changed: a refresh that finds the same data
// leaves the DOM (a selection, a hovered row, a test's element) alone.
const shownHtml = new WeakMap();
function setHtml(el, html) {
  if (!el || shownHtml.get(el) === html) return;
  el.innerHTML = html;
  shownHtml.set(el, html);
}
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const num = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v)) ? '–' : Number(v).toFixed(digits);

function dur(s) {
  if (s === null || s === undefined || s < 0 || Number.isNaN(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
const bytes = (b) => b == null ? '–' : b < 1 << 20 ? `${(b / 1024).toFixed(0)} KB` : b < 1 << 30 ? `${(b / 1048576).toFixed(1)} MB` : `${(b / 1073741824).toFixed(2)} GB`;
const when = (ms) => ms ? new Date(ms).toLocaleString() : '–';
const clock = (ms) => new Date(ms).toLocaleTimeString();

// ---- the API --------------------------------------------------------------------------

const token = {
  get: () => sessionStorage.getItem('drover-token') || '',
  set: (t) => sessionStorage.setItem('drover-token', t),
  clear: () => sessionStorage.removeItem('drover-token'),
};

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function api(method, path, body) {
  const init = {method, headers: {Authorization: `Bearer ${token.get()}`}, cache: 'no-store'};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (_) { /* a body that is not JSON */ }
  if (res.status === 401) { loggedOut('the token was refused'); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const get = (path) => api('GET', path);
// A route this drover does not serve (no job queue: 501) reads as nothing.
const getOptional = (path) => get(path).catch((e) => { if (e.status === 501 || e.status === 404) return null; throw e; });

// A Server-Sent Events stream over fetch: onItem(eventName, data) for each message, until
// stop() or the stream ends (then it reconnects after a second, unless stopped).
function stream(path, onItem) {
  let stopped = false;
  let ctl = null;
  (async function run() {
    while (!stopped) {
      ctl = new AbortController();
      try {
        const res = await fetch(path, {headers: {Authorization: `Bearer ${token.get()}`}, signal: ctl.signal, cache: 'no-store'});
        if (res.status === 401) { loggedOut('the token was refused'); return; }
        if (!res.ok) throw new ApiError(res.status, null);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += decoder.decode(value, {stream: true});
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const msg = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = 'message';
            const data = [];
            for (const line of msg.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (!data.length) continue;  // a keep-alive comment
            try { onItem(event, JSON.parse(data.join('\n'))); } catch (e) { console.error(e); }
          }
        }
      } catch (e) {
        if (stopped) return;
        showError(`stream ${path}: ${e.message}`);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {stop() { stopped = true; if (ctl) ctl.abort(); }};
}

// ---- shell: login, errors, the live mark, routing --------------------------------------

function showError(text) {
  const el = $('#error');
  el.textContent = text;
  el.hidden = !text;
}

function markLive() {
  const live = $('#live');
  live.dataset.updates = String(Number(live.dataset.updates) + 1);
  live.className = 'on';
  live.title = `updated ${clock(Date.now())}`;
  clearTimeout(markLive.timer);
  markLive.timer = setTimeout(() => { live.className = 'stale'; }, kRefreshMs * 3);
}

function loggedOut(why) {
  token.clear();
  stopPage();
  events.stop();
  events.items = [];
  $('#login').hidden = false;
  $('#nav').hidden = true;
  $('#logout').hidden = true;
  $('#view').innerHTML = '';
  document.body.dataset.page = 'login';
  $('#login-error').textContent = why || '';
  $('#token').focus();
}

async function login(t) {
  token.set(t);
  try {
    await get('/api/v1/pools');
  } catch (e) {
    if (e.status !== 401) { $('#login-error').textContent = e.message; token.clear(); }
    return;
  }
  $('#login').hidden = true;
  $('#nav').hidden = false;
  $('#logout').hidden = false;
  $('#login-error').textContent = '';
  if (document.hidden) return;  // a tab opened behind others starts when it is shown
  events.start();
  route();
}

// The engine's events since the page opened (exits, autoscale decisions, jobs), one
// stream for every page that shows them.
const events = {
  items: [], listeners: new Set(), handle: null,
  start() {
    if (this.handle) return;
    this.handle = stream('/api/v1/events', (kind, e) => {
      e.kind = e.kind || kind;
      this.items.push(e);
      if (this.items.length > kEventKeep) this.items.shift();
      for (const fn of this.listeners) fn(e);
    });
  },
  stop() { if (this.handle) this.handle.stop(); this.handle = null; },
  of(pool, kinds) { return this.items.filter((e) => (!pool || e.pool === pool) && (!kinds || kinds.includes(e.kind))); },
};

let page = null;
let timers = [];

function stopPage() {
  for (const t of timers) clearInterval(t);
  timers = [];
  refreshNow = null;
  if (page && page.stop) page.stop();
  page = null;
}

// Runs fn now and every `ms` while the page is shown; marks live data on success.
// A run still waiting for its answer is not doubled: a slow drover gets one request at a
// time from each view, never a pile.
// Returns the runner, for a refresh out of turn.
function every(ms, fn) {
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try { await fn(); showError(''); markLive(); } catch (e) { if (e.status !== 401) showError(e.message); } finally { busy = false; }
  };
  run();
  timers.push(setInterval(run, ms));
  return run;
}

// An engine event that changes what pages show (a resize, a spawn, an exit, a decision)
// refreshes the page shown at once rather than at its next turn, at most every 250 ms.
let refreshNow = null;
let refreshSoon = 0;
const kRefreshingKinds = ['resized', 'spawned', 'exited', 'autoscaled', 'pool-added', 'pool-removed', 'stopping', 'job-dead'];
function onEngineEvent(e) {
  if (!refreshNow || !kRefreshingKinds.includes(e.kind) || refreshSoon) return;
  refreshSoon = setTimeout(() => { refreshSoon = 0; if (refreshNow) refreshNow(); }, 250);
}

// A hidden tab lets go of its streams and timers, and takes them up again when shown:
// a browser keeps at most 6 connections to one server, across all its tabs, and each
// shown page holds one or two streams.
function onVisibility() {
  if (!token.get() || $('#login').hidden === false) return;
  if (document.hidden) {
    stopPage();
    events.stop();
  } else if (!page) {
    events.start();
    route();
  }
}

const routes = [
  [/^#?\/?$/, 'overview', () => overviewPage()],
  [/^#\/pool\/(.+)$/, 'pool', (m) => poolPage(decodeURIComponent(m[1]))],
  [/^#\/logs$/, 'logs', () => logsPage()],
  [/^#\/autoscaler$/, 'autoscaler', () => autoscalerPage()],
  [/^#\/jobs$/, 'jobs', () => jobsPage()],
  [/^#\/jobs\/(\d+)$/, 'job', (m) => jobPage(Number(m[1]))],
  [/^#\/schedules$/, 'schedules', () => schedulesPage()],
  [/^#\/fleet$/, 'fleet', () => fleetPage()],
];

function route() {
  if (!token.get()) return loggedOut('');
  stopPage();
  showError('');
  const hash = location.hash || '#/';
  for (const [re, name, make] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    document.body.dataset.page = name;
    const nav = name === 'pool' ? 'overview' : name === 'job' ? 'jobs' : name;
    for (const a of $$('#nav a')) a.classList.toggle('active', a.dataset.nav === nav);
    page = make(m);
    $('#view').innerHTML = page.frame;
    if (page.bind) page.bind();
    if (page.refresh) refreshNow = every(kRefreshMs, () => page.refresh());
    if (page.charts) every(kChartRefreshMs, () => page.charts());
    return;
  }
  $('#view').innerHTML = `<h1>Not found</h1><p>No page ${esc(hash)}. <a href="#/">Overview</a></p>`;
}

// ---- charts (hand-written SVG) -------------------------------------------------------

// The history range shown, in minutes (the overview's select; 60 or 5).
let rangeMinutes = Number(sessionStorage.getItem('drover-range') || 60);

async function history(pool) {
  rangeMinutes = Number(sessionStorage.getItem('drover-range') || rangeMinutes);  // another view's choice
  const every = rangeMinutes >= 60 ? 30 : 2;  // 120 or 150 points a series: a chart is ~600 px wide
  const since = Date.now() - rangeMinutes * 60000;
  return get(`/api/v1/history?since=${since}&every=${every}${pool ? `&pool=${encodeURIComponent(pool)}` : ''}`);
}

// series: [{label, values}]; marks: [{i, title}] drawn as dots on the first series.
function chart(name, title, t, series, marks = []) {
  const W = 600, H = 150, L = 40, R = 8, T = 8, B = 18;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = max > 0 ? max * 1.1 : 1;
  const n = t.length;
  const x = (i) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : 0);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const lines = series.map((s, k) => {
    // A null (no sample) breaks the line.
    const parts = [];
    let cur = [];
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { if (cur.length) parts.push(cur); cur = []; return; }
      cur.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    if (cur.length) parts.push(cur);
    return parts.map((p) => `<polyline class="s${k % 5}" points="${p.join(' ')}"/>`).join('');
  }).join('');
  const dots = marks.map((m) => {
    const v = series[0].values[m.i];
    return v === null || v === undefined ? '' : `<circle class="decision" r="3" cx="${x(m.i).toFixed(1)}" cy="${y(v).toFixed(1)}"><title>${esc(m.title)}</title></circle>`;
  }).join('');
  const top = max / 1.1;
  const labels = n ? `<text x="${L}" y="${H - 4}">${esc(clock(t[0]))}</text><text x="${W - R}" y="${H - 4}" text-anchor="end">${esc(clock(t[n - 1]))}</text>` : '';
  const legend = series.map((s, k) => `<span><i class="s${k % 5}"></i>${esc(s.label)}</span>`).join('');
  return `<div class="card"><h3>${esc(title)}</h3>
    <svg class="chart" data-chart="${esc(name)}" viewBox="0 0 ${W} ${H}">
      <line class="axis" x1="${L}" y1="${y(0)}" x2="${W - R}" y2="${y(0)}"/>
      <text x="${L - 4}" y="${T + 8}" text-anchor="end">${esc(num(top, top < 10 ? 1 : 0))}</text>
      <text x="${L - 4}" y="${y(0)}" text-anchor="end">0</text>${lines}${dots}${labels}
    </svg><div class="legend">${legend}</div></div>`;
}

const sumSeries = (list, field, n) => {
  const out = new Array(n).fill(null);
  for (const s of list) s[field].forEach((v, i) => { if (v !== null) out[i] = (out[i] || 0) + v; });
  return out;
};

function rangeSelect() {
  return `<label>Charts over <select id="range"><option value="60">the last hour</option><option value="5">5 minutes</option></select></label>`;
}
function bindRange(redraw) {
  const sel = $('#range');
  sel.value = String(rangeMinutes);
  sel.onchange = () => { rangeMinutes = Number(sel.value); sessionStorage.setItem('drover-range', sel.value); redraw(); };
}

// ---- overview -------------------------------------------------------------------------

function overviewPage() {
  const p = {
    frame: `<h1>Pools</h1>
      <table id="pools"><thead><tr><th>pool</th><th class="num">target</th><th class="num">running</th>
      <th class="num">busy</th><th class="num">idle</th><th class="num">restarts</th><th class="num">stalls</th>
      <th>flapping</th><th class="num">queue</th><th class="num">age</th><th>state</th></tr></thead>
      <tbody></tbody><tfoot id="totals"></tfoot></table>
      <div class="bar">${rangeSelect()}</div>
      <div class="cards" id="charts"></div>
      <h2>Latest events</h2><div class="events" id="events"></div>`,
    bind() {
      bindRange(() => p.charts());
      const draw = () => { setHtml($('#events'), eventLines(events.items.slice(-30).reverse())); };
      draw();
      p.onEvent = draw;
      events.listeners.add(draw);
    },
    stop() { events.listeners.delete(p.onEvent); },
    async refresh() {
      const [pools, topics] = await Promise.all([get('/api/v1/pools'), getOptional('/api/v1/topics')]);
      const ages = {};
      for (const t of (topics && topics.topics) || []) ages[t.topic] = t;
      const tot = {target: 0, running: 0, busy: 0, idle: 0, restarts: 0, stalls: 0, queue: 0};
      const rows = pools.pools.map((q) => {
        flat(q);
        const topic = ages[q.name];  // a jobs pool runs the topic of its name
        const depth = q.depth ?? (topic ? topic.queued : null);
        const age = topic ? topic.oldest_age : null;
        for (const k of ['target', 'running', 'busy', 'idle', 'restarts', 'stalls']) tot[k] += q[k] || 0;
        tot.queue += depth || 0;
        const state = !q.enabled ? '<span class="dim">stopped</span>' : q.removing ? 'removing' : q.rolling ? 'rolling' : '<span class="good">on</span>';
        return `<tr data-pool="${esc(q.name)}"><td><a href="#/pool/${encodeURIComponent(q.name)}">${esc(q.name)}</a></td>
          <td class="num target">${q.target}</td><td class="num running">${q.running}</td><td class="num busy">${q.busy}</td>
          <td class="num idle">${q.idle}</td><td class="num restarts">${q.restarts}</td><td class="num stalls">${q.stalls}</td>
          <td class="flapping ${q.flapping ? 'bad' : ''}">${q.flapping ? `${q.flapping} slot(s)` : ''}</td>
          <td class="num queue">${depth == null ? '–' : depth}</td><td class="num age">${age == null ? '–' : dur(age)}</td><td>${state}</td></tr>`;
      });
      setHtml($('#pools tbody'), rows.join('') || '<tr><td colspan="11" class="dim">no pools</td></tr>');
      setHtml($('#totals'), `<tr class="total"><td>${pools.pools.length} pools</td><td class="num">${tot.target}</td>
        <td class="num">${tot.running}</td><td class="num">${tot.busy}</td><td class="num">${tot.idle}</td>
        <td class="num">${tot.restarts}</td><td class="num">${tot.stalls}</td><td></td><td class="num">${tot.queue}</td><td></td><td></td></tr>`);
    },
    async charts() {
      const h = await history();
      const n = h.t_ms.length;
      const pools = h.pools.slice(0, 5);
      const cards = [
        chart('workers', 'Workers per pool', h.t_ms, pools.map((s) => ({label: s.pool, values: s.running}))),
        chart('queue', 'Queue depth', h.t_ms, [...pools.filter((s) => s.queue.some((v) => v !== null)).map((s) => ({label: s.pool, values: s.queue})),
          ...h.topics.slice(0, 3).map((s) => ({label: `${s.topic} queued`, values: s.queued}))].slice(0, 5).concat(
          h.topics.length ? [{label: 'oldest age (s)', values: sumSeries(h.topics, 'oldest_age', n)}] : [])),
        chart('jobs', 'Jobs per second', h.t_ms, [{label: 'done', values: sumSeries(h.topics, 'done', n)}, {label: 'failed', values: sumSeries(h.topics, 'failed', n)}]),
        chart('runtime', 'Job run time (s)', h.t_ms, h.topics.slice(0, 2).flatMap((s) => [{label: `${s.topic} p50`, values: s.run_p50}, {label: `${s.topic} p95`, values: s.run_p95}])),
        chart('restarts', 'Restarts per second', h.t_ms, [{label: 'all pools', values: sumSeries(h.pools, 'restarts', n)}]),
        chart('cpu', 'CPU per pool (cores)', h.t_ms, pools.map((s) => ({label: s.pool, values: s.cpu || []}))),
      ];
      setHtml($('#charts'), cards.join(''));
    },
  };
  return p;
}

// A pool's counters and queue gauge, beside its other fields.
function flat(q) {
  Object.assign(q, q.counters || {});
  q.depth = q.queue && q.queue.depth !== undefined ? q.queue.depth : null;
  return q;
}

function eventLines(list) {
  if (!list.length) return '<span class="dim">none since this page opened</span>';
  return list.map((e) => {
    const cls = /exit|fail|stall|flap|gave|dead|warning/i.test(e.kind) ? 'bad' : /autoscal|resiz/i.test(e.kind) ? 'warn' : '';
    return `<div><span class="dim">${esc(clock(e.time_ms))}</span> <b class="${cls}">${esc(e.kind)}</b> ${esc(e.pool)}${e.slot >= 0 && e.pid ? `.${e.slot}` : ''} ${esc(e.text)}</div>`;
  }).join('');
}

// ---- one pool -------------------------------------------------------------------------

function poolPage(name) {
  let offset = 0;
  let total = 0;
  const enc = encodeURIComponent(name);
  const p = {
    frame: `<h1>Pool <span id="pool-name">${esc(name)}</span></h1>
      <div class="bar">
        <label>Workers <input id="resize-n" type="number" min="0" max="100000"></label>
        <button id="resize">Resize</button>
        <button id="pool-start">Start</button><button id="pool-stop" class="danger">Stop</button>
        <label>Signal <select id="signal-name">${['HUP', 'TERM', 'INT', 'USR1', 'USR2', 'QUIT', 'KILL', 'TTIN', 'TTOU'].map((s) => `<option>${s}</option>`).join('')}</select></label>
        <a href="#/logs?pool=${enc}" id="pool-logs">Logs</a>
      </div>
      <dl class="kv" id="pool-facts"></dl>
      <h2>Workers</h2>
      <div class="pager"><button id="prev">‹</button><span id="page-info"></span><button id="next">›</button></div>
      <table id="workers"><thead><tr><th class="num">slot</th><th class="num">pid</th><th>state</th><th class="num">uptime</th>
        <th class="num">heartbeat</th><th>busy</th><th>status</th><th class="num">progress</th><th class="num">cpu</th>
        <th class="num">rss</th><th class="num">restarts</th><th>last exit</th><th></th></tr></thead><tbody></tbody></table>
      <h2>Recent exits</h2>
      <table id="exits"><thead><tr><th>when</th><th class="num">slot</th><th class="num">pid</th><th>reason</th></tr></thead><tbody></tbody></table>
      <div class="cards" id="charts"></div>`,
    bind() {
      const act = async (fn) => { try { await fn(); showError(''); await p.refresh(); } catch (e) { showError(e.message); } };
      $('#resize').onclick = () => act(() => api('PATCH', `/api/v1/pools/${enc}`, {n: Number($('#resize-n').value)}));
      $('#pool-start').onclick = () => act(() => api('PATCH', `/api/v1/pools/${enc}`, {enabled: true}));
      $('#pool-stop').onclick = () => act(() => api('PATCH', `/api/v1/pools/${enc}`, {enabled: false}));
      $('#prev').onclick = () => { offset = Math.max(0, offset - kPageRows); p.refresh(); };
      $('#next').onclick = () => { if (offset + kPageRows < total) offset += kPageRows; p.refresh(); };
      $('#workers').onclick = (ev) => {
        const b = ev.target.closest('button.signal');
        if (!b) return;
        act(() => api('POST', `/api/v1/pools/${enc}/workers/${b.dataset.slot}/signal`, {signal: $('#signal-name').value}));
      };
    },
    // The engine's own lines in the pool's log say each exit with its reason.
    drawExits(lines) {
      const list = lines.filter((l) => l.stream === 'engine' && /\b(exited|killed-after-grace|stalled|spawn-failed|gave-up|flapping)\b/.test(l.text)).slice(-50).reverse();
      setHtml($('#exits tbody'), list.map((l) => `<tr><td>${esc(clock(l.time_ms))}</td><td class="num">${l.slot >= 0 ? l.slot : ''}</td>
        <td class="num">${l.pid || ''}</td><td>${esc(l.text)}</td></tr>`).join('') ||
        '<tr><td colspan="4" class="dim">none in the recent log</td></tr>');
    },
    async refresh() {
      const [q, usage, log] = await Promise.all([get(`/api/v1/pools/${enc}`), getOptional(`/api/v1/pools/${enc}/usage`),
        get(`/api/v1/log?n=500&pool=${enc}`)]);
      p.drawExits(log.lines);
      flat(q);
      const input = $('#resize-n');
      if (document.activeElement !== input && input.dataset.shown !== String(q.n)) { input.value = q.n; input.dataset.shown = String(q.n); }
      setHtml($('#pool-facts'), `<dt>command</dt><dd><code>${esc((q.cmd || []).join(' '))}</code></dd>
        <dt>state</dt><dd>${q.enabled ? 'on' : 'stopped'}${q.rolling ? ', rolling' : ''}</dd>
        <dt>workers</dt><dd>${q.running} running of ${q.target}, ${q.busy} busy, ${q.idle} idle, ${q.starting} starting, ${q.stopping} stopping, ${q.backoff} in backoff</dd>
        <dt>restarts</dt><dd>${q.restarts} (${q.stalls} stalls, ${q.exits_bad} bad exits)</dd>
        ${q.depth != null ? `<dt>queue</dt><dd>${q.depth}</dd>` : ''}
        ${usage ? `<dt>usage</dt><dd>${num(usage.cpu, 2)} cores, ${bytes(usage.rss_bytes)} in ${usage.processes} processes</dd>` : ''}`);
      const byPid = {};
      for (const w of (usage && usage.workers) || []) byPid[w.pid] = w;
      const workers = q.workers || [];
      total = workers.length;
      if (offset >= total) offset = Math.max(0, Math.floor((total - 1) / kPageRows) * kPageRows);
      $('#page-info').textContent = total > kPageRows ? `${offset + 1}–${Math.min(total, offset + kPageRows)} of ${total}` : `${total}`;
      setHtml($('#workers tbody'), workers.slice(offset, offset + kPageRows).map((w) => {
        const u = byPid[w.pid];
        const hb = w.heartbeat_age == null ? '–' : `${dur(w.heartbeat_age)} ago`;
        return `<tr data-slot="${w.slot}"><td class="num">${w.slot}</td><td class="num pid">${w.pid || ''}</td><td>${esc(w.state)}</td>
          <td class="num uptime">${w.pid ? dur(w.uptime) : '–'}</td><td class="num heartbeat">${hb}</td><td>${w.busy ? esc(`busy (${w.busy_from || 'heartbeat'})`) : ''}</td>
          <td class="status wrap">${esc(w.status)}</td><td class="num">${w.progress ? num(w.progress * 100) + '%' : ''}</td>
          <td class="num cpu">${u ? num(u.cpu, 2) : '–'}</td><td class="num rss">${u ? bytes(u.rss_bytes) : '–'}</td>
          <td class="num">${w.restarts}</td><td>${esc(w.last_exit)}</td>
          <td>${w.pid ? `<button class="signal" data-slot="${w.slot}">signal</button>` : ''}</td></tr>`;
      }).join('') || '<tr><td colspan="13" class="dim">no workers</td></tr>');
    },
    async charts() {
      const h = await history(name);
      const s = h.pools.find((x) => x.pool === name);
      if (!s) return;
      setHtml($('#charts'), chart('workers', 'Workers', h.t_ms, [{label: 'target', values: s.target}, {label: 'running', values: s.running}, {label: 'busy', values: s.busy}]) +
        chart('queue', 'Queue depth', h.t_ms, [{label: 'queue', values: s.queue}]) +
        chart('restarts', 'Restarts per second', h.t_ms, [{label: 'restarts', values: s.restarts}]) +
        chart('cpu', 'CPU (cores)', h.t_ms, [{label: 'cpu', values: s.cpu || []}]) +
        chart('rss', 'Memory (MB)', h.t_ms, [{label: 'rss', values: (s.rss_bytes || []).map((v) => v === null ? null : v / 1048576)}]));
    },
  };
  return p;
}

// ---- logs -----------------------------------------------------------------------------

function logsPage() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let pool = params.get('pool') || '';
  let filter = '';
  let paused = false;
  let held = [];
  let handle = null;
  const p = {
    frame: `<h1>Logs</h1>
      <div class="bar"><label>Pool <select id="log-pool"><option value="">all</option></select></label>
        <input id="log-filter" placeholder="filter text" size="30">
        <button id="log-pause">Pause</button><span id="log-held" class="dim"></span></div>
      <div id="log-lines"></div>`,
    bind() {
      const sel = $('#log-pool');
      get('/api/v1/pools').then((r) => {
        for (const q of r.pools) sel.insertAdjacentHTML('beforeend', `<option value="${esc(q.name)}">${esc(q.name)}</option>`);
        sel.value = pool;
      }).catch((e) => showError(e.message));
      sel.onchange = () => { pool = sel.value; follow(); };
      $('#log-filter').oninput = (ev) => { filter = ev.target.value; for (const d of $$('#log-lines .line')) d.hidden = !matches(d.textContent); };
      $('#log-pause').onclick = () => {
        paused = !paused;
        $('#log-pause').textContent = paused ? 'Resume' : 'Pause';
        if (!paused) { append(held); held = []; $('#log-held').textContent = ''; }
      };
      follow();
    },
    stop() { if (handle) handle.stop(); },
  };
  const matches = (text) => !filter || text.toLowerCase().includes(filter.toLowerCase());
  function lineHtml(l) {
    const who = l.pool ? (l.slot >= 0 ? `${l.pool}.${l.slot}` : l.pool) : 'drover';
    return `<div class="line ${esc(l.stream)}"${matches(`${who} ${l.text}`) ? '' : ' hidden'}><span class="meta">${esc(clock(l.time_ms))} ${esc(who)}</span> ${esc(l.text)}</div>`;
  }
  function append(lines) {
    if (!lines.length) return;
    const box = $('#log-lines');
    if (!box) return;
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.insertAdjacentHTML('beforeend', lines.map(lineHtml).join(''));
    const extra = box.children.length - kLogKeep;
    for (let i = 0; i < extra; i++) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
    markLive();
  }
  // Lines of a burst arrive as separate messages: draw them once a frame.
  let pending = [];
  const flush = () => { const l = pending; pending = []; append(l); };  // follow() empties pending on a new pool
  // A change of pool while the tail is on its way starts over: only the newest follow()
  // draws and streams.
  let generation = 0;
  async function follow() {
    const mine = ++generation;
    if (handle) handle.stop();
    handle = null;
    pending = [];
    held = [];
    $('#log-lines').innerHTML = '';
    const q = pool ? `pool=${encodeURIComponent(pool)}` : '';
    try {
      const tail = await get(`/api/v1/log?n=200${q ? '&' + q : ''}`);
      if (mine !== generation) return;
      append(tail.lines);
    } catch (e) { showError(e.message); }
    if (mine !== generation) return;
    handle = stream(`/api/v1/log/follow${q ? '?' + q : ''}`, (_, l) => {
      if (mine !== generation) return;  // a stopped stream's last chunk
      if (paused) { held.push(l); $('#log-held').textContent = `${held.length} new lines held`; return; }
      if (!pending.length) requestAnimationFrame(flush);
      pending.push(l);
    });
  }
  return p;
}

// ---- the autoscaler -------------------------------------------------------------------

function autoscalerPage() {
  const p = {
    frame: `<h1>Autoscaler</h1>
      <table id="policies"><thead><tr><th>pool</th><th>enabled</th><th class="num">min</th><th class="num">max</th>
      <th class="num">every</th><th class="num">queue</th><th class="num">answer</th><th>reason</th><th class="num">runs</th>
      <th class="num">changes</th><th>last error</th><th></th></tr></thead><tbody></tbody></table>
      <p id="budget" class="dim"></p>
      <div class="bar">${rangeSelect()}</div>
      <div class="cards" id="charts"></div>
      <h2>Decisions</h2><div class="events" id="decisions"></div>`,
    bind() {
      bindRange(() => p.charts());
      $('#policies').onclick = async (ev) => {
        const b = ev.target.closest('button.toggle');
        if (!b) return;
        try { await api('POST', `/api/v1/autoscale/${encodeURIComponent(b.dataset.pool)}/${b.dataset.to}`); await p.refresh(); } catch (e) { showError(e.message); }
      };
      p.onEvent = (e) => { if (e.kind === 'autoscaled' || e.kind === 'policy-warning') p.drawDecisions(); };
      events.listeners.add(p.onEvent);
      p.drawDecisions();
    },
    stop() { events.listeners.delete(p.onEvent); },
    drawDecisions() {
      setHtml($('#decisions'), eventLines(events.of(null, ['autoscaled', 'policy-warning', 'resized']).slice(-50).reverse()));
    },
    async refresh() {
      const v = await getOptional('/api/v1/autoscale');
      const list = (v && v.policies) || [];
      setHtml($('#policies tbody'), list.map((a) => `<tr data-pool="${esc(a.pool)}"><td><a href="#/pool/${encodeURIComponent(a.pool)}">${esc(a.pool)}</a></td>
        <td class="${a.enabled ? 'good' : 'dim'}">${a.enabled ? (a.suspended ? 'suspended' : 'on') : 'off'}</td>
        <td class="num">${a.min}</td><td class="num">${a.max}</td><td class="num">${dur(a.every)}</td><td class="num">${a.queue == null ? '–' : a.queue}</td>
        <td class="num answer">${a.recommended == null ? '–' : a.recommended}</td><td class="reason wrap">${esc(a.last_reason)}</td>
        <td class="num">${a.runs}</td><td class="num">${a.changes}</td><td class="bad wrap">${esc(a.last_error)}</td>
        <td><button class="toggle" data-pool="${esc(a.pool)}" data-to="${a.enabled ? 'off' : 'on'}">${a.enabled ? 'turn off' : 'turn on'}</button></td></tr>`).join('') ||
        '<tr><td colspan="12" class="dim">no policies: load one with autoscale{} in the config or the shell</td></tr>');
      $('#budget').textContent = v && v.budget ? `budget: ${JSON.stringify(v.budget)}` : '';
      p.pools = list.map((a) => a.pool);
    },
    async charts() {
      const h = await history();
      const pools = (p.pools && p.pools.length ? h.pools.filter((s) => p.pools.includes(s.pool)) : h.pools).slice(0, 4);
      // A decision is a change of target; its reason, when the event stream saw it.
      setHtml($('#charts'), pools.map((s) => {
        const marks = [];
        for (let i = 1; i < s.target.length; i++) {
          if (s.target[i] !== null && s.target[i - 1] !== null && s.target[i] !== s.target[i - 1]) {
            const e = events.of(s.pool, ['autoscaled']).find((x) => Math.abs(x.time_ms - h.t_ms[i]) < 1500 * h.step);
            marks.push({i, title: `${clock(h.t_ms[i])}: ${s.target[i - 1]} -> ${s.target[i]}${e ? ' ' + e.text : ''}`});
          }
        }
        return chart('decisions', `${s.pool}: target over queue depth`, h.t_ms, [{label: 'target', values: s.target}, {label: 'queue', values: s.queue}, {label: 'running', values: s.running}], marks);
      }).join('') || '<p class="dim">no history yet</p>');
    },
  };
  return p;
}

// ---- jobs -----------------------------------------------------------------------------

function jobsPage() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let state = params.get('state') || '';
  let topic = params.get('topic') || '';
  const afters = [0];  // the keyset pages walked so far
  let last = 0;
  const p = {
    frame: `<h1>Jobs</h1>
      <table id="topics"><thead><tr><th>topic</th><th class="num">queued</th><th class="num">scheduled</th><th class="num">running</th>
      <th class="num">done</th><th class="num">failed</th><th class="num">dead</th><th class="num">cancelled</th><th class="num">oldest</th></tr></thead><tbody></tbody></table>
      <div class="bar"><label>State <select id="job-state">${['', 'queued', 'running', 'done', 'failed', 'dead', 'cancelled'].map((s) => `<option value="${s}">${s || 'any'}</option>`).join('')}</select></label>
        <label>Topic <input id="job-topic" size="14"></label>
        <button id="retry-all-dead">Retry all dead</button></div>
      <div class="pager"><button id="prev">‹</button><span id="page-info"></span><button id="next">›</button></div>
      <table id="jobs"><thead><tr><th class="num">id</th><th>topic</th><th>state</th><th class="num">attempt</th>
      <th>created</th><th class="num">ran</th><th>worker</th><th>error / result</th></tr></thead><tbody></tbody></table>`,
    bind() {
      $('#job-state').value = state;
      $('#job-topic').value = topic;
      const reset = () => { afters.length = 1; p.refresh(); };
      $('#job-state').onchange = (ev) => { state = ev.target.value; reset(); };
      $('#job-topic').onchange = (ev) => { topic = ev.target.value.trim(); reset(); };
      $('#prev').onclick = () => { if (afters.length > 1) afters.pop(); p.refresh(); };
      $('#next').onclick = () => { if (last) { afters.push(last); p.refresh(); } };
      $('#retry-all-dead').onclick = async () => {
        try {
          const r = await api('POST', '/api/v1/jobs/retry', topic ? {topic} : {});
          showError('');
          $('#page-info').textContent = `${r.retried} dead jobs queued again`;
          await p.refresh();
        } catch (e) { showError(e.message); }
      };
      $('#topics').onclick = (ev) => {
        const tr = ev.target.closest('tr[data-topic]');
        if (!tr) return;
        topic = tr.dataset.topic;
        $('#job-topic').value = topic;
        const cell = ev.target.closest('td[data-state]');
        if (cell) { state = cell.dataset.state; $('#job-state').value = state; }
        reset();
      };
    },
    async refresh() {
      const q = [`limit=${kJobRows}`];
      if (afters[afters.length - 1]) q.push(`after=${afters[afters.length - 1]}`);
      if (state) q.push(`state=${state}`);
      if (topic) q.push(`topic=${encodeURIComponent(topic)}`);
      const [topics, list] = await Promise.all([getOptional('/api/v1/topics'), getOptional(`/api/v1/jobs?${q.join('&')}`)]);
      if (!topics) { setHtml($('#topics tbody'), '<tr><td colspan="9" class="dim">this drover has no job queue</td></tr>'); return; }
      const cell = (t, s) => `<td class="num" data-state="${s}" title="show ${s} jobs"><span class="link">${t[s]}</span></td>`;
      setHtml($('#topics tbody'), topics.topics.map((t) => `<tr data-topic="${esc(t.topic)}"><td>${esc(t.topic)}</td>${cell(t, 'queued')}
        <td class="num">${t.scheduled}</td>${cell(t, 'running')}${cell(t, 'done')}${cell(t, 'failed')}${cell(t, 'dead')}${cell(t, 'cancelled')}
        <td class="num">${dur(t.oldest_age)}</td></tr>`).join('') || '<tr><td colspan="9" class="dim">no jobs yet</td></tr>');
      const jobs = list.jobs;
      last = jobs.length === kJobRows ? jobs[jobs.length - 1].id : 0;
      $('#page-info').textContent = `page ${afters.length}${jobs.length ? `: jobs ${jobs[0].id}–${jobs[jobs.length - 1].id}` : ''}`;
      setHtml($('#jobs tbody'), jobs.map((j) => `<tr data-job="${j.id}"><td class="num"><a href="#/jobs/${j.id}">${j.id}</a></td>
        <td>${esc(j.topic)}</td><td class="state ${j.state === 'dead' || j.state === 'failed' ? 'bad' : j.state === 'done' ? 'good' : ''}">${esc(j.state)}</td>
        <td class="num">${j.attempt}/${j.max_attempts}</td><td>${esc(when(j.created_ms))}</td>
        <td class="num">${j.started_ms && j.finished_ms ? dur((j.finished_ms - j.started_ms) / 1000) : ''}</td><td>${esc(j.worker)}</td>
        <td class="wrap">${esc(String(j.error || j.result || '').slice(0, 120))}</td></tr>`).join('') ||
        '<tr><td colspan="8" class="dim">no jobs here</td></tr>');
    },
  };
  return p;
}

function jobPage(id) {
  const p = {
    frame: `<h1>Job ${id}</h1>
      <div class="bar"><button id="job-retry">Retry</button><button id="job-cancel">Cancel</button>
        <button id="job-drop" class="danger">Drop</button><a href="#/jobs">all jobs</a></div>
      <div id="job-detail"></div>`,
    bind() {
      const act = async (method, path) => { try { await api(method, path); showError(''); await p.refresh(); } catch (e) { showError(e.message); } };
      $('#job-retry').onclick = () => act('POST', `/api/v1/jobs/${id}/retry`);
      $('#job-cancel').onclick = () => act('DELETE', `/api/v1/jobs/${id}`);
      $('#job-drop').onclick = async () => {
        if (!confirm(`Drop job ${id}? Its record goes.`)) return;
        try { await api('POST', `/api/v1/jobs/${id}/drop`); location.hash = '#/jobs'; } catch (e) { showError(e.message); }
      };
    },
    async refresh() {
      const j = await get(`/api/v1/jobs/${id}`);
      const args = (() => { try { return JSON.stringify(j.args, null, 2); } catch (_) { return String(j.args); } })();
      const ran = j.started_ms && j.finished_ms ? dur((j.finished_ms - j.started_ms) / 1000) : j.started_ms ? `running for ${dur((Date.now() - j.started_ms) / 1000)}` : '–';
      setHtml($('#job-detail'), `<dl class="kv">
        <dt>topic</dt><dd>${esc(j.topic)}</dd><dt>state</dt><dd class="state">${esc(j.state)}</dd>
        <dt>attempts</dt><dd class="attempt">${j.attempt} of ${j.max_attempts}</dd><dt>priority</dt><dd>${j.priority}</dd>
        <dt>created</dt><dd>${esc(when(j.created_ms))}</dd><dt>runs at</dt><dd>${esc(when(j.run_at_ms))}</dd>
        <dt>started</dt><dd>${esc(when(j.started_ms))}</dd><dt>finished</dt><dd>${esc(when(j.finished_ms))}</dd>
        <dt>ran</dt><dd>${esc(ran)}</dd><dt>timeout</dt><dd>${j.timeout ? dur(j.timeout) : 'none'}</dd>
        <dt>host / worker</dt><dd>${esc(j.host || '–')} / ${esc(j.worker || '–')}</dd>
        ${j.key ? `<dt>key</dt><dd>${esc(j.key)}</dd>` : ''}${j.parent ? `<dt>parent</dt><dd><a href="#/jobs/${j.parent}">${j.parent}</a></dd>` : ''}
        ${j.children ? `<dt>children</dt><dd>${j.children}</dd>` : ''}</dl>
        <h2>Arguments</h2><pre>${esc(args)}</pre>
        ${j.error ? `<h2>Error</h2><pre class="bad">${esc(j.error)}</pre>` : ''}
        ${j.result ? `<h2>Result</h2><pre>${esc(j.result)}</pre>` : ''}`);
      $('#job-retry').disabled = !['dead', 'failed', 'cancelled', 'done'].includes(j.state);
      $('#job-cancel').disabled = !['queued', 'running', 'failed'].includes(j.state);
    },
  };
  return p;
}

// ---- schedules and the fleet -----------------------------------------------------------

function schedulesPage() {
  const p = {
    frame: `<h1>Schedules</h1><table id="schedules"><thead><tr><th>name</th><th>when</th><th>topic</th><th>enabled</th>
      <th>next run</th><th>last run</th><th>outcome</th><th class="num">runs</th><th class="num">skipped</th><th>note</th><th></th></tr></thead><tbody></tbody></table>`,
    bind() {
      $('#schedules').onclick = async (ev) => {
        const b = ev.target.closest('button[data-do]');
        if (!b) return;
        const path = `/api/v1/schedules/${encodeURIComponent(b.dataset.name)}/${b.dataset.do}`;
        try { await api('POST', path); showError(''); await p.refresh(); } catch (e) { showError(e.message); }
      };
    },
    async refresh() {
      const r = await getOptional('/api/v1/schedules');
      const list = (r && r.schedules) || [];
      setHtml($('#schedules tbody'), list.map((s) => `<tr data-schedule="${esc(s.name)}"><td>${esc(s.name)}</td>
        <td><code>${esc(s.cron || `every ${s.every}`)}</code>${s.tz ? ` ${esc(s.tz)}` : ''}</td><td>${esc(s.topic)}</td>
        <td class="${s.enabled ? 'good' : 'dim'}">${s.enabled ? 'on' : 'off'}</td><td>${esc(when(s.next_ms))}</td><td>${esc(when(s.last_run_ms))}</td>
        <td>${s.last_job ? `<a href="#/jobs/${s.last_job}">${esc(s.outcome || 'job ' + s.last_job)}</a>` : esc(s.outcome)}</td>
        <td class="num">${s.runs}</td><td class="num">${s.skipped}</td><td class="wrap">${esc(s.note)}</td>
        <td><button data-do="${s.enabled ? 'off' : 'on'}" data-name="${esc(s.name)}">${s.enabled ? 'turn off' : 'turn on'}</button>
          <button data-do="run" data-name="${esc(s.name)}">run now</button></td></tr>`).join('') ||
        '<tr><td colspan="11" class="dim">no schedules</td></tr>');
    },
  };
  return p;
}

function fleetPage() {
  return {
    frame: `<h1>Fleet</h1><table id="hosts"><thead><tr><th>host</th><th class="num">pid</th><th>http</th><th>started</th>
      <th>lease until</th><th>pools</th><th class="num">running jobs</th></tr></thead><tbody></tbody></table>
      <h2>Queue by topic</h2><table id="fleet-topics"><thead><tr><th>topic</th><th class="num">queued</th><th class="num">running</th>
      <th class="num">dead</th><th class="num">oldest</th></tr></thead><tbody></tbody></table>`,
    async refresh() {
      const f = await getOptional('/api/v1/fleet');
      if (!f) { setHtml($('#hosts tbody'), '<tr><td colspan="7" class="dim">this drover has no job queue</td></tr>'); return; }
      const now = Date.now();
      setHtml($('#hosts tbody'), f.hosts.map((h) => {
        let pools = [];
        try { pools = typeof h.pools === 'string' ? JSON.parse(h.pools) : h.pools || []; } catch (_) { /* shown empty */ }
        return `<tr data-host="${esc(h.name)}"><td>${esc(h.name)}</td><td class="num">${h.pid}</td><td>${esc(h.http)}</td>
          <td>${esc(when(h.started_ms))}</td><td class="${h.lease_until_ms < now ? 'bad' : ''}">${esc(when(h.lease_until_ms))}</td>
          <td class="wrap">${pools.map((q) => esc(`${q.name} ${q.running}/${q.size}`)).join(', ')}</td><td class="num">${h.running_jobs}</td></tr>`;
      }).join('') || '<tr><td colspan="7" class="dim">no hosts</td></tr>');
      setHtml($('#fleet-topics tbody'), f.topics.map((t) => `<tr><td>${esc(t.topic)}</td><td class="num">${t.queued}</td>
        <td class="num">${t.running}</td><td class="num">${t.dead}</td><td class="num">${dur(t.oldest_age)}</td></tr>`).join(''));
    },
  };
}

// ---- start ----------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('#login-form').addEventListener('submit', (ev) => { ev.preventDefault(); login($('#token').value.trim()); });
  $('#logout').onclick = () => loggedOut('');
  window.addEventListener('hashchange', route);
  events.listeners.add(onEngineEvent);
  document.addEventListener('visibilitychange', onVisibility);
  // A page kept in the back/forward cache would keep its streams open: end them.
  window.addEventListener('pagehide', () => { stopPage(); events.stop(); });
  window.addEventListener('pageshow', (ev) => { if (ev.persisted) onVisibility(); });
  if (token.get()) login(token.get()); else loggedOut('');
});
