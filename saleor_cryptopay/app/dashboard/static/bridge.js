// The Dashboard side of the page: Saleor's AppBridge protocol (@saleor/app-sdk,
// app-bridge) by hand, so the wheel needs no bundler. The Dashboard loads the
// App in an iframe with ?saleorApiUrl&id&theme&locale, the App posts
// {type:"notifyReady"}, the Dashboard answers {type:"handshake",payload:{token}}
// (and later "tokenRefresh", "theme", "localeChanged"). Messages count only
// from the page that framed us (document.referrer's origin), as AppBridge does.
// The token stays in this variable and goes out only in the Authorization
// header of requests to the App's own origin.
(function () {
  "use strict";
  var root = document.getElementById("cryptopay");
  var params = new URLSearchParams(window.location.search);
  var parentOrigin = document.referrer ? new URL(document.referrer).origin : null;
  var token = null;
  var current = { page: root.dataset.start, query: "" };

  function actionId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function dispatch(type, payload) {
    payload = Object.assign({ actionId: actionId() }, payload || {});
    window.parent.postMessage({ type: type, payload: payload }, parentOrigin || "*");
  }

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme === "light" ? "light" : "dark";
  }

  function contextQuery() {
    // what an extension was opened with (orderId, …) travels to the page
    var keep = new URLSearchParams();
    params.forEach(function (value, key) {
      if (["saleorApiUrl", "id", "theme", "locale", "domain"].indexOf(key) < 0) {
        keep.append(key, value);
      }
    });
    return keep.toString();
  }

  function headers() {
    return {
      Authorization: "Bearer " + token,
      "Saleor-Api-Url": params.get("saleorApiUrl") || "",
    };
  }

  function show(response) {
    return response.text().then(function (html) {
      root.innerHTML = html;
      root.dataset.status = String(response.status);
      var note = root.querySelector("[data-notify]");
      if (note) {
        dispatch("notification", {
          status: note.dataset.notify,
          title: "CryptoPay",
          text: note.textContent,
        });
      }
    });
  }

  function load(page, query) {
    current = { page: page, query: query || "" };
    var url = root.dataset.base + "/dashboard/page/" + page + (query ? "?" + query : "");
    return fetch(url, { headers: headers(), credentials: "omit" }).then(show);
  }

  function submit(form, submitter) {
    var body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    var url = root.dataset.base + "/dashboard/action/" + form.dataset.action;
    if (current.query) url += "?" + current.query;
    return fetch(url, { method: "POST", body: body, headers: headers(), credentials: "omit" })
      .then(show);
  }

  root.addEventListener("click", function (event) {
    var link = event.target.closest("[data-page]");
    if (link && token) {
      event.preventDefault();
      load(link.dataset.page, link.dataset.query || "");
    }
    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      event.preventDefault();
      navigator.clipboard.writeText(copy.dataset.copy);
    }
  });

  root.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    if (token) submit(form, event.submitter);
  });

  window.addEventListener("message", function (event) {
    if (!parentOrigin || event.origin !== parentOrigin || !event.data) return;
    var type = event.data.type;
    var payload = event.data.payload || {};
    if (type === "handshake" || type === "tokenRefresh") {
      var first = token === null;
      token = payload.token || null;
      if (token && first) load(current.page, contextQuery());
    } else if (type === "theme") {
      setTheme(payload.theme);
    }
  });

  if (window.parent === window) {
    root.innerHTML =
      "<p class='refused'>Open CryptoPay from the Saleor Dashboard: Apps → CryptoPay.</p>";
    return;
  }
  setTheme(params.get("theme"));
  dispatch("notifyReady", {});
})();
