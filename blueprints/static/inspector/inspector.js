/* Handoff Live Inspector: the lists, the filters, the live feed (one EventSource per page) and
   the cancel action. Swimlanes are drawn by swimlane.js from the server's JSON. */
(function () {
  "use strict";

  var S = window.HandoffSwimlane;
  var h = S.h;
  var body = document.body;
  var BASE = body.dataset.base.replace(/\/$/, "");            // "/inspector"
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var LOCAL = body.dataset.local === "1";
  var LIST_LIMIT = 50;
  var state = {
    selected: body.dataset.selected || null,
    lastEventId: body.dataset.lastEventId || null,
    transfers: [], nextCursor: null,
    transferData: null, heard: {}, openHeard: {}, seen: {}, notice: null,
    source: null, retry: 1000, pollTimer: null
  };
  var els = {
    list: document.getElementById("transfer-list"), calls: document.getElementById("call-list"),
    count: document.getElementById("transfers-count"), callsCount: document.getElementById("calls-count"),
    more: document.getElementById("more"), filters: document.getElementById("filters"),
    live: document.getElementById("live-indicator"), detail: document.getElementById("transfer"),
    placeholder: document.getElementById("placeholder"), audit: document.getElementById("audit-list")
  };

  /* --- HTTP ---------------------------------------------------------------------------------- */
  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(answer);
  }

  function postJSON(url) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {Accept: "application/json", "X-CSRF-Token": CSRF}}).then(answer);
  }

  function answer(response) {
    if (response.status === 401) {           // the session expired or its token was removed
      window.location.assign(BASE + "/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new Error("signed out");
    }
    return response.json().then(function (data) {
      if (!response.ok) {
        var err = new Error((data && data.error && data.error.message) || ("HTTP " + response.status));
        err.status = response.status;
        throw err;
      }
      return data;
    });
  }

  /* at most one call per `ms`, the first at once and the last never lost */
  function throttle(fn, ms) {
    var last = 0, timer = null;
    return function () {
      var wait = last + ms - Date.now();
      if (timer) return;
      if (wait <= 0) { last = Date.now(); fn(); return; }
      timer = setTimeout(function () { timer = null; last = Date.now(); fn(); }, wait);
    };
  }

  /* --- filters ------------------------------------------------------------------------------- */
  function filterQuery() {
    var params = new URLSearchParams();
    ["status", "outcome", "mode", "recipient"].forEach(function (name) {
      var value = els.filters.elements[name].value.trim();
      if (value) params.set(name, value);
    });
    return params;
  }

  function readFiltersFromURL() {
    var params = new URLSearchParams(location.search);
    ["status", "outcome", "mode", "recipient"].forEach(function (name) {
      if (params.get(name)) els.filters.elements[name].value = params.get(name);
    });
  }

  function pageURL() {
    var q = filterQuery().toString();
    return (state.selected ? BASE + "/transfers/" + encodeURIComponent(state.selected) : BASE + "/") + (q ? "?" + q : "");
  }

  els.filters.addEventListener("change", function () { history.replaceState(null, "", pageURL()); loadTransfers(); });
  els.filters.addEventListener("submit", function (e) { e.preventDefault(); });
  var typed = null;
  els.filters.elements.recipient.addEventListener("input", function () {
    clearTimeout(typed);
    typed = setTimeout(function () { history.replaceState(null, "", pageURL()); loadTransfers(); }, 300);
  });

  /* --- the transfers list -------------------------------------------------------------------- */
  function ago(iso) {
    var t = new Date(iso).getTime();
    if (!iso || isNaN(t)) return "";
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return new Date(iso).toLocaleDateString();
  }

  function destinationName(item) {
    var d = item.destination || item.to || "";
    var m = /^(.*?) \((.*)\)$/.exec(d);
    return m ? m[1] : d;
  }

  function transferRow(item, flash) {
    var tone = S.transferTone(item);
    var words = item.outcome ? (item.outcome_words || item.outcome) : item.status;
    return h("li", {class: "row" + (item.id === state.selected ? " selected" : "") + (flash ? " flash" : ""),
                    dataset: {transferId: item.id, status: item.status, outcome: item.outcome || ""}},
      h("a", {href: BASE + "/transfers/" + encodeURIComponent(item.id), title: words,
              onclick: function (e) {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                select(item.id, true);
              }},
        h("span", {class: "mode", text: item.mode}),
        h("span", {class: "title", text: destinationName(item)}),
        h("span", {class: "pill tone-" + tone, text: item.label || item.status}),
        h("span", {class: "sub", text: (item.reason ? item.reason + " · " : "") + ago(item.created_at)})));
  }

  function renderTransfers(flashIds) {
    els.list.replaceChildren();
    if (!state.transfers.length) {
      els.list.appendChild(h("li", {class: "empty", text: filterQuery().toString() ? "No transfer matches these filters." : "No transfer yet."}));
    }
    state.transfers.forEach(function (item) { els.list.appendChild(transferRow(item, flashIds && flashIds[item.id])); });
    els.count.textContent = state.transfers.length + (state.nextCursor ? "+" : "");
    els.more.hidden = !state.nextCursor;
  }

  function loadTransfers() {
    var q = filterQuery();
    q.set("limit", String(LIST_LIMIT));
    var before = {};
    state.transfers.forEach(function (t) { before[t.id] = t.status + "|" + (t.outcome || ""); });
    return getJSON(BASE + "/transfers.json?" + q.toString()).then(function (page) {
      var flash = {};
      page.items.forEach(function (t) {
        if (state.transfers.length && before[t.id] !== t.status + "|" + (t.outcome || "")) flash[t.id] = true;
      });
      state.transfers = page.items;
      state.nextCursor = page.next_cursor;
      renderTransfers(flash);
    }).catch(function (err) { console.warn("transfers:", err); });
  }
  var refreshTransfers = throttle(loadTransfers, 700);

  els.more.addEventListener("click", function () {
    var q = filterQuery();
    q.set("limit", String(LIST_LIMIT));
    q.set("cursor", state.nextCursor);
    getJSON(BASE + "/transfers.json?" + q.toString()).then(function (page) {
      state.transfers = state.transfers.concat(page.items);
      state.nextCursor = page.next_cursor;
      renderTransfers();
    });
  });

  /* --- live calls ---------------------------------------------------------------------------- */
  function loadCalls() {
    return getJSON(BASE + "/calls.json?status=active&limit=20").then(function (page) {
      els.calls.replaceChildren();
      if (!page.items.length) els.calls.appendChild(h("li", {class: "empty", text: "No call is live."}));
      page.items.forEach(function (call) {
        var active = call.active_transfer;
        var last = call.transfers.length ? call.transfers[call.transfers.length - 1] : null;
        var target = active || (last && last.id);
        var tone = last ? S.transferTone(last) : "pending";
        var line = last ? last.mode + " → " + destinationName(last) + " · " + (last.label || last.status)
                        : "with the agent";
        els.calls.appendChild(h("li", {class: "row", dataset: {callSid: call.sid}},
          h(target ? "a" : "div", {class: "callrow", href: target ? BASE + "/transfers/" + encodeURIComponent(target) : null,
                                   onclick: target ? function (e) { e.preventDefault(); select(target, true); } : null},
            h("span", {class: "dot tone-" + (active ? tone : "pending")}),
            h("span", {class: "title mono", text: call.from || call.sid}),
            h("span", {class: "when", text: call.status || ""}),
            h("span", {class: "sub", text: line}))));
      });
      els.callsCount.textContent = String(page.items.length);
    }).catch(function (err) { console.warn("calls:", err); });
  }
  var refreshCalls = throttle(loadCalls, 700);

  /* --- the audit log: who did what, when, from where (API actions, reloads, sign-ins) ----------- */
  function loadAudit() {
    return getJSON(BASE + "/audit.json?limit=8").then(function (page) {
      els.audit.replaceChildren();
      if (!page.items.length) els.audit.appendChild(h("li", {class: "empty", text: "Nothing recorded yet."}));
      page.items.forEach(function (entry) {
        var target = entry.target && entry.target.length > 28 ? entry.target.slice(0, 27) + "…" : entry.target;
        els.audit.appendChild(h("li", {class: "audit-entry", dataset: {action: entry.action}, title: entry.at},
          h("span", {class: "who-chip", text: entry.actor}),
          h("span", {class: "action", text: entry.action}),
          h("span", {class: "when", text: ago(entry.at)}),
          h("span", {class: "sub mono", text: [target, entry.address].filter(Boolean).join(" · ")})));
      });
    }).catch(function (err) { console.warn("audit:", err); });
  }
  var refreshAudit = throttle(loadAudit, 2000);

  /* --- the selected transfer ----------------------------------------------------------------- */
  function select(id, push) {
    state.selected = id;
    state.transferData = null;
    state.heard = {};
    state.seen = {};
    state.notice = null;
    state.seenReady = false;
    if (push) {
      history.pushState(null, "", pageURL());
      // One column on a narrow screen: bring the transfer into view under the lists.
      if (window.matchMedia("(max-width: 900px)").matches) els.placeholder.parentNode.scrollIntoView({behavior: "smooth"});
    }
    Array.prototype.forEach.call(els.list.querySelectorAll(".row"), function (row) {
      row.classList.toggle("selected", row.dataset.transferId === id);
    });
    if (!id) {
      els.detail.hidden = true;
      els.placeholder.hidden = false;
      return Promise.resolve();
    }
    return loadTransfer(true);
  }

  function draw() {
    if (!state.transferData) return;
    els.placeholder.hidden = true;
    els.detail.hidden = false;
    var options = {heard: state.heard, openHeard: state.openHeard, seen: state.seen, seenReady: state.seenReady,
                   notice: state.notice, onCancel: cancel,
                   onHeardToggle: function (lane, open) { state.openHeard[lane] = open; }};
    S.render(els.detail, state.transferData, options);
    state.seenReady = true;
  }

  function loadTransfer(first) {
    var id = state.selected;
    return getJSON(BASE + "/transfers/" + encodeURIComponent(id) + ".json").then(function (data) {
      if (state.selected !== id) return;
      state.transferData = data;
      draw();
      if (LOCAL) refreshHeard();
      if (first) document.title = (data.transfer.to || "Transfer") + " · Live Inspector · Handoff";
    }).catch(function (err) {
      if (state.selected !== id) return;
      els.placeholder.hidden = true;
      els.detail.hidden = false;
      els.detail.replaceChildren(h("section", {class: "card transfer-head"},
        h("div", {class: "titles"}, h("h1", {text: "Transfer " + id}), h("p", {class: "notice", text: err.message}))));
    });
  }
  var refreshTransfer = throttle(function () { if (state.selected) loadTransfer(false); }, 150);

  function loadHeard() {
    var id = state.selected;
    if (!id) return;
    getJSON(BASE + "/transfers/" + encodeURIComponent(id) + "/heard.json").then(function (data) {
      if (state.selected !== id || !data.available) return;
      state.heard = data.lanes;
      draw();
    }).catch(function (err) { console.warn("heard:", err); });
  }
  var refreshHeard = throttle(loadHeard, 1500);

  function cancel(id, button) {
    button.disabled = true;
    button.textContent = "Cancelling…";
    postJSON(BASE + "/transfers/" + encodeURIComponent(id) + "/cancel").then(function (data) {
      state.notice = null;
      if (state.selected === id) { state.transferData = data; draw(); }
      refreshTransfers();
      refreshAudit();
    }).catch(function (err) {
      state.notice = err.message;
      draw();
    });
  }

  window.addEventListener("popstate", function () {
    var m = /\/transfers\/([^/?#]+)/.exec(location.pathname);
    readFiltersFromURL();
    select(m ? decodeURIComponent(m[1]) : null, false);
    loadTransfers();
  });

  /* --- the live feed: one EventSource for the page ------------------------------------------- */
  function setLive(mode, text) {
    els.live.dataset.state = mode;
    els.live.querySelector("span").textContent = text;
  }

  function onEvent(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    state.lastEventId = message.lastEventId || event.id || state.lastEventId;
    // The lists are re-read (at once, then at most every 0.7 s): the server says what a status is.
    refreshTransfers();
    refreshCalls();
    if (event.event === "requested" || event.event === "cancel-requested") refreshAudit();
    if (event.transfer_id === state.selected) refreshTransfer();
  }

  function connect() {
    var url = BASE + "/stream" + (state.lastEventId ? "?after=" + encodeURIComponent(state.lastEventId) : "");
    var source = new EventSource(url);
    state.source = source;
    source.addEventListener("open", function () {
      state.retry = 1000;
      state.busy = false;
      stopPolling();
      setLive("live", "Live");
    });
    source.addEventListener("transfer", onEvent);
    source.addEventListener("busy", function () {     // this web process serves enough streams: poll a while
      state.busy = true;
      setLive("polling", "Polling");
      startPolling();
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CONNECTING) {
        if (!state.busy) setLive("reconnecting", "Reconnecting…");
        return;
      }
      // Closed for good (a 401 or a 503 from a busy process): check the session, poll, try again later.
      source.close();
      setLive("polling", "Polling");
      startPolling();
      getJSON(BASE + "/calls.json?limit=1").then(function () {
        setTimeout(connect, state.retry);
        state.retry = Math.min(state.retry * 2, 30000);
      }).catch(function () {});
    });
  }

  function poll() { loadTransfers(); loadCalls(); refreshAudit(); if (state.selected) loadTransfer(false); }
  function startPolling() { if (!state.pollTimer) state.pollTimer = setInterval(poll, 3000); }
  function stopPolling() { if (state.pollTimer) { clearInterval(state.pollTimer); state.pollTimer = null; } }

  setInterval(function () { if (state.transfers.length) renderTransfers(); }, 15000);   // "… s ago"

  readFiltersFromURL();
  connect();
  loadTransfers();
  loadCalls();
  loadAudit();
  setInterval(refreshAudit, 30000);           // reloads and other people's actions are not on the feed
  if (state.selected) select(state.selected, false);
})();
