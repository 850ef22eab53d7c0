/* Handoff Live Inspector: draws one transfer's swimlanes from the JSON the server built
   (handoff/swimlanes.py). It decides nothing: lanes, states, steps, deltas and words all come
   from the server; this file only turns them into HTML. No library, no innerHTML of data. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    caller: "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2",
    agent: "M6 8h12a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2z M12 4v4 M9 13h.01 M15 13h.01",
    recipient: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z M4 21a8 8 0 0 1 16 0"
  };
  var ENDED = ["ended", "busy", "no-answer", "failed", "declined", "no-key", "voicemail", "cancelled", "timeout",
               "gone", "returned", "caller-back"];

  /* h("div", {class: "x", dataset: {a: 1}}, child, "text", [more]) */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var key;
    attrs = attrs || {};
    for (key in attrs) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] === null || attrs[key] === undefined) continue;
      if (key === "dataset") {
        for (var d in attrs.dataset) el.dataset[d] = attrs.dataset[d];
      } else if (key === "style") {
        for (var prop in attrs.style) el.style[prop] = attrs.style[prop];    // CSSOM: allowed by the CSP
      } else if (key === "text") {
        el.textContent = attrs.text;
      } else if (key.slice(0, 2) === "on") {
        el.addEventListener(key.slice(2), attrs[key]);
      } else {
        el.setAttribute(key, attrs[key]);
      }
    }
    append(el, Array.prototype.slice.call(arguments, 2));
    return el;
  }

  function append(el, children) {
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      if (Array.isArray(child)) { append(el, child); return; }
      el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    });
  }

  function icon(kind) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[kind] || ICONS.recipient);
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
    svg.appendChild(path);
    return svg;
  }

  function seconds(value) {
    if (value === null || value === undefined) return "";
    if (value < 1) return Math.round(value * 1000) + " ms";
    if (value < 60) return value.toFixed(value < 10 ? 2 : 1) + " s";
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  function clock(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    var pad = function (n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; };
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function chips(evidence) {
    var names = Object.keys(evidence || {});
    if (!names.length) return null;
    return h("div", {class: "chips"}, names.map(function (name) {
      return h("span", {class: "chip", title: "Twilio's own evidence"}, h("i", {text: name + " "}), String(evidence[name]));
    }));
  }

  function transferTone(t) {
    return t.tone || "pending";         // the server's colour family (handoff/swimlanes.transfer_tone)
  }

  /* --- the header: what, where, and the cancel action ------------------------------------- */
  function head(data, options) {
    var t = data.transfer;
    var tone = transferTone(t);
    var actions = h("div", {class: "actions"});
    if (data.cancellable && options.onCancel) {
      actions.appendChild(h("button", {type: "button", class: "btn btn-danger", id: "cancel-button",
                                       onclick: function (e) { options.onCancel(t.id, e.currentTarget); }},
                            "Cancel transfer"));
    }
    if (options.notice) actions.appendChild(h("span", {class: "notice", id: "action-notice", text: options.notice}));
    return h("section", {class: "card transfer-head", id: "transfer-head", dataset: {transferId: t.id}},
      h("div", {class: "titles"},
        h("h1", null, h("span", {class: "mode"}, t.mode), h("span", {text: t.to || "transfer"}),
          h("span", {class: "pill tone-" + tone + (data.in_flight ? " live-state" : ""), id: "transfer-status",
                     dataset: {status: t.status || ""}},
            t.outcome ? (data.outcome ? data.outcome.label : t.outcome) : t.status)),
        h("div", {class: "meta"},
          h("span", null, "Transfer ", h("b", {class: "mono", text: t.id})),
          h("span", null, "Call ", h("b", {class: "mono", text: t.call_sid || ""})),
          h("span", null, "Requested ", h("b", {text: clock(t.created_at)})),
          data.duration !== null && data.duration !== undefined ? h("span", null, "Took ", h("b", {text: seconds(data.duration)})) : null),
        t.reason ? h("div", {class: "reason"}, h("span", {class: "muted"}, "Reason: "), t.reason) : null,
        chainNav(data.chain)),
      actions);
  }

  /* Chained transfers: the call's transfers in order, each a link, this one marked. */
  function chainNav(chain) {
    if (!chain || chain.length < 2) return null;
    var base = (document.body.dataset.base || "/inspector").replace(/\/$/, "");
    return h("nav", {class: "chain", id: "transfer-chain", "aria-label": "The call's transfers, in order"},
      h("span", {class: "muted"}, "Chain: "),
      h("ol", null, chain.map(function (link) {
        var label = link.position + ". " + link.mode + " → " + (link.to || "?") + " · " + (link.label || link.status);
        return h("li", {class: "tone-" + (link.tone || "neutral") + (link.current ? " current" : ""),
                        dataset: {transferId: link.transfer_id}},
          link.current ? h("b", {text: label, "aria-current": "page"})
                       : h("a", {href: base + "/transfers/" + encodeURIComponent(link.transfer_id),
                                 title: link.outcome_words || "", text: label}));
      })));
  }

  function outcome(data) {
    var o = data.outcome;
    if (!o) {
      var waiting = data.transfer.waiting_for ? " Waiting for: " + data.transfer.waiting_for + "." : "";
      return h("section", {class: "outcome in-flight", id: "outcome", dataset: {outcome: ""}},
        h("span", {class: "label"}, "In flight"),
        h("span", {class: "sentence", text: "The transfer is " + data.transfer.status + "." + waiting}));
    }
    var report = o.report || {};
    var facts = [];
    ["attempts", "destination", "rule", "hold_seconds", "answer_seconds", "accept_seconds"].forEach(function (name) {
      if (report[name] === undefined || report[name] === null || report[name] === "") return;
      var value = /_seconds$/.test(name) ? seconds(Number(report[name])) : String(report[name]);
      facts.push(h("span", {class: "fact"}, name.replace(/_/g, " ") + " ", h("b", {text: value})));
    });
    return h("section", {class: "outcome tone-" + o.tone, id: "outcome", dataset: {outcome: o.outcome}},
      h("span", {class: "label", text: o.label}),
      h("span", {class: "sentence", id: "outcome-sentence", text: o.sentence}),
      facts.length ? h("span", {class: "facts"}, facts) : null);
  }

  /* --- the lanes' heads: who, the state now, whisper, keys, evidence, what they heard ------- */
  function heardList(entry, open, laneId, onToggle) {
    if (!entry) return null;
    var body;
    if (!entry.available) {
      body = h("p", {class: "unavailable", text: "Unavailable: " + (entry.reason || "no answer")});
    } else if (!entry.items.length) {
      body = h("p", {class: "unavailable", text: "Nothing yet."});
    } else {
      body = h("ol", null, entry.items.map(function (item) {
        var what = item.text || item.url || "";
        var extra = [];
        if (item.seconds) extra.push(seconds(item.seconds));
        if (item.repeat) extra.push("× " + item.repeat);
        return h("li", null, h("span", {class: "kind", text: item.kind}), what,
                 extra.length ? h("span", {class: "muted", text: " (" + extra.join(", ") + ")"}) : null);
      }));
    }
    var details = h("details", {class: "heard", dataset: {lane: laneId}},
                    h("summary", null, laneId === "agent" ? "What the agent was told" : "What they heard"), body);
    if (open) details.open = true;
    details.addEventListener("toggle", function () { onToggle(laneId, details.open); });
    return details;
  }

  function laneHead(lane, heard, options) {
    var facts = [];
    if (lane.whisper) facts.push(h("div", {class: "whisper", text: lane.whisper}));
    if (lane.keys && lane.keys.length) {
      facts.push(h("div", null, h("span", {class: "muted"}, "Pressed "), lane.keys.map(function (k) { return h("kbd", {text: k}); })));
    }
    if (lane.answered_by) facts.push(h("div", null, h("span", {class: "muted"}, "Detection "), h("b", {text: lane.answered_by})));
    var ev = chips(lane.evidence);
    if (ev) facts.push(ev);
    facts.push(heardList(heard, options.openHeard[lane.id], lane.id, options.onHeardToggle));
    return h("div", {class: "lane-head lane tone-" + lane.tone,
                     dataset: {laneId: lane.id, laneKind: lane.kind, state: lane.state, leg: lane.leg || ""}},
      h("div", {class: "lane-title"},
        h("span", {class: "lane-icon"}, icon(lane.kind)),
        h("div", {style: {minWidth: "0"}},
          h("div", {class: "lane-label", title: lane.label, text: lane.label}),
          lane.sublabel ? h("div", {class: "lane-sub", text: lane.sublabel}) : null)),
      h("div", {class: "lane-state"}, h("span", {class: "pill tone-" + lane.tone + " state", text: lane.state_label})),
      h("div", {class: "lane-facts"}, facts));
  }

  /* --- the grid: one row per step, the lane's line coloured by its state ------------------- */
  function render(container, data, options) {
    options = options || {};
    options.openHeard = options.openHeard || {};
    options.seen = options.seen || {};
    var heard = options.heard || {};
    var lanes = data.lanes;
    var grid = h("div", {class: "lanes", id: "swimlanes", role: "table", "aria-label": "Swimlanes of the transfer",
                         style: {gridTemplateColumns: "96px repeat(" + lanes.length + ", minmax(190px, 1fr))"}});
    grid.appendChild(h("div", {class: "lane-head gutter", role: "columnheader"}, "time"));
    lanes.forEach(function (lane) { grid.appendChild(laneHead(lane, heard[lane.id], options)); });

    var state = {};       // lane id -> {tone, state} after the rows so far
    var laneIndex = {};
    lanes.forEach(function (lane, i) { laneIndex[lane.id] = i; });
    data.rows.forEach(function (row) {
      var fresh = options.seenReady && !options.seen[row.id];
      options.seen[row.id] = true;
      Object.keys(row.states || {}).forEach(function (id) { state[id] = row.states[id]; });
      grid.appendChild(h("div", {class: "time", role: "rowheader"}, h("b", {text: "+" + seconds(row.t || 0)}),
                         clock(row.at)));
      if (row.lane === null || !(row.lane in laneIndex)) {
        grid.appendChild(h("div", {class: "band tone-" + row.tone + (row.event === "outcome" || row.event === "completed" ? " completed" : "")
                                     + (fresh ? " fresh" : ""),
                                   style: {gridColumn: "span " + lanes.length}, dataset: {event: row.event}},
          h("span", {class: "name", text: row.title}), row.text ? h("span", {class: "text", text: row.text}) : null,
          chips(row.evidence)));
        return;
      }
      lanes.forEach(function (lane) {
        var s = state[lane.id];
        var cls = "cell" + (s ? " tone-" + s.tone : " off") + (s && ENDED.indexOf(s.state) >= 0 ? " ended" : "");
        if (lane.id !== row.lane) { grid.appendChild(h("div", {class: cls})); return; }
        grid.appendChild(h("div", {class: cls},
          h("div", {class: "step tone-" + row.tone + (fresh ? " fresh" : ""), dataset: {event: row.event, state: row.state || ""}},
            h("div", {class: "name", text: row.title}),
            row.text ? h("div", {class: "text", text: row.text}) : null,
            row.lane_delta !== null && row.lane_delta !== undefined ?
              h("div", {class: "delta", text: seconds(row.lane_delta) + " after this lane's previous step"}) : null,
            chips(row.evidence))));
      });
    });
    options.seenReady = true;

    var fragment = document.createDocumentFragment();
    fragment.appendChild(head(data, options));
    fragment.appendChild(outcome(data));
    fragment.appendChild(h("div", {class: "lanes-wrap"}, grid));
    container.replaceChildren(fragment);
  }

  window.HandoffSwimlane = {render: render, transferTone: transferTone, seconds: seconds, clock: clock, h: h};
})();
