// The page's entry: one shell for every address; the path says which view to build.

import { backtestView } from "./backtest_view.js";
import { compareView } from "./compare_view.js";
import { el, replace } from "./dom.js";
import { operationView } from "./operation_view.js";
import { operationsView } from "./operations_view.js";
import { resultsView } from "./results_view.js";

function route(path) {
  const match = (prefix) => (path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)) : null);
  const operation = match("/operations/");
  const backtest = match("/backtests/");
  if (path === "/" || path === "") return ["operations", (main) => operationsView(main)];
  if (path === "/results") return ["results", (main) => resultsView(main)];
  if (path === "/compare") return ["results", (main) => compareView(main)];
  if (operation) return ["operations", (main) => operationView(main, operation)];
  if (backtest) return ["results", (main) => backtestView(main, backtest)];
  return [null, (main) => replace(main, el("h1", { text: "Not found" }), el("p", {}, el("a", { href: "/", text: "Operations" })))];
}

const [section, build] = route(window.location.pathname);
for (const link of document.querySelectorAll("[data-nav]")) {
  if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
}
build(document.getElementById("main"));
