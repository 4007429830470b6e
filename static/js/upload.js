// Upload many files or a folder with one progress bar and a line per file.
// Files go in requests of at most CHUNK files and of at most the server's request
// size limit (data-max-request-bytes, less room for the form's own bytes); the
// first request's batch takes the rest.
(function () {
  "use strict";
  const CHUNK = 50;
  const OVERHEAD = 1024 * 1024;

  // Consecutive groups of files, each within CHUNK files and maxBytes (a file larger than
  // maxBytes goes alone, and the server says why it refuses it).
  function chunks(files, maxBytes) {
    const groups = [];
    let group = [];
    let bytes = 0;
    files.forEach((f) => {
      if (group.length && (group.length >= CHUNK || (maxBytes > 0 && bytes + f.size > maxBytes))) {
        groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(f);
      bytes += f.size + 512;
    });
    if (group.length) groups.push(group);
    return groups;
  }
  const IMAGE = /\.(jpe?g|png|webp|bmp|tiff?|gif)$/i;

  function ready(form) {
    let files = [];
    const chosen = form.querySelector("[data-chosen]");
    const zone = form.querySelector("[data-dropzone]");

    function setFiles(list) {
      files = list.filter((f) => f.size > 0 || IMAGE.test(f.name));
      chosen.textContent = files.length + " file" + (files.length === 1 ? "" : "s") + " ready to upload.";
    }

    form.querySelectorAll('input[type="file"]').forEach((input) =>
      input.addEventListener("change", () => setFiles(Array.from(input.files).filter((f) => !input.hasAttribute("data-folder") || IMAGE.test(f.name))))
    );

    ["dragenter", "dragover"].forEach((type) =>
      zone.addEventListener(type, (evt) => { evt.preventDefault(); zone.classList.add("over"); })
    );
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
    zone.addEventListener("drop", async (evt) => {
      evt.preventDefault();
      const entries = Array.from(evt.dataTransfer.items || [])
        .map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry())
        .filter(Boolean);
      if (entries.length) setFiles((await Promise.all(entries.map(walk))).flat());
      else setFiles(Array.from(evt.dataTransfer.files));
    });

    form.addEventListener("submit", (evt) => {
      if (!files.length) return; // nothing picked through JS: let the browser post the form
      evt.preventDefault();
      send(form, files);
    });
  }

  function walk(entry) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((file) => resolve(IMAGE.test(file.name) ? [file] : [file]), () => resolve([]));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () =>
          reader.readEntries(async (batch) => {
            if (!batch.length) return resolve((await Promise.all(all.map(walk))).flat());
            all.push(...batch);
            next();
          }, () => resolve([]));
        next();
      } else resolve([]);
    });
  }

  async function send(form, files) {
    const progress = form.querySelector("[data-progress]");
    const bar = progress.querySelector(".progress");
    const text = progress.querySelector("[data-progress-text]");
    const results = document.querySelector("[data-results]");
    const rows = results.querySelector("[data-rows]");
    const button = form.querySelector('button[type="submit"]');
    const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
    const counts = { landed: 0, duplicate: 0, rejected: 0 };
    let sentBefore = 0;
    let batch = null;
    progress.hidden = false;
    results.hidden = false;
    rows.textContent = "";
    button.disabled = true;

    const limit = Number(form.dataset.maxRequestBytes) || 0;
    let start = 0;
    for (const chunk of chunks(files, limit > OVERHEAD ? limit - OVERHEAD : limit)) {
      const data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      data.append("name", form.querySelector("[name=name]").value);
      if (batch) data.append("batch", batch.id);
      chunk.forEach((f) => data.append("files", f, f.webkitRelativePath || f.name));
      const chunkBytes = chunk.reduce((sum, f) => sum + f.size, 0);
      let body;
      try {
        body = await request(form.action || window.location.href, data, (loaded) => {
          show(bar, text, Math.min(1, (sentBefore + Math.min(loaded, chunkBytes)) / total), start + chunk.length, files.length);
        });
      } catch (message) {
        chunk.forEach((f) => addRow(rows, f.name, "rejected", message));
        counts.rejected += chunk.length;
        sentBefore += chunkBytes;
        start += chunk.length;
        continue;
      }
      sentBefore += chunkBytes;
      start += chunk.length;
      if (body.batch && !batch) batch = body.batch;
      (body.files || []).forEach((f) => {
        counts[f.status] = (counts[f.status] || 0) + 1;
        addRow(rows, f.filename, f.status, f.reason);
      });
    }
    show(bar, text, 1, files.length, files.length);
    const summary = results.querySelector("[data-summary]");
    summary.textContent = "";
    if (batch) {
      summary.append(counts.landed + " image" + (counts.landed === 1 ? "" : "s") + " landed in ");
      const link = document.createElement("a");
      // The batch's page: data-batch-url is batch 0's, ending in "/0/".
      link.href = form.dataset.batchUrl.replace(/\/0\/$/, "/" + batch.id + "/");
      link.textContent = batch.name;
      summary.append(link);
    } else {
      summary.textContent = "No image landed, so no batch was created";
    }
    results.querySelector("[data-counts]").textContent =
      counts.duplicate + " duplicate" + (counts.duplicate === 1 ? "" : "s") + " skipped, " + counts.rejected + " rejected.";
    button.disabled = false;
  }

  function request(url, data, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (body && (xhr.status < 400 || xhr.status === 422)) resolve(body);
        else reject((body && body.error && body.error.message) || "The server refused this part of the upload (" + xhr.status + ").");
      });
      xhr.addEventListener("error", () => reject("The connection failed during the upload."));
      xhr.send(data);
    });
  }

  function show(bar, text, fraction, done, total) {
    const percent = Math.round(fraction * 100);
    bar.querySelector("span").style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    text.textContent = percent + "% · " + done + " of " + total + " files sent";
  }

  function addRow(rows, name, status, reason) {
    const tr = document.createElement("tr");
    tr.className = "file-" + status;
    [name, status, reason || ""].forEach((value) => {
      const td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    });
    rows.appendChild(tr);
  }

  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("form[data-upload]").forEach(ready));
})();
