// Generation pages (CSP-safe: no inline script): the playground's model-dependent inputs, live progress on a
// generation's page, and a question before a delete. The server checks every request anyway.
(function () {
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // --- the playground: offer what the chosen model makes, and estimate its cost ----------------------------
  const form = document.getElementById("generate");
  if (form) {
    const models = JSON.parse(form.dataset.models);
    const input = (name) => form.querySelector(`[name="${name}"]`);
    const field = (name) => form.querySelector(`[data-field="${name}"]`);
    const chosen = () => models[input("model").value];

    function offer(name, values, preferred, empty) {
      const select = input(name);
      const previous = select.value;
      const options = values.map(String);
      select.replaceChildren();
      if (!options.length) select.append(new Option(empty, ""));
      options.forEach((value) => select.append(new Option(value, value)));
      const kept = [previous, String(preferred)].find((value) => options.includes(value));
      select.value = kept !== undefined ? kept : (options[0] || "");
    }

    function estimate() {
      const model = chosen();
      if (!model) return;
      const seconds = Number(input("duration").value) || model.default_duration;
      const price = model.price_per_second;
      field("estimate").textContent = `${(price * seconds).toFixed(2)} USD (${seconds} s × ${price} USD/s)`;
    }

    function modelChanged() {
      const model = chosen();
      if (!model) return;
      offer("duration", model.durations, model.default_duration);
      offer("aspect_ratio", model.aspect_ratios, "16:9");
      offer("resolution", model.resolutions, model.resolutions[0], "Provider decides");
      const image = input("image");
      image.disabled = model.image === "none";  // a disabled select is not sent
      if (image.disabled) image.value = "";
      field("image-hint").textContent = model.image_hint;
      estimate();
    }

    input("model").addEventListener("change", modelChanged);
    input("duration").addEventListener("change", estimate);
  }

  // --- a generation's page: follow its job over /ws/jobs/<id>/ (session auth), reload once it ends -------------
  const root = document.getElementById("job");
  if (!root) return;
  const names = JSON.parse(root.dataset.statusNames);
  const part = (name) => root.querySelector(`[data-field="${name}"]`);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ended = ["succeeded", "failed", "cancelled"];
  let finished = ended.includes(root.dataset.status);
  if (finished) return;

  function render(job) {
    part("status").textContent = names[job.status] || job.status;
    part("status").className = `status ${job.status}`;
    part("stage").textContent = job.stage || "";
    part("progress").value = job.progress;
    part("percent").textContent = `${Math.floor(job.progress)}%`;
    part("eta").textContent = job.eta_seconds != null && job.status === "running" ? `about ${Math.ceil(job.eta_seconds)} s left` : "";
    part("error").textContent = job.error ? job.error.message : "";
    if (ended.includes(job.status) && !finished) {
      finished = true;
      setTimeout(() => location.reload(), 300);
    }
  }

  function connect() {
    const socket = new WebSocket(`${scheme}://${location.host}/ws/jobs/${root.dataset.jobId}/`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "job.update") render(message.job);
    };
    socket.onclose = () => { if (!finished) setTimeout(connect, 1000); };
  }
  connect();
})();
