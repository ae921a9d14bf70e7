// The case page's sections as tabs: one shown at a time, the choice kept in the address (?tab=) so a
// reload or a shared link opens the same section; arrow keys, Home and End move between tabs. The server
// renders only the shown section: another one (marked data-tab-pending) is fetched from its tab's link the
// first time it is chosen. Without this script each tab is a link to the page with that section shown.
(function () {
  "use strict";

  function setup(list) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));

    function panelOf(tab) { return document.getElementById(tab.getAttribute("aria-controls")); }

    // The section from the page its tab links to; on any failure the browser simply follows the link.
    function load(tab, panel) {
      panel.removeAttribute("data-tab-pending");
      panel.setAttribute("aria-busy", "true");
      fetch(tab.href, {credentials: "same-origin", headers: {Accept: "text/html"}})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          var fetched = new DOMParser().parseFromString(html, "text/html").getElementById(panel.id);
          if (!fetched) { throw new Error("no section"); }
          panel.innerHTML = fetched.innerHTML;
          panel.removeAttribute("aria-busy");
          keepPagerOnTab(panel, tab.getAttribute("data-tab"));
          window.dispatchEvent(new Event("resize"));  // wide tables get their scroll box
        })
        .catch(function () { window.location.assign(tab.href); });
    }

    function keepPagerOnTab(panel, name) {  // page links inside the section (the history's pager) stay on it
      panel.querySelectorAll(".pager a[href]").forEach(function (link) {
        var target = new URL(link.href);
        target.searchParams.set("tab", name);
        link.href = target.toString();
      });
    }

    function select(tab, focus) {
      var name = tab.getAttribute("data-tab");
      tabs.forEach(function (other) {
        var on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        other.tabIndex = on ? 0 : -1;
        var panel = panelOf(other);
        if (panel) { panel.hidden = !on; }
      });
      var shown = panelOf(tab);
      if (shown && shown.hasAttribute("data-tab-pending")) { load(tab, shown); }
      else if (shown) { keepPagerOnTab(shown, name); }
      if (focus) { tab.focus(); }
      var url = new URL(window.location.href);
      url.searchParams.set("tab", name);
      url.hash = "";
      window.history.replaceState(null, "", url.toString());
      window.dispatchEvent(new Event("resize"));  // a diagram drawn while hidden fits its box again
    }

    // One tab stop for the whole list; the arrows move within it.
    tabs.forEach(function (tab) { tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1; });

    list.addEventListener("click", function (event) {
      var tab = event.target.closest("[role=tab]");
      if (!tab || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
      event.preventDefault();
      select(tab, false);
    });

    list.addEventListener("keydown", function (event) {
      var index = tabs.indexOf(document.activeElement);
      if (index < 0) { return; }
      var rtl = window.getComputedStyle(list).direction === "rtl";
      var forward = rtl ? "ArrowLeft" : "ArrowRight";
      var backward = rtl ? "ArrowRight" : "ArrowLeft";
      var target = null;
      if (event.key === forward) { target = tabs[(index + 1) % tabs.length]; }
      else if (event.key === backward) { target = tabs[(index - 1 + tabs.length) % tabs.length]; }
      else if (event.key === "Home") { target = tabs[0]; }
      else if (event.key === "End") { target = tabs[tabs.length - 1]; }
      else if (event.key === " ") { target = tabs[index]; }
      if (target) {
        event.preventDefault();
        select(target, true);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-tabs]").forEach(setup);
  });
}());
