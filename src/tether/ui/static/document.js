// Document view: scroll to the cited span; owners and admins edit readers, re-index or delete.
"use strict";
(function () {
  const mark = document.getElementById("cite");
  if (mark) { mark.scrollIntoView({ block: "center" }); mark.focus({ preventScroll: true }); }
  const manage = document.getElementById("manage");
  if (!manage) return;
  const id = manage.dataset.docId;
  const status = document.getElementById("manage-status");

  async function call(method, url, body) {
    const r = await fetch(url, {
      method: method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined,
    });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error.message);
    return data;
  }

  async function waitFor(url) {
    for (;;) {
      const data = await call("GET", url);
      if (data.finished) return data.jobs[0];
      await new Promise((res) => setTimeout(res, 700));
    }
  }

  async function reindex(body, label) {
    status.textContent = label + "…";
    try {
      const job = await waitFor((await call("POST", "/v1/documents/" + id + "/reindex", body)).status_url);
      status.textContent = job.status === "done" ? label + ": " + job.result_status + "." : label + " failed: " + job.error.message;
    } catch (err) { status.textContent = label + " failed: " + err.message; }
  }

  document.getElementById("acl-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const acl = document.getElementById("new-acl").value.split(",").map((s) => s.trim()).filter(Boolean);
    reindex({ acl: acl }, "Saving readers");
  });
  document.getElementById("reindex").addEventListener("click", () => reindex({}, "Re-indexing"));
  document.getElementById("delete").addEventListener("click", async () => {
    if (!confirm("Delete this document and everything derived from it?")) return;
    try { await call("DELETE", "/v1/documents/" + id); location.href = "/ui/documents"; }
    catch (err) { status.textContent = "Delete failed: " + err.message; }
  });
})();
