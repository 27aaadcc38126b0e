// Every htmx request carries the page's form token, as every form does (tulou/console/csrf.py).
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.querySelector('meta[name="csrf-token"]');
  if (token) {
    event.detail.headers["X-CSRF-Token"] = token.getAttribute("content");
  }
});
