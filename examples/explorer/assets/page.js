"use strict";
// The state resolution explorer's page: draws the room's event DAG from the
// JSON in #data and explains one state resolution. No network, no other
// file: everything it needs is in this page.
(function () {
  const body = document.body;
  function fail(msg) {
    body.dataset.status = "error";
    const s = document.getElementById("status");
    if (s) s.textContent = "error: " + msg;
  }
  window.addEventListener("error", function (e) { fail(e.message); });

  const D = JSON.parse(document.getElementById("data").textContent);
  const E = D.events;
  const N = E.length;
  const R = D.resolution;
  const idx = new Map();
  E.forEach(function (e, i) { idx.set(e.id, i); });
  const children = E.map(function () { return []; });
  E.forEach(function (e, i) { e.p.forEach(function (p) { children[p].push(i); }); });
  const tipSet = new Set(D.tips), forkSet = new Set(D.forks);

  // What the resolution says about each event.
  const marks = new Map();
  function mark(ids, cls) {
    (ids || []).forEach(function (id) {
      const i = idx.get(id);
      if (i === undefined) return;
      if (!marks.has(i)) marks.set(i, new Set());
      marks.get(i).add(cls);
    });
  }
  const checksOf = new Map();
  if (R) {
    mark(R.conflicted, "conflicted");
    mark(R.auth_difference, "authdiff");
    mark(R.subgraph, "subgraph");
    R.checks.forEach(function (c, n) {
      if (!c.allowed) mark([c.id], "refused");
      if (!checksOf.has(c.id)) checksOf.set(c.id, []);
      checksOf.get(c.id).push(n);
    });
    mark(R.full_conflicted, "full");
    mark(R.mainline, "mainline");
  }
  let selected = -1;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function shortID(id) { return id.length > 30 ? id.slice(0, 12) + "…" : id; }
  function typeClass(e) {
    if (e.type === "m.room.create") return "t-create";
    if (e.type === "m.room.power_levels") return "t-power";
    if (e.type === "m.room.join_rules") return "t-jr";
    if (e.type === "m.room.member") return "t-member";
    if (e.sk !== undefined) return "t-state";
    return "t-msg";
  }
  const typeColor = { "t-create": "#444", "t-power": "#d33", "t-jr": "#e80", "t-member": "#27c", "t-state": "#2a2", "t-msg": "#fff" };
  function interesting(i) {
    return i === selected || marks.has(i) || tipSet.has(i) || forkSet.has(i) || E[i].p.length !== 1 || E[i].rej ||
      E[i].type === "m.room.create";
  }

  // Linear runs: chains of events with one parent whose parent has only
  // them as child. Runs of at least MINRUN uninteresting events are drawn
  // as one node, until expanded.
  const MINRUN = 3;
  const expanded = new Set();
  let collapse = true;
  function collapsible(i) {
    if (interesting(i) || children[i].length > 1) return false;
    const p = E[i].p[0];
    return children[p].length === 1;
  }
  function computeRuns() {
    const runOf = new Int32Array(N).fill(-1);
    const runs = [];
    if (!collapse) return { runOf: runOf, runs: runs };
    for (let i = 0; i < N; i++) {
      if (runOf[i] !== -1 || !collapsible(i)) continue;
      const p = E[i].p[0];
      if (collapsible(p) && runOf[p] === -1 && p < i) continue; // not the start
      const members = [i];
      let cur = i;
      while (children[cur].length === 1 && collapsible(children[cur][0])) {
        cur = children[cur][0];
        members.push(cur);
      }
      if (members.length < MINRUN || expanded.has(i)) continue;
      const r = runs.length;
      runs.push(members);
      members.forEach(function (m) { runOf[m] = r; });
    }
    return { runOf: runOf, runs: runs };
  }

  // Layout: one row per visible node in the room's order; lanes like a
  // commit graph. A node continues the lane of a parent whose first child
  // it is; otherwise it takes the lowest lane free since its first
  // parent's row, so that edges never cross a node.
  let V = [], laneOf = [], laneCount = 0, repOf = null, layoutRuns = null;
  function layout() {
    layoutRuns = computeRuns();
    const runOf = layoutRuns.runOf, runs = layoutRuns.runs;
    V = [];
    repOf = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const r = runOf[i];
      if (r >= 0) {
        if (runs[r][0] === i) { repOf[i] = V.length; V.push({ run: r, members: runs[r] }); }
        else repOf[i] = repOf[runs[r][0]];
      } else {
        repOf[i] = V.length;
        V.push({ ev: i });
      }
    }
    V.forEach(function (v) {
      const first = v.ev !== undefined ? v.ev : v.members[0];
      const last = v.ev !== undefined ? v.ev : v.members[v.members.length - 1];
      v.parents = Array.from(new Set(E[first].p.map(function (p) { return repOf[p]; })));
      v.children = Array.from(new Set(children[last].map(function (c) { return repOf[c]; }))).sort(function (a, b) { return a - b; });
    });
    laneOf = new Int32Array(V.length);
    const laneEnd = [];
    for (let k = 0; k < V.length; k++) {
      const v = V[k];
      let lane = -1;
      for (const p of v.parents) {
        if (V[p].children[0] === k) { lane = laneOf[p]; break; }
      }
      if (lane < 0) {
        const since = v.parents.length ? Math.min.apply(null, v.parents) : k;
        for (let l = 0; l < laneEnd.length; l++) {
          if (laneEnd[l] < since) { lane = l; break; }
        }
        if (lane < 0) { lane = laneEnd.length; laneEnd.push(-1); }
      }
      laneOf[k] = lane;
      const lastChild = v.children.length ? v.children[v.children.length - 1] : k;
      laneEnd[lane] = Math.max(laneEnd[lane], lastChild, k);
    }
    laneCount = laneEnd.length;
  }

  const RH = 22, LW = 18, TOP = 16, LEFT = 64;
  function nx(k) { return LEFT + laneOf[k] * LW; }
  function ny(k) { return TOP + k * RH; }

  function draw() {
    layout();
    const showAuth = document.getElementById("show-auth").checked;
    const labelX = LEFT + laneCount * LW + 8;
    const width = labelX + 620, height = TOP * 2 + V.length * RH;
    const out = [];
    out.push('<svg xmlns="http://www.w3.org/2000/svg" id="dag" width="' + width + '" height="' + height + '" viewBox="0 0 ' + width + " " + height + '">');
    // Row backgrounds (hover), then edges, then nodes.
    for (let k = 0; k < V.length; k++) {
      out.push('<rect class="rowbg" data-k="' + k + '" x="0" y="' + (ny(k) - RH / 2) + '" width="' + width + '" height="' + RH + '" fill="transparent"/>');
    }
    for (let k = 0; k < V.length; k++) {
      for (const c of V[k].children) {
        const x1 = nx(k), y1 = ny(k), x2 = nx(c), y2 = ny(c);
        if (x1 === x2) out.push('<path class="edge" d="M' + x1 + " " + y1 + "V" + y2 + '"/>');
        else {
          const yb = y1 + RH;
          out.push('<path class="edge" d="M' + x1 + " " + y1 + "C" + x1 + " " + (y1 + RH * 0.8) + " " + x2 + " " + (yb - RH * 0.8) + " " + x2 + " " + yb + "V" + y2 + '"/>');
        }
      }
    }
    let authCount = 0;
    if (showAuth) {
      for (let k = 0; k < V.length; k++) {
        if (V[k].ev === undefined) continue;
        for (const a of E[V[k].ev].a) {
          const t = repOf[a];
          if (t === k) continue;
          const x1 = nx(k), y1 = ny(k), x2 = nx(t), y2 = ny(t);
          const bulge = 14 + Math.min(26, Math.abs(k - t) * 1.5);
          out.push('<path class="auth" d="M' + x1 + " " + y1 + "C" + (x1 - bulge) + " " + y1 + " " + (x2 - bulge) + " " + y2 + " " + x2 + " " + y2 + '"/>');
          authCount++;
        }
      }
    }
    for (let k = 0; k < V.length; k++) {
      const v = V[k], x = nx(k), y = ny(k);
      if (v.ev === undefined) {
        const types = new Map();
        v.members.forEach(function (m) { types.set(E[m].type, (types.get(E[m].type) || 0) + 1); });
        const summary = Array.from(types.entries()).sort(function (a, b) { return b[1] - a[1]; }).slice(0, 3)
          .map(function (t) { return t[1] + " " + t[0]; }).join(", ");
        out.push('<g class="node group" data-k="' + k + '"><title>' + v.members.length + " events in a line; click to expand</title>" +
          '<rect x="' + (x - 6) + '" y="' + (y - 8) + '" width="12" height="16" rx="4"/>' +
          '<text x="' + labelX + '" y="' + (y + 4) + '">⋯ ' + v.members.length + " events (" + esc(summary) + ") — click to expand</text></g>");
        continue;
      }
      const i = v.ev, e = E[i], m = marks.get(i) || new Set();
      const cls = typeClass(e);
      let g = '<g class="node ev-node' + (i === selected ? " sel" : "") + '" data-k="' + k + '" data-id="' + esc(e.id) + '">';
      g += '<circle class="dot" cx="' + x + '" cy="' + y + '" r="5" fill="' + typeColor[cls] + '"/>';
      let r = 8;
      ["conflicted", "authdiff", "subgraph", "refused"].forEach(function (c) {
        if (m.has(c)) { g += '<circle class="hl ' + c + '" cx="' + x + '" cy="' + y + '" r="' + r + '"/>'; r += 3.5; }
      });
      if (m.has("refused")) g += '<path class="refused-x" d="M' + (x - 4) + " " + (y - 4) + "L" + (x + 4) + " " + (y + 4) + "M" + (x + 4) + " " + (y - 4) + "L" + (x - 4) + " " + (y + 4) + '"/>';
      let label = shortID(e.id) + "  " + e.type + (e.sk !== undefined && e.sk !== "" ? " " + e.sk : "");
      if (label.length > 80) label = label.slice(0, 79) + "…";
      g += '<text x="' + labelX + '" y="' + (y + 4) + '">' + esc(label) + "</text>";
      let bx = labelX + label.length * 6.7 + 8;
      const badges = [];
      if (tipSet.has(i)) badges.push(["tip", "tip"]);
      if (children[i].length > 1) badges.push(["fork", "fork ×" + children[i].length]);
      if (e.p.length > 1) badges.push(["merge", "merge"]);
      if (e.rej) badges.push(["rej", "rejected"]);
      badges.forEach(function (b) {
        const w = b[1].length * 6 + 8;
        g += '<rect class="badge-bg ' + b[0] + '" x="' + bx + '" y="' + (y - 7) + '" width="' + w + '" height="14" rx="3"/>' +
          '<text class="badge" x="' + (bx + 4) + '" y="' + (y + 3) + '">' + b[1] + "</text>";
        bx += w + 4;
      });
      g += "<title>" + esc(e.id + "\n" + e.type + (e.sk !== undefined ? " [" + e.sk + "]" : "") + "\nsender " + e.sender + "\ndepth " + e.depth) + "</title></g>";
      out.push(g);
    }
    out.push("</svg>");
    document.getElementById("graph").innerHTML = out.join("");
    return authCount;
  }

  // JSON as sent, indented for reading without reparsing numbers.
  function indentJSON(s) {
    let out = "", depth = 0, inStr = false;
    const pad = function (n) { return "\n" + "  ".repeat(n); };
    for (let k = 0; k < s.length; k++) {
      const c = s[k];
      if (inStr) {
        out += c;
        if (c === "\\") { out += s[++k]; } else if (c === '"') inStr = false;
        continue;
      }
      if (c === '"') { inStr = true; out += c; }
      else if (c === "{" || c === "[") {
        const close = c === "{" ? "}" : "]";
        if (s[k + 1] === close) { out += c + close; k++; continue; }
        depth++; out += c + pad(depth);
      } else if (c === "}" || c === "]") { depth--; out += pad(depth) + c; }
      else if (c === ",") out += "," + pad(depth);
      else if (c === ":") out += ": ";
      else out += c;
    }
    return out;
  }

  function evLink(id) {
    if (!id) return '<span class="muted">—</span>';
    const known = idx.has(id);
    return '<a class="ev' + (known ? "" : " missing") + '" data-id="' + esc(id) + '" title="' + esc(id) + '">' + esc(shortID(id)) + "</a>";
  }
  function idList(ids, ordered) {
    if (!ids || ids.length === 0) return '<span class="muted">none</span>';
    if (ordered) return "<ol>" + ids.map(function (id) { return "<li>" + evLink(id) + " " + esc(describe(id)) + "</li>"; }).join("") + "</ol>";
    return '<div class="ids">' + ids.map(evLink).join(" ") + "</div>";
  }
  function describe(id) {
    const i = idx.get(id);
    if (i === undefined) return "";
    const e = E[i];
    return e.type + (e.sk !== undefined && e.sk !== "" ? " " + e.sk : "");
  }

  function select(i, scroll) {
    selected = i;
    const e = E[i];
    // The selected event is never folded into a run: draw() shows it.
    draw();
    const m = marks.get(i) || new Set();
    const facts = [];
    facts.push("<b>" + esc(e.id) + "</b>");
    facts.push(esc(e.type) + (e.sk !== undefined ? " state_key " + esc(JSON.stringify(e.sk)) : " (not a state event)") + ", sender " + esc(e.sender) + ", depth " + e.depth);
    facts.push("prev events: " + (e.p.length ? e.p.map(function (p) { return evLink(E[p].id); }).join(" ") : '<span class="muted">none in the room</span>'));
    facts.push("auth events: " + (e.a.length ? e.a.map(function (a) { return evLink(E[a].id); }).join(" ") : '<span class="muted">none in the room</span>'));
    const roles = [];
    if (tipSet.has(i)) roles.push("forward extremity");
    if (children[i].length > 1) roles.push("fork point (" + children[i].length + " children)");
    if (e.p.length > 1) roles.push("merge");
    if (e.rej) roles.push("rejected on receipt");
    if (m.has("conflicted")) roles.push("in the conflicted set");
    if (m.has("authdiff")) roles.push("in the auth difference");
    if (m.has("subgraph")) roles.push("in the conflicted subgraph");
    if (m.has("mainline")) roles.push("on the mainline");
    if (roles.length) facts.push(roles.join("; "));
    (checksOf.get(e.id) || []).forEach(function (n) {
      const c = R.checks[n];
      facts.push("check #" + (n + 1) + " (" + esc(c.phase) + "): " + (c.allowed ? "allowed" : 'refused by <span class="rule">' + esc(c.rule) + "</span>: " + esc(c.reason)));
    });
    document.getElementById("event-facts").innerHTML = facts.join("<br>");
    document.getElementById("event-json").textContent = indentJSON(e.json);
    if (scroll) {
      const node = document.querySelector('#dag .node[data-id="' + CSS.escape(e.id) + '"]');
      if (node) node.scrollIntoView({ block: "center", inline: "nearest" });
    }
  }

  function renderResolution() {
    const el = document.getElementById("resolution");
    if (!R) {
      el.innerHTML = "<h2>Resolution</h2><p>" + esc(D.note || "Nothing to resolve: the room has one forward extremity.") + "</p>";
      return;
    }
    const h = [];
    h.push("<h2>Resolution: " + esc(R.title) + "</h2>");
    h.push("<p>Algorithm: <b>" + esc(R.algorithm) + "</b>. " + R.labels.length + " state sets: " +
      R.labels.map(function (l, k) { return esc(l) + " (" + R.set_sizes[k] + " entries)"; }).join("; ") + ".</p>");
    h.push('<h3 id="conflicts">Conflicted keys (' + R.conflicts.length + ")</h3>");
    if (R.conflicts.length) {
      h.push("<table><tr><th>type</th><th>state key</th>" + R.labels.map(function (l, k) { return "<th>set " + (k + 1) + "</th>"; }).join("") + "<th>resolved</th></tr>");
      R.conflicts.forEach(function (row) {
        const n = row.length;
        h.push("<tr><td>" + esc(row[0]) + "</td><td>" + esc(row[1]) + "</td>" +
          row.slice(2, n - 1).map(function (id) { return "<td>" + evLink(id) + "</td>"; }).join("") +
          '<td class="res">' + evLink(row[n - 1]) + "</td></tr>");
      });
      h.push("</table>");
    } else h.push('<span class="muted">none: the state sets agree</span>');
    h.push('<h3 id="conflicted">Conflicted set (' + R.conflicted.length + ")</h3>" + idList(R.conflicted));
    if (!R.v1) {
      h.push('<h3 id="auth-difference">Auth difference (' + (R.auth_difference || []).length + ")</h3>" + idList(R.auth_difference));
      if (R.v21) h.push('<h3 id="subgraph">Conflicted state subgraph (' + (R.subgraph || []).length + ")</h3>" + idList(R.subgraph));
      h.push('<h3 id="full-conflicted">Full conflicted set (' + (R.full_conflicted || []).length + ")</h3>" + idList(R.full_conflicted));
      h.push('<h3 id="power-order">Power events, reverse topological power order (' + (R.power_events || []).length + ")</h3>" + idList(R.power_events, true));
      h.push('<h3 id="mainline">Mainline of the resolved power levels, newest first (' + (R.mainline || []).length + ")</h3>" + idList(R.mainline, true));
      h.push('<h3 id="mainline-order">Other events, mainline order (' + (R.others || []).length + ")</h3>" + idList(R.others, true));
    }
    h.push('<h3 id="checks">Iterative auth checks (' + R.checks.length + ")</h3>");
    if (R.checks.length) {
      h.push('<table id="checks-table"><tr><th>#</th><th>phase</th><th>event</th><th>type / state key</th><th>verdict</th></tr>');
      R.checks.forEach(function (c, n) {
        h.push('<tr class="' + (c.allowed ? "allowed" : "refused") + '"><td>' + (n + 1) + "</td><td>" + esc(c.phase) + "</td><td>" + evLink(c.id) +
          "</td><td>" + esc(c.type) + (c.sk ? " " + esc(c.sk) : "") + "</td><td>" +
          (c.allowed ? "allowed" : 'refused by <span class="rule">' + esc(c.rule) + "</span>: " + esc(c.reason)) + "</td></tr>");
      });
      h.push("</table>");
    } else h.push('<span class="muted">none</span>');
    h.push("<details><summary><b>Resolved state</b> (" + R.result.length + " entries)</summary><table><tr><th>type</th><th>state key</th><th>event</th></tr>" +
      R.result.map(function (r) { return "<tr><td>" + esc(r[0]) + "</td><td>" + esc(r[1]) + "</td><td>" + evLink(r[2]) + "</td></tr>"; }).join("") + "</table></details>");
    el.innerHTML = h.join("");
  }

  function summary() {
    const states = E.filter(function (e) { return e.sk !== undefined; }).length;
    document.getElementById("summary").innerHTML = "room <b>" + esc(D.room_id) + "</b>, version " + esc(D.version) + ", " + N + " events (" + states +
      " state), " + D.forks.length + " forks, " + D.tips.length + " forward extremities" + (D.source ? ' <span class="muted">from ' + esc(D.source) + "</span>" : "");
  }

  function setStatus(extra) {
    const collapsed = V.filter(function (v) { return v.ev === undefined; }).length;
    document.getElementById("status").textContent = "rendered " + V.length + " nodes for " + N + " events (" + collapsed + " collapsed runs)" + (extra || "");
    body.dataset.status = "rendered";
    body.dataset.nodes = String(V.length);
  }

  document.addEventListener("click", function (ev) {
    const a = ev.target.closest("a.ev");
    if (a) {
      const i = idx.get(a.dataset.id);
      if (i !== undefined) select(i, true);
      return;
    }
    const g = ev.target.closest("#dag .node, #dag .rowbg");
    if (!g) return;
    const v = V[Number(g.dataset.k)];
    if (v.ev === undefined) { expanded.add(v.members[0]); draw(); setStatus(); }
    else { select(v.ev, false); setStatus(); }
  });
  document.getElementById("show-auth").addEventListener("change", function () { const n = draw(); setStatus(", " + n + " auth edges"); });
  document.getElementById("collapse").addEventListener("change", function (e) { collapse = e.target.checked; draw(); setStatus(); });
  document.getElementById("expand-all").addEventListener("click", function () {
    document.getElementById("collapse").checked = false; collapse = false; draw(); setStatus();
  });

  // The address's fragment can set the view: #event=<id>&auth=1&collapse=0
  // (links to a view, and the page's tests).
  const opts = new URLSearchParams(location.hash.slice(1));
  try {
    summary();
    renderResolution();
    if (opts.get("auth") === "1") document.getElementById("show-auth").checked = true;
    if (opts.get("collapse") === "0") { document.getElementById("collapse").checked = false; collapse = false; }
    const authEdges = draw();
    if (opts.has("event")) {
      const i = idx.get(opts.get("event"));
      if (i === undefined) throw new Error("no event " + opts.get("event") + " in the room");
      select(i, true);
    }
    setStatus(opts.get("auth") === "1" ? ", " + authEdges + " auth edges" : "");
  } catch (e) {
    fail(e && e.message ? e.message : String(e));
    throw e;
  }
})();
