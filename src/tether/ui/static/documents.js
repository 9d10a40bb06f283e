// Upload with a progress bar (XMLHttpRequest upload events), then poll the ingest job.
"use strict";
(function () {
  const form = document.getElementById("upload");
  const bar = document.getElementById("progress");
  const status = document.getElementById("upload-status");

  function refresh() { document.body.dispatchEvent(new Event("docs-changed")); }

  async function poll(url) {
    for (;;) {
      const r = await fetch(url);
      const data = await r.json();
      if (!r.ok) { status.textContent = data.error.message; return; }
      const job = data.jobs[0];
      status.textContent = "Ingest: " + job.status + (job.result_status ? " (" + job.result_status + ")" : "");
      if (data.finished) {
        if (job.status === "failed") status.textContent = "Ingest failed: " + job.error.message;
        else status.textContent = "Ingested " + job.file + ": " + job.result_status + ", " + job.chunks + " chunks.";
        refresh();
        return;
      }
      await new Promise((res) => setTimeout(res, 700));
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const fd = new FormData();
    const file = document.getElementById("file").files[0];
    if (!file) return;
    fd.append("file", file);
    fd.append("collection", document.getElementById("collection").value);
    fd.append("acl", document.getElementById("acl").value);
    fd.append("classification", document.getElementById("classification").value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]').content);
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) bar.value = Math.round((100 * ev.loaded) / ev.total);
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) {
        bar.value = 100;
        status.textContent = "Uploaded; ingesting…";
        poll(data.status_url);
      } else {
        status.textContent = "Upload failed: " + ((data.error && data.error.message) || xhr.statusText);
      }
    });
    xhr.addEventListener("error", () => { status.textContent = "Upload failed: network error"; });
    status.textContent = "Uploading…";
    xhr.send(fd);
  });
})();
