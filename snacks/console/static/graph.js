// Each execution drawn on the workflow graph read from the ASL: dagre lays it out, SVG draws it.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const graph = JSON.parse(document.getElementById("workflow-graph").textContent);
  const executions = JSON.parse(document.getElementById("executions").textContent);

  function layout() {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: 34, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const node of graph.nodes) {
      const width = node.synthetic ? 64 : Math.max(96, node.id.length * 7.5 + 28);
      g.setNode(node.id, { width: width, height: node.synthetic ? 28 : 40, node: node });
    }
    for (const edge of graph.edges) g.setEdge(edge.source, edge.target, { edge: edge });
    dagre.layout(g);
    return g;
  }

  function el(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (parent) parent.appendChild(element);
    return element;
  }

  function pretty(text) {
    if (text === null || text === undefined) return "—";
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return String(text); }
  }

  // A Lambda error's cause is JSON with errorMessage (and a stack trace): lead with the message.
  function errorMessage(cause) {
    try { return JSON.parse(cause).errorMessage || cause; } catch (e) { return cause; }
  }

  function showDetails(panel, nodeInfo, state) {
    panel.replaceChildren();
    const add = (tag, text, className) => {
      const element = document.createElement(tag);
      element.textContent = text;
      if (className) element.className = className;
      panel.appendChild(element);
      return element;
    };
    add("h4", nodeInfo.id).dataset.state = nodeInfo.id;
    add("p", nodeInfo.type + (nodeInfo.comment ? " · " + nodeInfo.comment : ""), "hint");
    if (!state) {
      add("p", "Not taken in this execution.", "outcome not-taken");
      if (nodeInfo.retries.length) add("p", "Retries on: " + nodeInfo.retries.join(", "), "hint");
      return;
    }
    add("p", "Outcome: " + state.outcome, "outcome " + state.outcome);
    add("p", "Attempts: " + state.attempts, "attempts");
    add("p", "Duration: " + (state.duration_ms === null ? "running" : state.duration_ms + " ms"), "duration");
    add("p", "Entered: " + state.entered, "hint");
    state.failures.forEach((failure, index) => {
      const box = add("div", "", "attempt-error");
      const title = document.createElement("strong");
      title.textContent = "Attempt " + (index + 1) + ": " + failure.error;
      const message = document.createElement("p");
      message.textContent = errorMessage(failure.cause);
      const full = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "full cause";
      const cause = document.createElement("pre");
      cause.textContent = pretty(failure.cause);
      full.append(summary, cause);
      box.append(title, message, full);
    });
    add("h5", "Input");
    add("pre", pretty(state.input), "state-input");
    add("h5", "Output");
    add("pre", pretty(state.output), "state-output");
  }

  function draw(container, panel, g, execution) {
    const states = new Map(execution.states.map((state) => [state.name, state]));
    const taken = new Set(execution.path.map((pair) => pair[0] + "->" + pair[1]));
    if (execution.states.length) {
      const names = execution.states.map((state) => state.name);
      taken.add("Start->" + names[0]);
      if (execution.status !== "RUNNING") taken.add(names[names.length - 1] + "->End");
    }
    // dagre's size covers the nodes; an edge routed around them (InStock -> Cancelled) may reach past
    // it: the view box covers every node and every edge point, with room for the arrowheads.
    const bounds = { left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity };
    const cover = (x, y) => {
      bounds.left = Math.min(bounds.left, x); bounds.right = Math.max(bounds.right, x);
      bounds.top = Math.min(bounds.top, y); bounds.bottom = Math.max(bounds.bottom, y);
    };
    for (const id of g.nodes()) {
      const box = g.node(id);
      cover(box.x - box.width / 2, box.y - box.height / 2);
      cover(box.x + box.width / 2, box.y + box.height / 2);
    }
    for (const id of g.edges()) for (const point of g.edge(id).points) cover(point.x, point.y);
    const margin = 12;
    const left = bounds.left - margin, top = bounds.top - margin;
    const width = bounds.right - bounds.left + 2 * margin, height = bounds.bottom - bounds.top + 2 * margin;
    // Natural size at most; the stylesheet lets it shrink to the column it is in.
    const svg = el("svg", { viewBox: `${left} ${top} ${width} ${height}`, class: "workflow", style: `max-width: ${width}px` }, container);
    const defs = el("defs", {}, svg);
    for (const kind of ["plain", "taken"]) {
      const marker = el("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", class: `arrowhead ${kind}` }, marker);
    }
    for (const id of g.edges()) {
      const data = g.edge(id);
      const isTaken = taken.has(id.v + "->" + id.w);
      const d = data.points.map((point, i) => (i ? "L" : "M") + point.x + "," + point.y).join(" ");
      el("path", {
        d: d,
        class: `edge ${data.edge.kind}${isTaken ? " taken" : ""}`,
        "data-edge": id.v + "->" + id.w,
        "marker-end": `url(#arrow-${isTaken ? "taken" : "plain"})`,
      }, svg);
    }
    for (const id of g.nodes()) {
      const box = g.node(id);
      const info = box.node;
      const state = states.get(id);
      let outcome = state ? state.outcome : "not-taken";
      if (info.synthetic) outcome = execution.states.length && (id === "Start" || execution.status !== "RUNNING") ? "marker-taken" : "not-taken";
      const group = el("g", { class: `state ${outcome}${info.synthetic ? " synthetic" : ""}`, "data-state": id, "data-outcome": outcome, tabindex: 0, role: "button" }, svg);
      const x = box.x - box.width / 2, y = box.y - box.height / 2;
      if (info.synthetic) el("ellipse", { cx: box.x, cy: box.y, rx: box.width / 2, ry: box.height / 2 }, group);
      else el("rect", { x: x, y: y, width: box.width, height: box.height, rx: 6 }, group);
      const label = el("text", { x: box.x, y: box.y + 4, "text-anchor": "middle" }, group);
      label.textContent = id;
      if (state && state.attempts > 1) {
        const badge = el("text", { x: x + box.width - 6, y: y + 12, "text-anchor": "end", class: "attempts-badge" }, group);
        badge.textContent = "×" + state.attempts;
      }
      const title = el("title", {}, group);
      title.textContent = `${id} (${info.type}): ${outcome}`;
      if (!info.synthetic) {
        const open = () => {
          for (const selected of svg.querySelectorAll("g.selected")) selected.classList.remove("selected");
          group.classList.add("selected");
          showDetails(panel, info, state);
        };
        group.addEventListener("click", open);
        group.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") open(); });
      }
    }
  }

  const g = layout();
  for (const section of document.querySelectorAll("section.execution")) {
    const execution = executions[parseInt(section.dataset.execution, 10)];
    draw(section.querySelector(".graph"), section.querySelector(".state-details"), g, execution);
  }

  // While the order is still moving, show its next steps as they happen.
  const status = document.getElementById("graph-script").dataset.orderStatus;
  const running = executions.some((execution) => execution.status === "RUNNING");
  if (status === "NEW" || running) setTimeout(() => location.reload(), 1500);
})();
