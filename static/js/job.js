// Live progress for the job page over /ws/jobs/<id>/ (session auth); reloads once the job finishes.
(function () {
  const root = document.getElementById("job");
  if (!root) return;
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let finished = ["succeeded", "failed", "cancelled"].includes(root.dataset.status);
  if (finished) return;

  function render(job) {
    field("status").textContent = job.status;
    field("status").className = `status ${job.status}`;
    field("stage").textContent = job.stage || "";
    field("progress").value = job.progress;
    field("percent").textContent = `${Math.floor(job.progress)}%`;
    field("eta").textContent = job.eta_seconds != null && job.status === "running" ? `about ${Math.ceil(job.eta_seconds)} s left` : "";
    field("error").textContent = job.error ? job.error.message : "";
    if (["succeeded", "failed", "cancelled"].includes(job.status) && !finished) {
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

// A transcribe job's transcript: a click on a sentence plays the input from where it is spoken, and the
// sentence being spoken is shown in bold.
(function () {
  const transcript = document.getElementById("transcript");
  if (!transcript) return;
  const player = transcript.querySelector("[data-transcript-player]");
  const sentences = Array.from(transcript.querySelectorAll("[data-start]"));
  if (!player) return;
  transcript.addEventListener("click", (event) => {
    const sentence = event.target.closest("[data-start]");
    if (!sentence) return;
    event.preventDefault();
    player.currentTime = parseFloat(sentence.dataset.start);
    player.play();
  });
  player.addEventListener("timeupdate", () => {
    const now = player.currentTime;
    for (const sentence of sentences) {
      const speaking = now >= parseFloat(sentence.dataset.start) && now < parseFloat(sentence.dataset.end);
      sentence.style.fontWeight = speaking ? "bold" : "";
    }
  });
})();
