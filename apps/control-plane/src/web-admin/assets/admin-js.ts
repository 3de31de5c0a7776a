/**
 * The web admin's one browser script (served as /assets/admin.js), hand-written, no framework:
 * - `form[data-confirm]`: asks before submitting;
 * - `[data-live]`: polls the JSON at that URL (`{ html }`, rendered by the server with the page's own
 *   templates) every `data-interval` ms (default 500) and replaces the element's content when it changed;
 *   a 401 sends the browser to the sign-in page;
 * - `[data-chart]`: draws uPlot charts from the JSON at that URL (`{ charts: [{ title, unit, x: [...], series: [{ label, values }] }] }`),
 *   refreshed every `data-interval` ms (default 5000);
 * - `form[data-result="ID"]` (the invoke form): posted in the background (Accept: application/json), the
 *   answer (output or error) shown in #ID without leaving the page;
 * Everything the pages need also works without it (plain forms, POST-redirect-GET), except live updates and charts.
 */
export const ADMIN_JS = String.raw`(function () {
  'use strict';
  function onReady(fn) { if (document.readyState !== 'loading') fn(); else document.addEventListener('DOMContentLoaded', fn); }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    var target = form.getAttribute('data-result') && document.getElementById(form.getAttribute('data-result'));
    if (target && window.fetch && window.FormData) { event.preventDefault(); submitInline(form, target); }
  }, true);

  // A form[data-result="ID"] (the invoke form) posts in the background and shows the answer in #ID.
  function submitInline(form, target) {
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    target.textContent = 'Working…';
    fetch(form.getAttribute('action'), { method: 'POST', body: new FormData(form), credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign('/login'); return null; }
        return response.json().catch(function () { return { ok: false, flash: { kind: 'error', message: 'The answer was not JSON (HTTP ' + response.status + ').' } }; });
      })
      .then(function (data) {
        if (!data) return;
        var flash = data.flash || { kind: data.ok ? 'ok' : 'error', message: data.error ? data.error.message : 'Done.' };
        var box = document.createElement('div');
        box.className = 'flash ' + (flash.kind === 'error' ? 'error' : 'ok');
        box.setAttribute('role', flash.kind === 'error' ? 'alert' : 'status');
        var p = document.createElement('p');
        p.textContent = flash.message;
        box.appendChild(p);
        if (flash.detail) { var pre = document.createElement('pre'); pre.textContent = flash.detail; box.appendChild(pre); }
        target.textContent = '';
        target.appendChild(box);
      })
      .catch(function (err) { target.textContent = 'The request failed: ' + err; })
      .then(function () { if (button) button.disabled = false; });
  }

  function poll(element) {
    var url = element.getAttribute('data-live');
    var interval = Number(element.getAttribute('data-interval')) || 500;
    var last = null;
    var busy = false;
    function tick() {
      if (busy) return;
      busy = true;
      fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, cache: 'no-store' })
        .then(function (response) {
          if (response.status === 401) { window.location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search)); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data || typeof data.html !== 'string') return;
          if (last === null) last = element.innerHTML;
          if (data.html !== last) {
            var active = document.activeElement;
            if (active && element.contains(active) && active.closest('form') && active.tagName !== 'BUTTON') return;
            element.innerHTML = data.html;
            last = data.html;
            element.setAttribute('data-updated', String(Date.now()));
          }
        })
        .catch(function () { /* the next tick tries again */ })
        .then(function () { busy = false; });
    }
    setInterval(tick, interval);
  }

  function charts(element) {
    var url = element.getAttribute('data-chart');
    var interval = Number(element.getAttribute('data-interval')) || 5000;
    var plots = {};
    function width() { return Math.max(260, Math.min(element.clientWidth - 16, 1100)); }
    function draw(data) {
      if (!data || !data.charts || typeof uPlot === 'undefined') return;
      var seen = {};
      data.charts.forEach(function (chart) {
        var key = chart.id;
        seen[key] = true;
        var columns = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
        var existing = plots[key];
        if (existing && existing.labels === chart.series.map(function (s) { return s.label; }).join('\u0000')) { existing.plot.setData(columns); return; }
        if (existing) { existing.plot.destroy(); existing.box.remove(); }
        var box = document.createElement('figure');
        box.className = 'chart';
        var caption = document.createElement('figcaption');
        caption.textContent = chart.title;
        box.appendChild(caption);
        element.appendChild(box);
        var colors = ['#0b57b0', '#b3261e', '#3c8c4f', '#a86400', '#6a1b9a', '#00838f', '#5d4037', '#37474f'];
        var opts = {
          width: width(), height: 200,
          series: [{}].concat(chart.series.map(function (s, i) { return { label: s.label, stroke: colors[i % colors.length], width: 2, value: function (u, v) { return v == null ? '-' : (Math.round(v * 100) / 100) + ' ' + (chart.unit || ''); } }; })),
          axes: [{}, { label: chart.unit || '' }],
        };
        plots[key] = { plot: new uPlot(opts, columns, box), box: box, labels: chart.series.map(function (s) { return s.label; }).join('\u0000') };
      });
      Object.keys(plots).forEach(function (key) { if (!seen[key]) { plots[key].plot.destroy(); plots[key].box.remove(); delete plots[key]; } });
      var empty = element.querySelector('.empty');
      if (empty) empty.hidden = data.charts.length > 0;
    }
    function load() {
      fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(draw)
        .catch(function () {});
    }
    load();
    setInterval(load, interval);
    window.addEventListener('resize', function () { Object.keys(plots).forEach(function (k) { plots[k].plot.setSize({ width: width(), height: 200 }); }); });
  }

  onReady(function () {
    Array.prototype.forEach.call(document.querySelectorAll('[data-live]'), poll);
    Array.prototype.forEach.call(document.querySelectorAll('[data-chart]'), charts);
  });
})();
`;
