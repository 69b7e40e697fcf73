// The dashboard's entry point: one Preact tree in #app.
import { render } from "preact";
import { App } from "./app.ts";
import { html } from "./lib.ts";

render(html`<${App} />`, document.getElementById("app")!);
