package report

// pageHTML is the whole page: styles, SVG and script inline, no network.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{{.Title}}</title>
<style>
:root{--bg:#fff;--fg:#1b1f24;--mute:#57606a;--line:#d0d7de;--op:#4c78a8;--st:#9ecae9;--other:#bab0ac;--owned:#e45756;--shared:#f2b447;--hl:#ffd33d}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8b949e;--line:#30363d;--op:#3b6ea0;--st:#2f5f86;--other:#6e6a66;--owned:#c2413f;--shared:#b98a2e;--hl:#d29922}}
body{margin:0 auto;max-width:1280px;padding:16px;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:18px;word-break:break-all}h2{font-size:16px;margin-top:28px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:var(--mute)}dd{margin:0}
svg{max-width:100%;height:auto;border:1px solid var(--line)}
.op{fill:var(--op);stroke:var(--bg);stroke-width:1.5}.state{fill:var(--st);stroke:var(--bg);stroke-width:.5}.other{fill:var(--other);stroke:var(--bg)}
rect:focus,circle:focus{outline:none;stroke:var(--hl);stroke-width:3}
.owned{fill:var(--owned)}.shared{fill:var(--shared)}.node{fill:var(--op);stroke:var(--bg)}.folder{fill:var(--shared);stroke:var(--bg)}.edge{stroke:var(--mute);stroke-width:1;opacity:.6}
table{border-collapse:collapse;width:100%;margin-top:6px}th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{cursor:pointer;user-select:none;color:var(--mute)}th:focus{outline:2px solid var(--hl)}td[title]{text-decoration:underline dotted}
text.label{font-size:11px;fill:var(--fg);pointer-events:none}
.note{color:var(--owned)}.verdict{font-weight:600}.muted{color:var(--mute)}
</style></head><body>
<h1>{{.Subject}}</h1>
<dl>{{range .Summary}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{with .Compat}}<h2>Restore on Flink {{.Target}}: <span class="verdict">{{.Verdict}}</span></h2>
<ul>{{range .Findings}}<li><b>{{.Severity}}</b> {{.Rule}}: {{.Message}} <span class="muted">({{.Source}})</span></li>{{end}}</ul>
{{if .Steps}}<ol>{{range .Steps}}<li>{{.}}</li>{{end}}</ol>{{end}}{{end}}
{{if .Tiles}}<h2>Bytes by operator and state <span class="muted">(click or Enter to zoom into an operator; Escape to zoom out)</span></h2>
<svg id="treemap" viewBox="0 0 {{f .W}} {{f .H}}" data-w="{{f .W}}" data-h="{{f .H}}" role="img" aria-label="treemap of state bytes">
{{range .Tiles}}<rect class="{{.Kind}}" data-kind="{{.Kind}}" data-op="{{.Op}}" data-bytes="{{.Bytes}}" data-label="{{.Label}}" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}"{{if eq .Kind "operator"}} tabindex="0"{{end}}><title>{{.Label}}: {{human .Bytes}} ({{.Bytes}} bytes)</title></rect>
{{end}}{{range .Tiles}}{{if and (gt .W 70.0) (gt .H 16.0)}}<text class="label" x="{{f .X}}" y="{{f .Y}}" dx="4" dy="{{if .Depth}}26{{else}}13{{end}}">{{.Label}}</text>{{end}}
{{end}}</svg>{{end}}
{{if .Bars}}<h2>Timeline: what each snapshot owns <span class="muted">(red, freed by deleting it)</span> and shares <span class="muted">(yellow)</span></h2>
<svg id="timeline" viewBox="0 0 {{f .BarsW}} 200" role="img" aria-label="timeline of snapshots">
{{range .Bars}}<g class="bar" data-name="{{.Name}}" data-owned="{{.Owned}}" data-shared="{{.Shared}}"><title>{{.Name}}: owns {{human .Owned}}, shares {{human .Shared}}</title><rect class="owned" x="{{f .X}}" y="{{f .YOwned}}" width="{{f .W}}" height="{{f .HOwned}}"></rect><rect class="shared" x="{{f .X}}" y="{{f .YShared}}" width="{{f .W}}" height="{{f .HShared}}"></rect></g>
{{end}}</svg>{{end}}
{{with .Graph}}<h2>Dependencies: edges join a snapshot to the snapshots whose folders hold files it uses, and to the shared folders (squares) whose files it uses</h2>
<svg id="graph" viewBox="0 0 {{f .W}} {{f .H}}" role="img" aria-label="snapshot dependency graph">
{{range .Edges}}<line class="edge" x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}"></line>
{{end}}{{range .Folders}}<rect class="folder" x="{{f .X}}" y="{{f .Y}}" width="14" height="14" transform="translate(-7,-7)" tabindex="0"><title>{{.Name}}</title></rect>
{{end}}{{range .Nodes}}<circle class="node" data-name="{{.Name}}" data-kind="{{.Kind}}" cx="{{f .X}}" cy="{{f .Y}}" r="8" tabindex="0"><title>{{.Name}} ({{.Kind}}), {{human .Bytes}}</title></circle>
{{end}}</svg>{{end}}
{{range .Tables}}<h2>{{.Title}}</h2>
<table id="{{.ID}}"><thead><tr>{{range .Head}}<th tabindex="0" aria-sort="none">{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td data-sort="{{.Sort}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table>{{if .More}}<p class="muted">and {{.More}} more rows (fsnap's JSON outputs list them all)</p>{{end}}
{{end}}
<p class="muted">made by fsnap at {{.Made}}</p>
<script>
(function(){
  // Sortable tables: click or Enter on a header; numbers sort by their zero-padded data-sort.
  document.querySelectorAll('table').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,i){
      var sort=function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        t.querySelectorAll('th').forEach(function(o){o.setAttribute('aria-sort','none')});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var rows=Array.prototype.slice.call(t.tBodies[0].rows);
        rows.sort(function(a,b){var x=a.cells[i].dataset.sort,y=b.cells[i].dataset.sort;return (x<y?-1:x>y?1:0)*(asc?1:-1)});
        rows.forEach(function(r){t.tBodies[0].appendChild(r)});
      };
      th.addEventListener('click',sort);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort()}});
    });
  });
  // Treemap zoom: an operator fills the view; Escape or a click on the background restores it.
  var svg=document.getElementById('treemap');
  if(!svg)return;
  var full='0 0 '+svg.dataset.w+' '+svg.dataset.h;
  var zoom=function(r){svg.setAttribute('viewBox',r.getAttribute('x')+' '+r.getAttribute('y')+' '+r.getAttribute('width')+' '+r.getAttribute('height'))};
  svg.querySelectorAll('rect').forEach(function(r){
    r.addEventListener('click',function(e){
      var op=r.dataset.kind==='operator'?r:svg.querySelector('rect[data-kind="operator"][data-op="'+r.dataset.op+'"]');
      if(op){zoom(op);e.stopPropagation()}
    });
    r.addEventListener('keydown',function(e){if(e.key==='Enter'){zoom(r)}});
  });
  document.addEventListener('keydown',function(e){if(e.key==='Escape')svg.setAttribute('viewBox',full)});
  svg.addEventListener('click',function(){svg.setAttribute('viewBox',full)});
})();
</script>
</body></html>
`
