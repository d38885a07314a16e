// The what-if page: runs the what-if in the address bar and shows progress, then the results.
// Served by `vaxdrill ui` itself; nothing is loaded from the network.
"use strict";
(function () {
  const body = document.body;
  const bar = document.getElementById("bar");
  const text = document.getElementById("progress-text");
  const progress = document.getElementById("progress");
  const result = document.getElementById("result");
  const failure = document.getElementById("run-error");
  const form = document.getElementById("whatif");

  // Empty fields keep the scenario as written: leave them out of the address.
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim() !== "") params.append(key, String(value).trim());
    }
    location.search = params.toString();
  });
  // Another scenario has other sites and stations: start from it as written.
  document.getElementById("scenario-pick").addEventListener("change", function (event) {
    location.search = new URLSearchParams({ scenario: event.target.value }).toString();
  });
  document.getElementById("own-file").addEventListener("change", function (event) {
    if (event.target.value.trim()) location.search = new URLSearchParams({ scenario: event.target.value.trim() }).toString();
  });

  function show(message) {
    if ("done" in message) {
      bar.max = message.total;
      bar.value = message.done;
      text.textContent = message.done + " of " + message.total + " replications";
    } else if ("html" in message) {
      result.innerHTML = message.html;
      progress.hidden = true;
      body.dataset.state = "done";
    } else if ("error" in message) {
      failure.textContent = message.error;
      failure.hidden = false;
      progress.hidden = true;
      body.dataset.state = "error";
    }
  }

  async function run() {
    body.dataset.state = "running";
    progress.hidden = false;
    const response = await fetch("/run" + location.search);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = pending.indexOf("\n")) >= 0) {
        show(JSON.parse(pending.slice(0, cut)));
        pending = pending.slice(cut + 1);
      }
    }
    if (body.dataset.state === "running") show({ error: "the run stopped before its results arrived" });
  }
  if (!document.getElementById("page-error")) {
    run().catch(function (err) { show({ error: String(err) }); });
  }
})();
