/** The web admin's one stylesheet (served as /assets/admin.css; no inline styles anywhere: the CSP forbids them). */
export const ADMIN_CSS = String.raw`
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:15px;line-height:1.45;color:#1b1f24;background:#f6f7f9}
body{margin:0}
a{color:#0b57b0}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,.scroll:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
header.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;padding:.5rem 1rem;background:#14213d;color:#fff}
header.top a.brand{color:#fff;font-weight:700;text-decoration:none;font-size:1.1rem}
header.top .user{display:flex;align-items:center;gap:.75rem}
header.top .role{color:#d5dcf0}
header.top button.link{background:none;border:1px solid #c7d0e8;color:#fff;padding:.2rem .6rem;border-radius:4px;cursor:pointer}
nav[aria-label=Main]{background:#fff;border-bottom:1px solid #d8dde5}
nav[aria-label=Main] ul{list-style:none;margin:0;padding:0 .5rem;display:flex;flex-wrap:wrap}
nav[aria-label=Main] a{display:block;padding:.55rem .7rem;text-decoration:none;color:#1b1f24}
nav[aria-label=Main] a[aria-current=page]{font-weight:700;border-bottom:3px solid #0b57b0}
main{padding:1rem;max-width:1200px}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.2rem;margin:1.4rem 0 .6rem}
h3{font-size:1.05rem;margin:1rem 0 .4rem}
.flash{border-radius:6px;padding:.6rem .9rem;margin:0 0 1rem;border:1px solid}
.flash p{margin:0}
.flash.ok{background:#e7f5ea;border-color:#3c8c4f}
.flash.error{background:#fdecea;border-color:#b3261e}
.flash pre,pre.output{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #d8dde5;border-radius:4px;padding:.5rem;margin:.5rem 0 0;max-height:24rem;overflow:auto}
p.error{color:#8c1d18}
.scroll{overflow-x:auto;max-width:100%;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;background:#fff}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid #e2e6ec;padding:.4rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:999px;font-size:.85rem;border:1px solid}
.badge.good{background:#e7f5ea;border-color:#3c8c4f;color:#1e5a2d}
.badge.bad{background:#fdecea;border-color:#b3261e;color:#8c1d18}
.badge.warn{background:#fff4e0;border-color:#a86400;color:#6b3f00}
.badge.info{background:#eaf1fb;border-color:#0b57b0;color:#0b4a94}
form.inline{display:inline-block;margin:0 .25rem .25rem 0}
button{font:inherit;padding:.35rem .8rem;border-radius:4px;border:1px solid #0b57b0;background:#0b57b0;color:#fff;cursor:pointer}
button.danger{background:#b3261e;border-color:#b3261e}
button.secondary{background:#fff;color:#0b57b0}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
.hint{font-weight:400;color:#4a5462;font-size:.9rem}
input[type=text],input[type=password],input[type=number],input[type=search],select,textarea{font:inherit;width:100%;max-width:32rem;padding:.35rem .5rem;border:1px solid #8a94a3;border-radius:4px;background:#fff}
textarea{min-height:6rem;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
fieldset{border:1px solid #d8dde5;border-radius:6px;margin:.5rem 0 1rem;padding:.5rem .9rem 1rem;background:#fff}
legend{font-weight:600;padding:0 .3rem}
.login{max-width:24rem;background:#fff;border:1px solid #d8dde5;border-radius:8px;padding:1rem 1.2rem}
.login button{margin-top:1rem}
.pager{display:flex;gap:1rem;margin:.5rem 0 1rem}
.empty{color:#4a5462}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem}
.card{background:#fff;border:1px solid #d8dde5;border-radius:8px;padding:.8rem 1rem}
.chart{background:#fff;border:1px solid #d8dde5;border-radius:8px;padding:.5rem;margin:0 0 1rem;min-height:220px;overflow:hidden}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0 0 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;word-break:break-word}
details{margin:.5rem 0}
summary{cursor:pointer;color:#0b57b0}
form[role=search],form[aria-label=Cluster]{margin:0 1rem .75rem 0}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:600px){main{padding:.6rem}h1{font-size:1.3rem}nav[aria-label=Main] a{padding:.45rem .5rem}}
`;
