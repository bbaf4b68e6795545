// Atrium's page glue. Pages work without it; it only adds live behaviour.
// Live events arrive over the websocket (htmx ws extension, see base.html) as
// HTML fragments with hx-swap-oob; toasts pushed into #toasts are shown here.
document.addEventListener("htmx:wsAfterMessage", function () {
  document.querySelectorAll("#toasts .toast:not(.show)").forEach(function (el) {
    bootstrap.Toast.getOrCreateInstance(el).show();
  });
});
