// Atrium's page glue. Pages work without it; it only adds live behaviour.
// Live events arrive over the websocket (htmx ws extension, see base.html) as
// HTML fragments with hx-swap-oob; toasts pushed into #toasts are shown here.
function showToasts() {
  document.querySelectorAll("#toasts .toast:not(.show)").forEach(function (el) {
    bootstrap.Toast.getOrCreateInstance(el).show();
  });
}
document.addEventListener("htmx:wsAfterMessage", showToasts);
// Error partials of htmx requests are retargeted to #toasts (apps.core.middleware).
document.addEventListener("htmx:afterSettle", showToasts);
