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
// Copy buttons: <button data-copy="#id"> copies that field's value (the ssh command on a machine's page).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done);
  } else {
    field.select();
    document.execCommand("copy");  // plain http: the older way
    done();
  }
});
// Live panels (the machine page's attachments, the Volumes and External IPs rows) are re-rendered
// as they change; a choice the person has made in a form there survives it (if still offered).
var keptFields = {};
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  var target = event.detail.target || event.target;
  target.querySelectorAll("select[id], input[id]:not([type=hidden])").forEach(function (field) {
    var option = field.tagName === "SELECT" ? field.options[field.selectedIndex] : null;
    var changed = field.tagName === "SELECT" ? option && !option.defaultSelected : field.value !== field.defaultValue;
    if (changed) keptFields[field.id] = field.value;
  });
});
document.addEventListener("htmx:oobAfterSwap", function () {
  Object.keys(keptFields).forEach(function (id) {
    var field = document.getElementById(id);
    var offered = field && (field.tagName !== "SELECT" || Array.prototype.some.call(field.options, function (o) {
      return o.value === keptFields[id];
    }));
    if (offered) field.value = keptFields[id];
  });
  keptFields = {};
});
