// Chat: POST /v1/ask as Server-Sent Events over fetch; draft tokens live, then the grounded answer.
"use strict";
(function () {
  const form = document.getElementById("ask");
  const box = document.getElementById("question");
  const log = document.getElementById("log");
  const send = document.getElementById("send");

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function citeHref(c) {
    return "/ui/documents/" + c.document_id + "?start=" + c.doc_start + "&end=" + c.doc_end + "#cite";
  }

  // The answer text with each [n] marker turned into a chip linking to the cited span.
  function renderAnswer(target, answer) {
    const byNum = {};
    for (const c of answer.citations || []) if (!(c.number in byNum)) byNum[c.number] = c;
    const p = el("p", { class: "answer-text", "data-testid": "answer" });
    const parts = answer.text.split(/(\[\d+(?:\s*[,\u2013-]\s*\d+)*\])/);
    for (const part of parts) {
      const m = part.match(/^\[(\d+)\]$/);
      if (m && byNum[m[1]]) {
        const c = byNum[m[1]];
        p.appendChild(el("a", { class: "chip", href: citeHref(c), title: c.title, "data-testid": "citation" }, m[1]));
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
  function renderFeedback(target, traceId, question, answer) {
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
      const body = JSON.stringify({ trace_id: traceId, rating: rating, comment: comment.value.trim(), question: question, answer: answer });
      let r, data;
      for (let attempt = 0; attempt < 4; attempt++) {
        r = await fetch("/v1/feedback", { method: "POST", headers: { "Content-Type": "application/json" }, body: body });
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
        method: "POST", headers: { "Content-Type": "application/json" },
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

  async function ask(question) {
    const turn = el("div", { class: "turn" });
    turn.appendChild(el("p", { class: "q" }, question));
    const reply = el("div", { class: "a", "aria-busy": "true" });
    const draft = el("p", { class: "draft", "data-testid": "draft" });
    reply.appendChild(draft);
    turn.appendChild(reply);
    log.appendChild(turn);
    let retracted = 0;
    const resp = await fetch("/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question: question, stream: true }),
    });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({ error: { message: resp.statusText } }));
      if (resp.status === 401) { location.href = "/ui/sign-in"; return; }
      draft.replaceWith(el("p", { class: "error", role: "alert" }, data.error.message));
      reply.removeAttribute("aria-busy");
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
        if (ev.type === "token") draft.textContent += ev.text;
        else if (ev.type === "retract") retracted += 1;
        else if (ev.type === "error") draft.replaceWith(el("p", { class: "error", role: "alert" }, ev.error.message));
        else if (ev.type === "done") {
          draft.remove();
          const traceId = ev.trace_id || ev.answer.trace_id || null;
          if (ev.answer.abstained) renderAbstention(reply, question, ev.answer, traceId);
          else renderAnswer(reply, ev.answer);
          if (retracted && !ev.answer.abstained)
            reply.appendChild(el("p", { class: "hint" }, retracted + " unsupported sentence(s) removed."));
          if (traceId && !ev.answer.abstained) renderFeedback(reply, traceId, question, ev.answer);
        }
      }
    }
    reply.removeAttribute("aria-busy");
    turn.scrollIntoView({ block: "end" });
  }

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
})();
