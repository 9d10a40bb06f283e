// Chat: conversations (/v1/conversations) with a thread list beside the log. Each question is a
// turn, streamed as Server-Sent Events over fetch: the rewritten standalone question (when the
// follow-up was rewritten), draft tokens live, then the grounded answer. ?c=ID names the thread,
// so a reload shows it again and the next question continues it.
"use strict";
(function () {
  const form = document.getElementById("ask");
  const box = document.getElementById("question");
  const log = document.getElementById("log");
  const send = document.getElementById("send");
  const list = document.getElementById("threads");
  const listStatus = document.getElementById("threads-status");
  const threadTitle = document.getElementById("thread-title");
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let current = new URLSearchParams(location.search).get("c");
  let threads = [];

  async function api(method, url, body) {
    const headers = { "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(url, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status === 401) { location.href = "/ui/sign-in"; throw new Error("signed out"); }
    const data = await r.json().catch(() => ({ error: { message: r.statusText } }));
    if (!r.ok) throw new Error(data.error ? data.error.message : r.statusText);
    return data;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function citeHref(c) {
    return "/ui/documents/" + c.document_id + "?start=" + c.doc_start + "&end=" + c.doc_end + "#cite";
  }

  // The answer text with each [n] marker turned into a chip linking to the cited span. Where an
  // official source (an authoritative collection) was among the answer's sources, cited or not,
  // the citations of the others are labelled.
  const UNOFFICIAL = "not an official source";
  function renderAnswer(target, answer, sources) {
    const byNum = {};
    for (const c of answer.citations || []) if (!(c.number in byNum)) byNum[c.number] = c;
    const official = Object.values(byNum).some((c) => c.authoritative) || (sources || []).some((s) => s.authoritative);
    const unofficial = (c) => official && !c.authoritative;
    const p = el("p", { class: "answer-text", "data-testid": "answer" });
    const parts = answer.text.split(/(\[\d+(?:\s*[,\u2013-]\s*\d+)*\])/);
    for (const part of parts) {
      const m = part.match(/^\[(\d+)\]$/);
      if (m && byNum[m[1]]) {
        const c = byNum[m[1]];
        p.appendChild(el("a", { class: unofficial(c) ? "chip unofficial" : "chip", href: citeHref(c), "data-testid": "citation",
                                title: unofficial(c) ? c.title + " (" + UNOFFICIAL + ")" : c.title }, m[1]));
      } else {
        p.appendChild(document.createTextNode(part));
      }
    }
    target.appendChild(p);
    const nums = Object.keys(byNum).sort((a, b) => a - b);
    if (nums.length) {
      const ol = el("ol", { class: "sources", "aria-label": "Sources" });
      for (const n of nums) {
        const c = byNum[n];
        const li = el("li", { value: n });
        li.appendChild(el("a", { href: citeHref(c) }, c.title));
        if (c.authoritative) li.appendChild(el("span", { class: "badge official", "data-testid": "official" }, "official"));
        if (unofficial(c)) li.appendChild(el("span", { class: "badge unofficial", "data-testid": "unofficial" }, UNOFFICIAL));
        li.appendChild(el("span", { class: "hint" }, " chars " + c.doc_start + "–" + c.doc_end));
        ol.appendChild(li);
      }
      target.appendChild(ol);
    }
  }

  // 👍/👎 (and an optional comment) on an answer: POST /v1/feedback with the trace id; a thumbs-down
  // sends the question and this answer to the review queue. The trace is stored as the stream
  // closes, so a 404 right after the answer is retried briefly.
  let feedbackSeq = 0;
  function renderFeedback(target, traceId, question, answer, turnUrl, rated) {
    const n = ++feedbackSeq;
    const box = el("div", { class: "feedback", role: "group", "aria-label": "Rate this answer", "data-testid": "feedback" });
    function thumb(icon, text, testid) {
      const b = el("button", { type: "button", "aria-pressed": "false", "data-testid": testid });
      b.append(el("span", { "aria-hidden": "true" }, icon + " "), text);
      return b;
    }
    const up = thumb("\u{1F44D}", "Helpful", "thumbs-up");
    const down = thumb("\u{1F44E}", "Not helpful", "thumbs-down");
    const label = el("label", { for: "feedback-comment-" + n, class: "sr-only" }, "Comment on this answer (optional)");
    const comment = el("input", { id: "feedback-comment-" + n, type: "text", maxlength: "2000", placeholder: "Comment (optional)", "data-testid": "feedback-comment" });
    const note = el("span", { class: "hint", role: "status", "data-testid": "feedback-status" });
    async function rate(rating) {
      up.disabled = down.disabled = true;
      const body = JSON.stringify(turnUrl ? { rating: rating, comment: comment.value.trim() }
        : { trace_id: traceId, rating: rating, comment: comment.value.trim(), question: question, answer: answer });
      let r, data;
      for (let attempt = 0; attempt < 4; attempt++) {
        r = await fetch(turnUrl ? turnUrl + "/feedback" : "/v1/feedback",
                        { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: body });
        data = await r.json().catch(() => ({ error: { message: r.statusText } }));
        if (r.status !== 404) break;
        await new Promise((res) => setTimeout(res, 400));
      }
      up.disabled = down.disabled = false;
      if (!r.ok) { note.textContent = " " + data.error.message; return; }
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      note.textContent = rating === "up" ? " Thanks for the feedback."
        : " Thanks. Sent to a reviewer (request #" + data.review_id + "); see My questions.";
    }
    up.setAttribute("aria-pressed", String(rated === "up"));
    down.setAttribute("aria-pressed", String(rated === "down"));
    up.addEventListener("click", () => rate("up"));
    down.addEventListener("click", () => rate("down"));
    box.append(up, down, label, comment, note);
    target.appendChild(box);
  }

  function renderAbstention(target, question, answer, traceId) {
    const box = el("div", { class: "abstain", role: "status", "data-testid": "abstained" });
    box.appendChild(el("strong", {}, "Not found in your documents."));
    box.appendChild(el("p", {}, answer.text));
    const btn = el("button", { type: "button", "data-testid": "ask-human" }, "Ask a human");
    const note = el("span", { class: "hint", role: "status" });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      const r = await fetch("/v1/review-requests", {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ question: question, reason: (answer.reasons || []).join(", "), answer: answer,
                               trace_id: traceId || null }),
      });
      const data = await r.json();
      note.textContent = r.ok ? " Sent to a reviewer (request #" + data.id + ")." : " " + data.error.message;
      if (!r.ok) btn.disabled = false;
    });
    box.appendChild(btn);
    box.appendChild(note);
    target.appendChild(box);
  }

  // The question, and under it the standalone question the follow-up was searched as.
  function renderQuestion(turn, question, standalone) {
    turn.appendChild(el("p", { class: "q", "data-testid": "question" }, question));
    if (standalone) showStandalone(turn, standalone);
  }

  function showStandalone(turn, standalone) {
    const p = el("p", { class: "standalone hint", "data-testid": "standalone" }, "Searched as: ");
    p.appendChild(el("q", {}, standalone));
    turn.querySelector(".q").after(p);
  }

  // The answer part of a turn (streamed, or stored and re-checked against permissions now).
  function renderResult(reply, question, answer, traceId, turnUrl, rated, redacted, retracted, sources) {
    if (redacted) reply.appendChild(el("p", { class: "withheld", "data-testid": "redacted" }, answer.text));
    else if (answer.abstained) renderAbstention(reply, question, answer, traceId);
    else renderAnswer(reply, answer, sources);
    if (retracted && !answer.abstained)
      reply.appendChild(el("p", { class: "hint" }, retracted + " unsupported sentence(s) removed."));
    if (traceId && !answer.abstained && !redacted) renderFeedback(reply, traceId, question, answer, turnUrl, rated);
  }

  function turnUrl(cid, ordinal) {
    return "/v1/conversations/" + encodeURIComponent(cid) + "/turns/" + ordinal;
  }

  async function ask(question) {
    const turn = el("div", { class: "turn", "data-testid": "turn" });
    renderQuestion(turn, question, null);
    const reply = el("div", { class: "a", "aria-busy": "true" });
    const draft = el("p", { class: "draft", "data-testid": "draft" });
    reply.appendChild(draft);
    turn.appendChild(reply);
    log.appendChild(turn);
    let retracted = 0, ordinal = null, standaloneShown = false, sources = [];
    function fail(message) {
      draft.replaceWith(el("p", { class: "error", role: "alert" }, message));
      reply.removeAttribute("aria-busy");
    }
    if (!current) {
      try { openThread(await api("POST", "/v1/conversations", {}), false); } catch (e) { fail(e.message); return; }
    }
    const cid = current;
    const resp = await fetch("/v1/conversations/" + encodeURIComponent(cid) + "/turns", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRF-Token": csrf },
      body: JSON.stringify({ question: question, stream: true }),
    });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({ error: { message: resp.statusText } }));
      if (resp.status === 401) { location.href = "/ui/sign-in"; return; }
      fail(data.error.message);
      return;
    }
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const line = raw.split("\n").find((l) => l.startsWith("data: "));
        if (!line) continue;
        const ev = JSON.parse(line.slice(6));
        if (ev.type === "rewrite") {
          if (ev.rewritten && !standaloneShown) { showStandalone(turn, ev.standalone); standaloneShown = true; }
        } else if (ev.type === "token") draft.textContent += ev.text;
        else if (ev.type === "replace") draft.textContent = ev.text;  // the output guard's version replaces the draft
        else if (ev.type === "retract") retracted += 1;
        else if (ev.type === "sources") sources = ev.sources;
        else if (ev.type === "error") draft.replaceWith(el("p", { class: "error", role: "alert" }, ev.error.message));
        else if (ev.type === "turn") {
          ordinal = ev.turn.ordinal;
          if (ev.turn.rewritten && !standaloneShown) { showStandalone(turn, ev.turn.standalone); standaloneShown = true; }
          loadThreads();
        } else if (ev.type === "done") {
          draft.remove();
          const traceId = ev.trace_id || ev.answer.trace_id || null;
          renderResult(reply, question, ev.answer, traceId, ordinal === null ? null : turnUrl(cid, ordinal), null,
                       false, retracted, sources);
        }
      }
    }
    reply.removeAttribute("aria-busy");
    turn.scrollIntoView({ block: "end" });
  }

  // --- the thread list -------------------------------------------------------------------------
  function setStatus(text) { listStatus.textContent = text; }

  function openThread(t, push) {
    current = t.id;
    threadTitle.textContent = t.title || "New conversation";
    const url = "/ui/chat?c=" + encodeURIComponent(t.id);
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
    markCurrent();
  }

  function markCurrent() {
    for (const li of list.children) {
      const a = li.querySelector("a");
      if (li.dataset.id === current) a.setAttribute("aria-current", "true"); else if (a) a.removeAttribute("aria-current");
    }
  }

  function renderThreads() {
    list.replaceChildren();
    for (const t of threads) list.appendChild(threadItem(t));
    if (!threads.length) list.appendChild(el("li", { class: "hint" }, "No conversations yet."));
    markCurrent();
  }

  function threadItem(t) {
    const title = t.title || "Untitled";
    const li = el("li", { "data-testid": "thread", "data-id": t.id });
    li.appendChild(el("a", { href: "/ui/chat?c=" + encodeURIComponent(t.id), "data-testid": "thread-open" }, title));
    li.appendChild(el("span", { class: "hint" }, " " + t.turn_count + (t.turn_count === 1 ? " turn" : " turns")));
    const actions = el("span", { class: "thread-actions" });
    const rename = el("button", { type: "button", class: "secondary", "aria-label": "Rename " + title, "data-testid": "thread-rename" }, "Rename");
    const del = el("button", { type: "button", class: "danger", "aria-label": "Delete " + title, "data-testid": "thread-delete" }, "Delete");
    rename.addEventListener("click", () => startRename(li, t));
    del.addEventListener("click", () => removeThread(t));
    actions.append(rename, del);
    li.appendChild(actions);
    return li;
  }

  function startRename(li, t) {
    const f = el("form", { class: "rename", "data-testid": "rename-form" });
    const id = "rename-" + t.id;
    f.appendChild(el("label", { for: id, class: "sr-only" }, "New title"));
    const input = el("input", { id: id, type: "text", maxlength: "500", required: "" });
    input.value = t.title || "";
    const save = el("button", { type: "submit" }, "Save");
    const cancel = el("button", { type: "button", class: "secondary" }, "Cancel");
    f.append(input, save, cancel);
    li.replaceChildren(f);
    input.focus();
    input.select();
    const back = () => { renderThreads(); focusIn(t.id, "thread-rename"); };
    cancel.addEventListener("click", back);
    input.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); back(); } });
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      try {
        const out = await api("PATCH", "/v1/conversations/" + encodeURIComponent(t.id), { title: title });
        t.title = out.title;
        if (t.id === current) threadTitle.textContent = out.title;
        setStatus("Renamed to \u201c" + out.title + "\u201d.");
      } catch (err) { setStatus(err.message); }
      back();
    });
  }

  async function removeThread(t) {
    const title = t.title || "Untitled";
    if (!window.confirm("Delete \u201c" + title + "\u201d and all its turns?")) return;
    try {
      await api("DELETE", "/v1/conversations/" + encodeURIComponent(t.id));
    } catch (err) { setStatus(err.message); return; }
    threads = threads.filter((x) => x.id !== t.id);
    if (t.id === current) startNew();
    renderThreads();
    setStatus("Deleted \u201c" + title + "\u201d.");
    document.getElementById("new-thread").focus();
  }

  function focusIn(id, testid) {
    const li = [...list.children].find((x) => x.dataset.id === id);
    const target = li && li.querySelector('[data-testid="' + testid + '"]');
    if (target) target.focus();
  }

  async function loadThreads() {
    try { threads = (await api("GET", "/v1/conversations")).conversations; } catch (err) { setStatus(err.message); return; }
    renderThreads();
    const t = threads.find((x) => x.id === current);
    if (t) threadTitle.textContent = t.title || "New conversation";
  }

  function startNew() {
    current = null;
    log.replaceChildren();
    threadTitle.textContent = "New conversation";
    history.pushState(null, "", "/ui/chat");
    markCurrent();
  }

  // The stored turns of the thread in ?c=, as the signed-in user may see them now.
  async function loadCurrent() {
    if (!current) { threadTitle.textContent = "New conversation"; return; }
    let t;
    try { t = await api("GET", "/v1/conversations/" + encodeURIComponent(current)); } catch (err) {
      log.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      current = null;
      history.replaceState(null, "", "/ui/chat");
      return;
    }
    threadTitle.textContent = t.title || "New conversation";
    log.replaceChildren();
    for (const turn of t.turns) {
      const div = el("div", { class: "turn", "data-testid": "turn" });
      renderQuestion(div, turn.question, turn.rewritten ? turn.standalone : null);
      const reply = el("div", { class: "a" });
      div.appendChild(reply);
      log.appendChild(div);
      const answer = (turn.result || {}).answer || { text: "", citations: [], abstained: true };
      renderResult(reply, turn.question, answer, turn.trace_id, turnUrl(t.id, turn.ordinal), turn.feedback,
                   turn.redacted, 0, (turn.result || {}).sources);
    }
  }

  document.getElementById("new-thread").addEventListener("click", () => { startNew(); box.focus(); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = box.value.trim();
    if (!q) return;
    box.value = "";
    send.disabled = true;
    try { await ask(q); } finally { send.disabled = false; box.focus(); }
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  loadCurrent().then(loadThreads);
})();
