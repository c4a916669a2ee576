// Flomation dashboard: live updates over EventSource and a few conveniences.
// Every piece of HTML inserted here was rendered (and escaped) by the server's templates;
// log lines are inserted as text only.
"use strict";

(function () {
  const MAX_LOG_LINES = 50000;
  const MAX_LIST_ROWS = 200;

  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // ---------------------------------------------------------------- executions list

  function liveList(table) {
    const url = table.dataset.events;
    if (!url) return;
    const body = table.tBodies[0];
    const state = document.getElementById("live-state");
    const source = new EventSource(url);
    source.addEventListener("row", (event) => {
      const row = fromHtml(event.data);
      if (!row) return;
      const existing = document.getElementById(row.id);
      if (existing) {
        existing.replaceWith(row);
      } else {
        body.insertBefore(row, body.firstElementChild);
        const empty = document.getElementById("no-rows");
        if (empty) empty.remove();
        while (body.rows.length > MAX_LIST_ROWS) body.deleteRow(-1);
      }
      row.classList.add("changed");
    });
    source.addEventListener("open", () => { if (state) state.textContent = "Live: new runs appear here as they start."; });
    source.addEventListener("error", () => { if (state) state.textContent = "Live updates interrupted; reconnecting…"; });
  }

  // ---------------------------------------------------------------- one execution

  function executionPage(section, log) {
    const summaryUrl = section.dataset.summary;
    const followButton = document.getElementById("log-follow");
    const search = document.getElementById("log-search");
    const count = document.getElementById("log-count");
    let following = true;
    let refreshTimer = null;

    function lineElement(seq, text) {
      const span = document.createElement("span");
      span.className = "line";
      span.dataset.seq = String(seq);
      span.textContent = text + "\n";
      applySearch(span);
      return span;
    }

    function applySearch(span) {
      const needle = search ? search.value.toLowerCase() : "";
      span.hidden = needle !== "" && !span.textContent.toLowerCase().includes(needle);
    }

    function updateCount() {
      if (!count) return;
      const total = log.children.length;
      const needle = search ? search.value : "";
      if (needle) {
        const shown = log.querySelectorAll(".line:not([hidden])").length;
        count.textContent = shown + " of " + total + " loaded lines match";
      } else {
        count.textContent = total + " lines loaded";
      }
    }

    function scrollToEnd() {
      if (following) log.scrollTop = log.scrollHeight;
    }

    function refreshSummary() {
      if (refreshTimer !== null) return;
      refreshTimer = setTimeout(async () => {
        refreshTimer = null;
        const response = await fetch(summaryUrl, { credentials: "same-origin" });
        if (!response.ok) return;
        const fresh = fromHtml(await response.text());
        const current = document.getElementById("summary");
        // Keep what someone is typing into the resume box.
        if (fresh && current && !current.contains(document.activeElement)) current.replaceWith(fresh);
      }, 300);
    }

    if (followButton) {
      followButton.addEventListener("click", () => {
        following = !following;
        followButton.setAttribute("aria-pressed", String(following));
        followButton.textContent = following ? "Following" : "Paused";
        scrollToEnd();
      });
    }
    log.addEventListener("scroll", () => {
      const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 4;
      if (!atEnd && following && followButton && document.activeElement === log) {
        following = false;
        followButton.setAttribute("aria-pressed", "false");
        followButton.textContent = "Paused";
      }
    });
    if (search) {
      search.addEventListener("input", () => {
        for (const span of log.children) applySearch(span);
        updateCount();
      });
    }

    const earlier = document.getElementById("log-earlier");
    if (earlier) {
      earlier.addEventListener("click", async () => {
        earlier.disabled = true;
        const url = earlier.dataset.url + "?before=" + encodeURIComponent(earlier.dataset.before);
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) { earlier.disabled = false; return; }
        const page = await response.json();
        const fragment = document.createDocumentFragment();
        for (const [seq, text] of page.lines) fragment.appendChild(lineElement(seq, text));
        const height = log.scrollHeight;
        log.insertBefore(fragment, log.firstChild);
        log.scrollTop += log.scrollHeight - height;
        if (page.first_seq === null || page.first_seq <= 1) {
          earlier.remove();
        } else {
          earlier.dataset.before = String(page.first_seq);
          earlier.textContent = "Load earlier lines (before line " + page.first_seq + ")";
          earlier.disabled = false;
        }
        updateCount();
      });
    }

    const searchAll = document.getElementById("log-search-all");
    if (searchAll && search) {
      searchAll.addEventListener("click", async () => {
        const needle = search.value;
        const found = document.getElementById("log-found");
        const foundCount = document.getElementById("log-found-count");
        const foundLines = document.getElementById("log-found-lines");
        if (!needle) { found.hidden = true; return; }
        const url = searchAll.dataset.url + "?q=" + encodeURIComponent(needle);
        const response = await fetch(url, { credentials: "same-origin" });
        found.hidden = false;
        foundLines.replaceChildren();
        if (!response.ok) { foundCount.textContent = "Search failed (" + response.status + ")."; return; }
        const result = await response.json();
        for (const [seq, text] of result.lines) {
          const span = document.createElement("span");
          span.className = "line";
          span.textContent = seq + ": " + text + "\n";
          foundLines.appendChild(span);
        }
        foundCount.textContent = result.lines.length + " matching lines in the whole log"
          + (result.more ? " (the latest " + result.lines.length + " shown)" : "");
      });
    }

    updateCount();
    scrollToEnd();
    const source = new EventSource(log.dataset.events);
    source.addEventListener("message", (event) => {
      const seq = Number(event.lastEventId);
      const last = log.lastElementChild;
      if (last && Number(last.dataset.seq) >= seq) return;
      log.appendChild(lineElement(seq, event.data));
      while (log.children.length > MAX_LOG_LINES) log.removeChild(log.firstElementChild);
      updateCount();
      scrollToEnd();
    });
    source.addEventListener("node", refreshSummary);
    source.addEventListener("status", refreshSummary);
    source.addEventListener("complete", () => {
      source.close();
      section.dataset.live = "no";
      refreshSummary();
    });
  }

  // ---------------------------------------------------------------- JSON editors

  function checkJson(editor) {
    const problem = editor.parentElement.querySelector(".json-problem");
    if (!problem) return;
    const text = editor.value.trim();
    if (!text) { problem.textContent = ""; return; }
    try {
      const value = JSON.parse(text);
      const wantObject = editor.name === "data";
      problem.textContent = wantObject && (value === null || typeof value !== "object" || Array.isArray(value))
        ? "Trigger data must be a JSON object." : "";
    } catch (error) {
      problem.textContent = "Not valid JSON yet: " + error.message;
    }
  }

  document.addEventListener("input", (event) => {
    if (event.target instanceof HTMLTextAreaElement && event.target.hasAttribute("data-json-editor")) {
      checkJson(event.target);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("executions");
    if (table) liveList(table);
    const section = document.getElementById("execution");
    const log = document.getElementById("log");
    if (section && log) executionPage(section, log);
  });
})();
