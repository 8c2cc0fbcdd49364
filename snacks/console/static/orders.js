// The live orders list: re-read /api/orders every second and redraw the rows (no page reload).
(function () {
  "use strict";
  const script = document.getElementById("orders-script");
  const api = script.dataset.api;
  const orderUrl = script.dataset.orderUrl;
  const body = document.querySelector("#orders tbody");
  const count = document.getElementById("order-count");

  function age(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
    return Math.floor(seconds / 86400) + " d";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function draw(rows) {
    const fresh = document.createDocumentFragment();
    for (const order of rows) {
      const tr = document.createElement("tr");
      tr.dataset.orderId = order.orderId;
      cell(tr, order.createdAt);
      cell(tr, order.customer);
      cell(tr, String(order.lines), "num");
      cell(tr, order.total, "num");
      const status = cell(tr, "");
      const badge = document.createElement("span");
      badge.className = "status " + order.status;
      badge.textContent = order.status;
      status.appendChild(badge);
      cell(tr, age(order.ageSeconds), "num age");
      const link = document.createElement("a");
      link.href = orderUrl.replace("ORDER_ID", encodeURIComponent(order.orderId));
      link.textContent = order.orderId;
      cell(tr, "").appendChild(link);
      fresh.appendChild(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      cell(tr, "No orders yet.").colSpan = 7;
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
    count.textContent = rows.length + " order(s)";
  }

  async function refresh() {
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" } });
      if (response.ok) draw(await response.json());
    } catch (error) {
      // The server may be restarting: keep the last rows and try again.
    }
    setTimeout(refresh, 1000);
  }

  for (const row of body.querySelectorAll("td.age")) {
    row.textContent = age(parseInt(row.textContent, 10));
  }
  setTimeout(refresh, 1000);
})();
