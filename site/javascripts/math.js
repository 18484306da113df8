// Math on the course site, drawn by KaTeX served from the site itself (no CDN): on pages, the
// \( \) and \[ \] that pymdownx.arithmatex leaves in .arithmatex elements; in chapters, $ $ and
// $$ $$ in markdown cells, as JupyterLab reads them. KaTeX is fetched only by a page with math.
// It is loaded as ES modules, so a page that also loads require.js (for widgets) is not upset.

const katexDir = new URL("../assets/vendor/katex/", import.meta.url);
const PAGE = [{ left: "\\[", right: "\\]", display: true }, { left: "\\(", right: "\\)", display: false }];
const NOTEBOOK = [{ left: "$$", right: "$$", display: true }, { left: "$", right: "$", display: false },
  ...PAGE];

const targets = [...document.querySelectorAll(".arithmatex, .jp-MarkdownOutput")]
  .filter((el) => el.classList.contains("arithmatex") || /\$|\\\(|\\\[/.test(el.textContent));

if (targets.length) {
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("katex.min.css", katexDir).href;
  document.head.appendChild(css);
  const { default: renderMathInElement } = await import(new URL("contrib/auto-render.mjs", katexDir).href);
  for (const el of targets) {
    renderMathInElement(el, {
      delimiters: el.classList.contains("arithmatex") ? PAGE : NOTEBOOK,
      throwOnError: false,
    });
  }
  document.body.dataset.math = String(document.querySelectorAll(".katex").length);
}
