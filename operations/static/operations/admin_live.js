/* Live operations pages in the admin: the changelist, an operation's page and the dashboard's
 * running list. No library, no build step.
 *
 * Every live cell is <span data-hs-op="ID" data-hs-field="NAME">; the server renders them
 * (operations/admin_live.py) and this script only swaps their HTML. It keeps exactly one
 * request open: GET live/?ids=...&view=...&wait=S with If-None-Match: the version the page shows.
 * The server answers 200 as soon as any of those operations changed (the new version and every
 * cell), or 304 after S seconds. While nothing on the page is pending or running, S is the idle
 * wait: one idle long-poll at a time and no other request.
 *
 * Cancel/Retry buttons (row buttons, the change page's buttons) post with Accept: application/json
 * and refill the row from the answer at once.
 */
(function () {
  "use strict";

  var configElement = document.getElementById("hs-live-config");
  if (!configElement) return;
  var config = JSON.parse(configElement.textContent);
  var csrf = configElement.getAttribute("data-csrf") || "";
  var version = config.version;
  var active = config.active;
  var failures = 0;
  var stopped = false;
  // The newest state applied per operation: a long-poll answered before a Cancel may arrive
  // after the Cancel's own answer, and must not put the older row back.
  var stamps = {};

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function watchedIds() {
    var seen = {};
    var ids = [];
    document.querySelectorAll("[data-hs-op]").forEach(function (el) {
      var id = el.getAttribute("data-hs-op");
      if (!seen[id]) { seen[id] = true; ids.push(id.replace(/-/g, "")); }
    });
    return ids;
  }

  function note(text, isError) {
    var el = document.getElementById("hs-live-note");
    if (!el) return;
    el.textContent = text || "";
    el.classList.toggle("hs-live-note--error", !!isError);
  }

  function apply(id, state) {
    if (stamps[id] !== undefined && state.stamp < stamps[id]) return;
    stamps[id] = state.stamp;
    var cells = state.cells || {};
    Object.keys(cells).forEach(function (field) {
      var selector = '[data-hs-op="' + id + '"][data-hs-field="' + field + '"]';
      document.querySelectorAll(selector).forEach(function (el) {
        if (el.innerHTML !== cells[field]) el.innerHTML = cells[field];
      });
    });
    // The change page's Cancel/Retry buttons: shown when the new state allows them.
    document.querySelectorAll('[data-hs-show][data-hs-op="' + id + '"]').forEach(function (el) {
      var act = el.getAttribute("data-hs-show");
      el.hidden = !(act === "cancel" ? state.can_cancel : state.can_retry);
    });
  }

  async function poll() {
    while (!stopped) {
      var ids = watchedIds();
      if (!ids.length) return;
      var wait = active ? config.active_wait : config.idle_wait;
      var url = config.url + "?view=" + encodeURIComponent(config.view) + "&wait=" + wait +
        "&ids=" + ids.join(",");
      try {
        var response = await fetch(url, {
          headers: version ? { "If-None-Match": version } : {},
          cache: "no-store",
          credentials: "same-origin",
        });
        if (response.status === 200) {
          var data = await response.json();
          version = data.version;
          active = data.active;
          Object.keys(data.operations).forEach(function (id) { apply(id, data.operations[id]); });
          failures = 0;
        } else if (response.status === 304) {
          failures = 0;
        } else if (response.status === 403 || response.status === 302) {
          note("Live updates stopped: sign in again to see changes.", true);
          return;
        } else {
          throw new Error("HTTP " + response.status);
        }
      } catch (error) {
        // Server restarting or network gone: back off (1 s, 2 s, ... up to 30 s), then resume.
        failures += 1;
        await sleep(Math.min(30000, 1000 * Math.pow(2, failures - 1)));
      }
    }
  }

  async function act(button, url, view) {
    button.disabled = true;
    try {
      var response = await fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "view=" + view, {
        method: "POST",
        headers: { "Accept": "application/json", "X-CSRFToken": csrf },
        credentials: "same-origin",
      });
      var data = await response.json();
      if (data.operation) apply(data.operation.id, data.operation);
      note(data.message, !data.ok);
      if (data.operation && data.operation.status !== "completed" &&
          data.operation.status !== "failed" && data.operation.status !== "cancelled") {
        active = true;
      }
    } catch (error) {
      note("The request failed: " + error, true);
    } finally {
      button.disabled = false;
    }
  }

  // Row buttons (changelist, dashboard): delegated, since their cells are replaced.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-hs-act]");
    if (!button) return;
    event.preventDefault();
    act(button, button.getAttribute("data-hs-url"), config.view);
  });
  // The change page's forms keep working without JavaScript; with it they post in place.
  document.querySelectorAll("form.hs-act-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      act(form.querySelector("button"), form.getAttribute("action"), config.view);
    });
  });
  window.addEventListener("pagehide", function () { stopped = true; });

  poll();
})();
