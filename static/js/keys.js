// Settings pages (CSP-safe: no inline handlers): copy a new secret, confirm revocations, and show the provider
// key form's fields for the chosen provider (the server checks the parts anyway).
(function () {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    const status = button.parentElement.querySelector("[data-copy-status]");
    if (!field) return;
    try {
      await navigator.clipboard.writeText(field.value);
      if (status) status.textContent = "Copied.";
    } catch (error) {
      // No clipboard API (plain http on another host than localhost): select it for Ctrl+C instead.
      field.focus();
      field.select();
      if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  });

  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  const form = document.getElementById("new-provider-key");
  if (!form) return;
  const multiPart = (form.dataset.multiPart || "").split(",").filter(Boolean);
  const provider = form.querySelector("[name=provider]");

  function showParts() {
    const multi = multiPart.includes(provider.value);
    form.querySelectorAll("[data-parts]").forEach((group) => {
      const shown = (group.dataset.parts === "multi") === multi;
      group.hidden = !shown;
      // Disabled inputs are not sent, so a hidden part never reaches the server.
      group.querySelectorAll("input").forEach((input) => { input.disabled = !shown; });
    });
  }
  provider.addEventListener("change", showParts);
  showParts();
})();
