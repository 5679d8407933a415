/**
 * The console's HTML shell and style sheet, served by the gateway at /ui. Kept
 * as strings so the package's one `tsc` build ships them (no copy step, no CDN);
 * the scripts are the compiled src/console/web modules. Nothing here is inline
 * script or inline style: the Content-Security-Policy forbids both.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>OACP console</title>
<link rel="stylesheet" href="/ui/console.css">
<script type="module" src="/ui/console/web/main.js"></script>
</head>
<body>
<oacp-console><p class="boot">Loading the OACP console… (it needs JavaScript modules)</p></oacp-console>
</body>
</html>
`;

/** Strict: only this origin's scripts, styles and API; no inline code, no frames, no plugins. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_CSS = `:root {
  --bg: #f7f8fa; --panel: #ffffff; --ink: #1b1f24; --muted: #4a5360; --line: #c9d0d9;
  --accent: #0b57d0; --ok: #0f6b2f; --bad: #a4161a; --warn: #7a4d00; --focus: #ffbf47;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .5rem 1rem; background: #14213d; color: #fff; }
header.top h1 { font-size: 1.1rem; margin: 0; }
header.top nav { display: flex; gap: .25rem; flex-wrap: wrap; }
header.top nav a { color: #fff; text-decoration: none; padding: .35rem .7rem; border-radius: 4px; }
header.top nav a[aria-current="page"] { background: #fff; color: #14213d; font-weight: 600; }
header.top .who { margin-left: auto; display: flex; gap: .5rem; align-items: center; font-size: .9rem; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 1.25rem; margin: .25rem 0 .75rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .5rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
form.login { max-width: 28rem; margin: 4rem auto; display: grid; gap: .75rem; }
label { font-weight: 600; font-size: .9rem; display: grid; gap: .2rem; }
input, select, textarea, button { font: inherit; }
input, select, textarea { padding: .35rem .5rem; border: 1px solid #6b7684; border-radius: 4px; background: #fff; color: var(--ink); }
button { padding: .4rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
button:disabled { opacity: .6; cursor: default; }
.filters { display: flex; gap: .75rem; flex-wrap: wrap; align-items: end; margin-bottom: .75rem; }
.split { display: grid; grid-template-columns: minmax(0, 1.4fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
@media (max-width: 1000px) { .split { grid-template-columns: 1fr; } }
.status { color: var(--muted); font-size: .9rem; margin: .25rem 0; min-height: 1.3em; }
.error { color: var(--bad); font-weight: 600; }
.vlist { height: 65vh; overflow-y: auto; position: relative; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); }
.vlist .spacer { position: relative; }
.vrow { position: absolute; left: 0; right: 0; height: 34px; display: grid; grid-template-columns: 5rem 11.5rem minmax(0, 1.2fr) minmax(0, 1fr) 4.5rem 5rem; gap: .5rem; align-items: center; padding: 0 .6rem; border-bottom: 1px solid #e6e9ee; cursor: pointer; white-space: nowrap; }
.vrow > span { overflow: hidden; text-overflow: ellipsis; }
.vrow:hover, .vrow[aria-selected="true"] { background: #e8f0fe; }
.vhead { display: grid; grid-template-columns: 5rem 11.5rem minmax(0, 1.2fr) minmax(0, 1fr) 4.5rem 5rem; gap: .5rem; padding: .3rem .6rem; font-weight: 600; font-size: .85rem; color: var(--muted); }
.allow { color: var(--ok); font-weight: 600; }
.deny { color: var(--bad); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .3rem .9rem; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85rem; }
ol.checks { list-style: none; padding: 0; margin: .5rem 0; }
ol.checks li { padding: .25rem .4rem; border-left: 4px solid var(--line); margin: .2rem 0; background: #fafbfc; overflow-wrap: anywhere; }
ol.checks li.pass { border-color: var(--ok); }
ol.checks li.fail { border-color: var(--bad); background: #fdecec; }
.verdict { font-weight: 700; font-size: 1.05rem; }
.verdict.pass { color: var(--ok); }
.verdict.fail { color: var(--bad); }
table.grid { border-collapse: collapse; width: 100%; background: var(--panel); }
table.grid th, table.grid td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.grid th { color: var(--muted); font-size: .85rem; }
ul.tree { list-style: none; padding-left: 1.1rem; margin: .2rem 0; }
ul.tree li::before { content: "└ "; color: var(--muted); }
ul.tree.root { padding-left: 0; }
ul.tree.root > li::before { content: ""; }
.tree button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0; }
pre.json { background: #f3f4f6; padding: .5rem; border-radius: 4px; overflow: auto; max-height: 18rem; }
svg.spark { width: 100%; height: 120px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 2; }
.boot { padding: 2rem; }
article.panel { margin-bottom: 1rem; }
article.panel input[name="reason"] { width: 100%; max-width: 40rem; display: block; margin: .25rem 0 .5rem; }
svg.spark text { font-size: 12px; fill: var(--muted); }
`;
